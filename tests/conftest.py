import os
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(Path(__file__).parent))  # for spec_reference


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def lpips_net():
    """The LPIPS network with the cached weights. CI must have them (its set-up runs `neurender weights fetch`);
    elsewhere the tests that need them are skipped with that advice."""
    from neurender.metrics.lpips import load_lpips
    from neurender.metrics.lpips_weights import weights_path

    if not weights_path().is_file():
        message = f"LPIPS weights not at {weights_path()}: run `neurender weights fetch`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return load_lpips()


@pytest.fixture(scope="session")
def tiny_renderer(tmp_path_factory) -> Path:
    """renderer.pt of a few-second 32 px field run on online easy scenes: a real checkpoint for the commands
    that use one (not a good renderer)."""
    from neurender.training.config import from_dict
    from neurender.training.loop import Trainer

    out = tmp_path_factory.mktemp("tiny-run")
    config = from_dict({"preset": "easy", "resolution": 32, "out": str(out), "model": {"arch": "field", "width": 16},
                        "schedule": {"batch": 8, "pixels_per_image": 32, "warmup_images": 32,
                                     "adversarial_images": 0, "finetune_images": 0},
                        "run": {"tick_images": 16, "val_images": 8, "threads": 1}})
    Trainer(config).run(progress=False)
    return out / "renderer.pt"


@pytest.fixture(scope="module")
def viewer(tiny_renderer):
    """A viewer server for the tiny renderer on a free loopback port: its base URL."""
    import threading

    from neurender.inference import load_renderer
    from neurender.viewer.server import serve

    server = serve(load_renderer(tiny_renderer), 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
