"""neurender: a toolkit for Phong-scene neural rendering.

The package reads as the pipeline: scene -> raster -> presets -> dataset -> models -> training -> metrics ->
report, with the command line (cli) on top. Each module imports only what lies upstream of it.
"""

__version__ = "0.1.0"
