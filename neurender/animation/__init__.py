"""Animation: paths through scene space, rendered neural beside analytic, written as GIF or MP4."""
