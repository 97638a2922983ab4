"""The scene's ten parameters in one place: their order and names (the course template's ``params.csv`` columns,
``shared/spec/scene.md``), where each group sits in a row, and the values a scene may take. Plain Python: the
command line, presets and dataset files read it without torch; ``scene`` builds the camera and the encoding on it.
"""

from __future__ import annotations

PARAM_NAMES = ("tx", "ty", "tz", "r", "g", "b", "shininess", "lx", "ly", "lz")
CSV_COLUMNS = ("frame", *PARAM_NAMES)  # a params.csv row: the frame number, then the scene
N_PARAMS = len(PARAM_NAMES)
TRANSLATION = slice(0, 3)  # sphere centre, world units
DIFFUSE = slice(3, 6)  # diffuse RGB in [0, 1]
SHININESS = 6  # Phong exponent n
LIGHT = slice(7, 10)  # point-light position, world units
POSITION_LIMIT = 1e4  # world units: ten times the far plane; larger positions overflow the shading's squares
SHININESS_LIMIT = 1e3
