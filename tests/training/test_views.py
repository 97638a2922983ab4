"""Views: what G and D train on. Crops hold exactly the reference's pixels and the pixel grid's coordinates, pixels
are drawn where the shares say, and a plug-in generator that states ``renders_crops`` trains on crops through the
config alone (the view reads nothing from a generator but its forward)."""

import sys

import numpy as np
import torch

from neurender.inference import load_renderer
from neurender.layout import N_PARAMS
from neurender.models.blocks import window_points
from neurender.presets import PRESETS
from neurender.raster import render_spheres
from neurender.sampling import sample_scenes
from neurender.scene import encode_params
from neurender.training.config import SamplingConfig, from_dict
from neurender.training.loop import Trainer
from neurender.training.schedule import Phase
from neurender.training.views import Crops, Frames, Pixels, choose

R = 32


def batch(count: int = 3):
    scenes = torch.from_numpy(sample_scenes(PRESETS["easy"], 5, np.arange(count), R))
    rgba = render_spheres(scenes, R)  # (B, R, R, 4)
    return encode_params(scenes), rgba[..., :3].permute(0, 3, 1, 2), rgba[..., 3:].permute(0, 3, 1, 2)


class Recorder(torch.nn.Module):
    """A stand-in G that returns what it was asked for, in the contract's shapes."""

    def forward(self, params, where=None, size=None):
        b = len(params)
        if where is None:
            return torch.full((b, 3, R, R), 0.5)
        self.asked = (where, size)
        pixels = where.shape[1] if size is None else size * size
        return torch.full((b, pixels, 3), 0.25), torch.ones(b, pixels)


def test_crops_hold_the_references_pixels_and_the_grids_coordinates():
    torch.manual_seed(0)
    params, image, mask = batch()
    view = Crops(SamplingConfig(crop_size=16, crops_per_image=2, silhouette_share=0.5), R)
    g = Recorder()
    step = view.rendered(g, (params, image, mask))
    origin, size = g.asked
    assert size == 16 and origin.shape == (6, 2) and step.params.shape == (6, N_PARAMS)
    assert ((origin >= 0) & (origin <= R - 16)).all()  # moved inside the frame
    for k, (row, col) in enumerate(origin.tolist()):
        scene = k // 2
        assert torch.equal(step.real[k], image[scene, :, row:row + 16, col:col + 16])
        assert torch.equal(step.target[k, :, 3].view(16, 16), mask[scene, 0, row:row + 16, col:col + 16])
        assert torch.equal(step.coords[k], window_points(origin[k:k + 1], 16, R)[0].view(16, 16, 2).permute(2, 0, 1))
    assert step.fake.shape == (6, 3, 16, 16) and torch.equal(step.fake, torch.full_like(step.fake, 0.25))
    pairs = view.pairs(g, (params, image, mask), with_fake=False)
    assert pairs.fake is None and pairs.real.shape == (6, 3, 16, 16) and pairs.coords.shape == (6, 2, 16, 16)


def test_pixels_are_drawn_as_the_shares_say_and_frames_are_whole():
    torch.manual_seed(0)
    params, image, mask = batch()
    g = Recorder()
    step = Pixels(SamplingConfig(pixels_per_image=64, silhouette_share=0.0, object_share=1.0)).rendered(
        g, (params, image, mask))
    pixels = g.asked[0]
    assert pixels.shape == (3, 64) and step.target.shape == (3, 64, 4)
    assert (mask.flatten(1).gather(1, pixels) > 0.5).all()  # every pixel on the object
    assert torch.equal(step.target[..., :3], image.flatten(2).gather(2, pixels[:, None].expand(-1, 3, -1))
                       .transpose(1, 2))
    frames = Frames().rendered(g, (params, image, mask))
    assert frames.fake.shape == image.shape and frames.mask is mask and frames.colour is None


def test_the_views_follow_the_sampling_settings_and_the_phase():
    warmup, adversarial = Phase("warmup", 8, False, 1.0, 1.0), Phase("adversarial", 8, True, 1.0, 1.0)
    pixels = choose(SamplingConfig(pixels_per_image=32), R)
    assert isinstance(pixels.for_g(warmup), Pixels) and isinstance(pixels.for_g(adversarial), Frames)
    assert isinstance(pixels.discriminator, Frames)
    crops = choose(SamplingConfig(crop_size=16), R)
    assert all(isinstance(v, Crops) for v in (crops.for_g(warmup), crops.for_g(adversarial), crops.discriminator))


PLUGIN = '''
import torch


class CropNet(torch.nn.Module):
    """A per-pixel network over the pixel grid and the scene that renders any window: no margin, no
    window_points, nothing but forward."""

    renders_crops = True

    def __init__(self, resolution: int, width: int = 16):
        super().__init__()
        self.resolution = resolution
        self.net = torch.nn.Sequential(torch.nn.Linear(12, width), torch.nn.SiLU(), torch.nn.Linear(width, 4))

    def forward(self, params, origin=None, size=None):
        whole = origin is None
        if whole:
            origin, size = torch.zeros(len(params), 2, dtype=torch.long, device=params.device), self.resolution
        span = torch.arange(size, device=params.device)
        rows, cols = origin[:, :1] + span, origin[:, 1:] + span
        grid = torch.stack([cols[:, None, :].expand(-1, size, -1), rows[:, :, None].expand(-1, -1, size)], -1)
        q = (grid.float() + 0.5) / self.resolution * 2 - 1
        x = torch.cat([q, params[:, None, None, :].expand(-1, size, size, -1)], -1)
        out = self.net(x).view(len(params), size * size, 4)
        colour, logit = out[..., :3].sigmoid(), out[..., 3]
        if not whole:
            return colour, logit
        return (colour * (logit > 0)[..., None]).view(-1, size, size, 3).permute(0, 3, 1, 2)
'''


def test_a_plug_in_that_renders_crops_trains_on_crops_against_a_crop_discriminator(tmp_path, monkeypatch):
    (tmp_path / "cropnet.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("NEURENDER_PLUGINS", "cropnet")
    config = from_dict({"preset": "easy", "resolution": R, "out": str(tmp_path / "run"),
                        "model": {"arch": "cropnet:CropNet", "d_width": 8, "d_patch": True},
                        "schedule": {"batch": 4, "warmup_images": 8, "adversarial_images": 8, "finetune_images": 0},
                        "sampling": {"crop_size": 16, "crops_per_image": 2},
                        "run": {"tick_images": 8, "val_images": 4, "threads": 1}})
    trainer = Trainer(config)
    assert trainer.d.coords  # D judges crops with their coordinate maps
    before = {k: v.clone() for k, v in trainer.g.state_dict().items()}
    trainer.run(progress=False)
    assert trainer.counters.images == 16 and any(not torch.equal(before[k], v)
                                                 for k, v in trainer.g.state_dict().items())
    images = load_renderer(tmp_path / "run" / "renderer.pt").render(sample_scenes(PRESETS["easy"], 1, np.arange(2), R))
    assert images.shape == (2, R, R, 3) and np.isfinite(images).all()
    sys.modules.pop("cropnet", None)
