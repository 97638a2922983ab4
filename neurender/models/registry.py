"""The generators by name, readable without torch (``neurender.registry``): ``--arch`` and ``model.arch`` name one
of these or a plug-in class ``package.module:Class``. What a generator must provide, and the capabilities it
states on its class, are in ``models.generators`` (the contract) and docs/generators.md."""

from __future__ import annotations

from neurender.registry import Registry

# the course report's four networks, and each with coordinate channels (models/report.py)
REPORT_NAMES = tuple(f"{base}{suffix}" for suffix in ("", "_coord")
                     for base in ("upsample", "deconv", "hybrid", "cspup"))
GENERATORS = Registry("generator", "--arch", "torch.nn:Module", "docs/generators.md", {
    **{name: f"neurender.models.report:{name}" for name in REPORT_NAMES},
    "coord": "neurender.models.report:CoordGenerator",
    "field": "neurender.models.field:field",
    "phong_field": "neurender.models.field:phong_field",
    "conv_field": "neurender.models.conv_field:conv_field",
    "window": "neurender.models.window:window",
})
