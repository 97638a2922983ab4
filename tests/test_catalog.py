from neurender.catalog import GENERATOR_NAMES, METRIC_NAMES, PRESET_NAMES
from neurender.metrics.registry import METRICS
from neurender.models.generators import GENERATORS
from neurender.presets import PRESETS


def test_the_catalog_names_exactly_what_each_registry_holds():
    assert tuple(PRESETS) == PRESET_NAMES
    assert tuple(GENERATORS) == GENERATOR_NAMES
    assert tuple(METRICS) == METRIC_NAMES
