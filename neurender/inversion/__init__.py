"""Inverse rendering: recover the scene parameters that made an image, through a differentiable renderer."""
