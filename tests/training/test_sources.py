"""Online data, the neural field generator, sampled-pixel training and the cosine schedule."""

import json
import math

import numpy as np
import pytest
import torch
from cli_helpers import assert_user_error, run

from neurender.errors import NeurenderError
from neurender.inference import load_renderer
from neurender.models.blocks import clamp_towards
from neurender.models.field import FieldGenerator
from neurender.models.projection import near_cut, scene_features
from neurender.presets import PRESETS
from neurender.raster import render_spheres
from neurender.sampling import sample_scenes
from neurender.scene import AMBIENT, DEFAULT_CAMERA, encode_params, pixel_centres_ndc
from neurender.training import losses
from neurender.training.checkpoint import save_atomic
from neurender.training.config import from_dict
from neurender.training.loop import Trainer
from neurender.training.sources import TRAIN_INDEX, VALIDATION_INDEX, OnlineSource, stream


def online_config(out, **sections):
    base = {"preset": "easy", "resolution": 32, "out": str(out),
            "model": {"arch": "field", "width": 16},
            "schedule": {"batch": 8, "pixels_per_image": 32, "warmup_images": 32, "adversarial_images": 16,
                         "finetune_images": 0, "lr_decay": "cosine", "ema_halflife_images": 40,
                         "d_noise_images": 16},
            "run": {"tick_images": 8, "val_images": 8, "threads": 1, "snapshot_ticks": 2}}
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values} if isinstance(values, dict) else values
    return from_dict(base)


def test_online_batches_are_fresh_renders_of_a_pure_function_of_seed_and_number():
    source = OnlineSource([(PRESETS["easy"], 1.0)], 3, 4, 32)

    def batch(number, rank=0, world=1):
        return source.finish(source.load(number, 8, rank, world), torch.device("cpu"))

    params, image, mask = batch(5)
    again = batch(5)
    assert all(torch.equal(a, b) for a, b in zip((params, image, mask), again, strict=True))
    scenes = sample_scenes(PRESETS["easy"], 3, np.arange(TRAIN_INDEX + 40, TRAIN_INDEX + 48), 32)
    assert torch.equal(params, encode_params(torch.from_numpy(scenes)))
    exact = render_spheres(torch.from_numpy(scenes), 32).permute(0, 3, 1, 2)
    assert torch.equal(image, exact[:, :3]) and torch.equal(mask, exact[:, 3:])
    assert not torch.equal(batch(6)[0], params)
    halves = [batch(5, rank, 2)[0] for rank in (0, 1)]  # two processes share one batch
    assert torch.equal(torch.cat(halves).sort(0).values, params.sort(0).values)
    val = sample_scenes(PRESETS["easy"], 3, np.arange(VALIDATION_INDEX, VALIDATION_INDEX + 4), 32)
    assert torch.equal(source.val_encoded, encode_params(torch.from_numpy(val)))
    assert source.val_rgba.dtype == np.uint8 and source.val_rgba.shape == (4, 32, 32, 4)


def test_worker_processes_load_the_same_batches_in_order():
    source = OnlineSource([(PRESETS["easy"], 1.0)], 3, 4, 32)
    ahead = stream(source, 5, 8, 0, 1, workers=2)
    for number in range(5, 11):
        assert torch.equal(next(ahead)[0], source.load(number, 8, 0, 1)[0])


def test_field_pixels_agree_with_whole_frames():
    torch.manual_seed(0)
    g = FieldGenerator(32, width=16).eval()
    params = encode_params(torch.from_numpy(sample_scenes(PRESETS["easy"], 0, np.arange(6), 32)))
    with torch.no_grad():
        frame = g(params)  # (6, 3, 32, 32), rendered in chunks
        pixels = torch.randint(0, 32 * 32, (6, 50))
        colour, logit = g(params, pixels)
    assert frame.shape == (6, 3, 32, 32)
    flat = frame.flatten(2).gather(2, pixels[:, None].expand(-1, 3, -1)).transpose(1, 2)
    expected = colour.clamp(0, 1) * (logit > 0)[..., None]
    assert torch.allclose(flat, expected, atol=1e-5)


def test_scene_features_place_the_frame_at_the_projected_centre():
    # a sphere straight ahead at distance 10: projected at the centre, apparent radius tan(asin(1/10)) / tan(22.5)
    params = torch.tensor([[0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 10.0, 0.0, 0.0, 0.0]])
    camera_to_origin = torch.tensor(DEFAULT_CAMERA.position).norm()
    f = scene_features(encode_params(params), DEFAULT_CAMERA.tan_half_fov)
    assert f.shape == (1, 20)
    assert torch.allclose(f[0, 10:12], torch.zeros(2), atol=1e-6)
    rho = 1 / (camera_to_origin ** 2 - 1).sqrt() / DEFAULT_CAMERA.tan_half_fov
    assert torch.allclose(f[0, 12].exp(), rho.float(), rtol=1e-5)
    assert f[0, 19] == 1  # wholly in front of the camera


def test_sample_pixels_shares():
    mask = torch.zeros(2, 1, 16, 16)
    mask[0, :, 4:12, 4:12] = 1  # an 8x8 object; scene 1 is empty
    torch.manual_seed(0)
    pixels = losses.sample_pixels(mask, 4000)
    assert pixels.shape == (2, 4000) and pixels.dtype == torch.int64
    inside = mask.flatten(1).gather(1, pixels)
    # object share 0.25; silhouette share 0.5 over the square's inner ring (28 pixels, inside) and outer ring
    # (36 pixels); uniform share 0.25 over the frame (64 of 256 inside)
    assert abs(inside[0].mean() - (0.25 + 0.5 * 28 / 64 + 0.25 * 64 / 256)) < 0.03
    assert inside[1].sum() == 0 and len(pixels[1].unique()) > 200  # empty scene: uniform


def test_detail_share_draws_where_the_shading_changes():
    mask = torch.zeros(2, 1, 16, 16)
    mask[:, :, 2:14, 2:14] = 1
    image = mask.repeat(1, 3, 1, 1) * 0.5
    image[0, :, 7:9, 7:9] = 1.0  # a 2x2 highlight in scene 0; scene 1 is flat
    d = losses.detail(image, mask)
    assert d[0, 7, 7] > 0 and d[0, 4, 4] == 0 and d[1].sum() == 0
    assert d[0, 2:4].sum() == 0  # the silhouette's own step is not detail
    torch.manual_seed(0)
    pixels = losses.sample_pixels(mask, 4000, 0.0, 0.0, 0.5, image)
    near = (d.flatten(1) > 0).float().gather(1, pixels)
    share = 0.5 + 0.5 * (d[0] > 0).sum() / 256  # the detail share plus the uniform draw's part
    assert abs(near[0].mean() - share) < 0.03
    assert abs(near[1].mean() - 0.0) < 1e-6  # no detail: uniform


def test_pixel_shares_are_checked(tmp_path):
    with pytest.raises(NeurenderError, match="detail_share must be >= 0 with a sum <= 1"):
        online_config(tmp_path, schedule={"detail_share": 0.5})


def test_online_field_run_resumes_exactly_and_exports(tmp_path):
    straight = Trainer(online_config(tmp_path / "straight"))
    straight.run(progress=False)
    log = [json.loads(line) for line in (tmp_path / "straight" / "log.jsonl").read_text().splitlines()]
    assert {"g_l1", "g_coverage"} <= set(log[0]) and log[-1]["phase"] == "adversarial"
    assert log[-1]["lr_g"] < log[0]["lr_g"]  # cosine decay
    interrupted = Trainer(online_config(tmp_path / "interrupted", run={"workers": 2}))  # batches loaded ahead
    interrupted.run(stop_at_images=16, progress=False)
    resumed = Trainer.resume(tmp_path / "interrupted" / "latest.pt")
    resumed.run(progress=False)
    for part in ("g", "g_ema", "d"):
        a, b = straight.state_dict()[part], resumed.state_dict()[part]
        assert all(torch.equal(a[k], b[k]) for k in a), part
    renderer = load_renderer(tmp_path / "straight" / "renderer.pt")
    images = renderer.render(sample_scenes(PRESETS["easy"], 0, np.arange(3), 32))
    assert images.shape == (3, 32, 32, 3) and 0 <= images.min() <= images.max() <= 1


def test_online_runs_check_their_preset_on_resume(tmp_path):
    Trainer(online_config(tmp_path / "run")).run(stop_at_images=8, progress=False)
    state = torch.load(tmp_path / "run" / "latest.pt", weights_only=True)
    state["source"]["seed"] = 99
    save_atomic(state, tmp_path / "run" / "other.pt")  # a valid checkpoint of another stream
    with pytest.raises(NeurenderError, match="trained on other data"):
        Trainer.resume(tmp_path / "run" / "other.pt")


def test_pixel_training_needs_a_pixel_generator(tmp_path):
    with pytest.raises(NeurenderError, match="pixels_per_image needs"):
        online_config(tmp_path, model={"arch": "hybrid"})
    with pytest.raises(NeurenderError, match="exactly one of dataset and preset"):
        online_config(tmp_path, dataset="somewhere")


def test_cli_trains_online_from_a_config(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text('preset = "easy"\nresolution = 32\n[model]\narch = "field"\nwidth = 8\n'
                      '[schedule]\nbatch = 8\npixels_per_image = 16\nwarmup_images = 16\nadversarial_images = 0\n'
                      '[run]\ntick_images = 8\nval_images = 4\nthreads = 1\n')
    result = run("train", "--config", config, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "config.json").read_text())["preset"] == "easy"
    assert (tmp_path / "run" / "renderer.pt").is_file()
    assert_user_error(run("train", "--preset", "nosuch", "--arch", "field", "--out", tmp_path / "r2"), "nosuch")
    assert_user_error(run("train", "--preset", "easy", "--dataset", tmp_path, "--out", tmp_path / "r3"),
                      "one of --dataset and --preset")


def test_field_logits_stay_bounded_for_tiny_far_spheres():
    """The default run that diverged at 700k scenes: a learned slope exp(sharpness) times 1 - |q|^2, with |q|
    ~ 100 on far pixels of tiny spheres, fed back into itself. Both factors are bounded now."""
    from neurender.models.field import Q_LIMIT, R2_LIMIT, SHARPNESS_LIMIT

    g = FieldGenerator(32, width=8)
    torch.nn.init.constant_(g.sharpness.bias, 50.0)  # a runaway head
    far = torch.tensor([[0.0, 0.0, -60.0, 0.5, 0.5, 0.5, 10.0, 0.0, 0.0, 0.0]])  # a sphere ~75 units away
    seen = []
    g.layers[0].register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].abs().max().item()))
    colour, logit = g(encode_params(far), torch.arange(32 * 32)[None])
    assert seen[0] <= max(Q_LIMIT, R2_LIMIT)  # the per-pixel layers' input
    bound = 20 * math.exp(SHARPNESS_LIMIT) * (R2_LIMIT - 1) + 1e3
    assert torch.isfinite(logit).all() and logit.abs().max() < bound and torch.isfinite(colour).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_run_on_the_gpu_exports_a_renderer_that_loads_anywhere(tmp_path):
    trainer = Trainer(online_config(tmp_path / "run", run={"device": "cuda", "workers": 2}))
    trainer.run(progress=False)
    export = torch.load(tmp_path / "run" / "renderer.pt", weights_only=True)  # no map_location
    assert all(t.device.type == "cpu" for t in export["g_ema"].values())


def test_clamp_towards_passes_only_gradients_that_lead_back_into_range():
    x = torch.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    y = clamp_towards(x, 0.0, 1.0)
    assert torch.equal(y, torch.tensor([0.0, 0.5, 1.0]))
    (grad_up,) = torch.autograd.grad(y, x, torch.ones(3), retain_graph=True)  # descent lowers every x
    assert torch.equal(grad_up, torch.tensor([0.0, 1.0, 1.0]))
    (grad_down,) = torch.autograd.grad(y, x, -torch.ones(3))  # descent raises every x
    assert torch.equal(grad_down, torch.tensor([-1.0, -1.0, 0.0]))


def test_phong_shading_composes_ambient_diffuse_and_specular_like_the_scene():
    g = FieldGenerator(32, width=8, shading="phong").eval()
    kd = np.array([0.2, 0.6, 1.0])
    scenes = np.array([[0.0, 0.0, 0.0, *kd, 10.0, 10.0, 10.0, 10.0]])
    params = encode_params(torch.from_numpy(scenes))
    mask = render_spheres(torch.from_numpy(scenes), 32)[0, ..., 3] > 0
    with torch.no_grad():
        g.sharpness.bias.fill_(0.0)  # the frame's unit circle decides coverage: mostly the sphere's pixels
        covered = g(params)[0].permute(1, 2, 0)[mask]
        assert torch.allclose(covered[covered.amax(1) > 0], torch.tensor(AMBIENT))  # a fresh head: ambient only
        bias = g.colour.bias.view(2, -1)
        bias[0, -1], bias[1, -1] = 0.5, 0.1  # diffuse factor 0.5, specular 0.1 on every pixel
        colour, _ = g(params, torch.arange(32 * 32)[None])
        assert torch.allclose(colour[0], torch.tensor(AMBIENT + 0.5 * kd + 0.1).float())
        bias[0, -1] = 3.0  # clamped to 1: kd + ambient + specular, clamped to 1 per channel
        colour, _ = g(params, torch.arange(32 * 32)[None])
        assert torch.allclose(colour[0], torch.tensor(np.minimum(1, AMBIENT + kd + 0.1)).float())


def test_a_phong_field_starts_from_a_field_run(tmp_path):
    Trainer(online_config(tmp_path / "field")).run(stop_at_images=16, progress=False)
    parent = torch.load(tmp_path / "field" / "latest.pt", weights_only=True)
    child = Trainer(online_config(tmp_path / "phong", model={"arch": "phong_field"},
                                  init_from=str(tmp_path / "field" / "latest.pt")))
    mine = child.g.state_dict()
    shared = [k for k in mine if not k.startswith(("colour.", "cut."))]
    assert all(torch.equal(mine[k], parent["g"][k]) for k in shared)
    assert all(torch.equal(child.g_ema.state_dict()[k], parent["g_ema"][k]) for k in shared)
    assert not child.g.colour.weight.any() and not child.g.cut.weight.any()  # the new layers start fresh
    child.run(stop_at_images=8, progress=False)
    history = json.loads((tmp_path / "phong" / "config-history.jsonl").read_text())
    assert history["changed"]["init_from.fresh"] == ["colour.bias", "colour.weight", "cut.bias", "cut.weight"]
    with pytest.raises(NeurenderError, match="holds a field generator"):
        Trainer(online_config(tmp_path / "coord", model={"arch": "coord", "width": 16},
                              schedule={"pixels_per_image": 0}, init_from=str(tmp_path / "field" / "latest.pt")))


def test_a_capped_phong_field_continues_a_phong_field_and_trains_on_a_mixture(tmp_path):
    Trainer(online_config(tmp_path / "phong", model={"arch": "phong_field"})).run(stop_at_images=16, progress=False)
    parent = torch.load(tmp_path / "phong" / "latest.pt", weights_only=True)
    child = Trainer(online_config(tmp_path / "capped", preset="easy:1,default:1",
                                  model={"arch": "phong_field", "options": {"coverage_cap": 16.0}},
                                  init_from=str(tmp_path / "phong" / "latest.pt")))
    assert child.g.coverage_cap == 16.0
    assert all(torch.equal(v, parent["g"][k]) for k, v in child.g.state_dict().items())  # every tensor loads
    assert child.source.identity["mixture"][1][1] == 0.5 and "easy 50%, default 50%" in child.source.description
    child.run(stop_at_images=8, progress=False)
    history = json.loads((tmp_path / "capped" / "config-history.jsonl").read_text())
    assert history["changed"]["init_from.fresh"] == []
    assert load_renderer(tmp_path / "capped" / "latest.pt").generator.coverage_cap == 16.0


def test_near_cut_is_the_outline_of_what_the_near_plane_removes():
    """Spheres the near plane cuts: of the pixels whose ray meets the sphere in front of the camera, the
    rasterizer covers exactly those outside ``near_cut``'s circle."""
    camera = DEFAULT_CAMERA
    scenes = sample_scenes(PRESETS["easy"], 1, np.arange(400), 64)
    view = camera.to_view(torch.from_numpy(scenes[:, :3])).numpy()
    cut = scenes[np.abs(view[:, 2] + camera.near) < 0.95][:12]
    assert len(cut) == 12
    mask = render_spheres(torch.from_numpy(cut), 64)[..., 3].numpy() > 0
    centre, radius = (t.double().numpy() for t in near_cut(encode_params(torch.from_numpy(cut)).double(),
                                                             camera.tan_half_fov, camera.near))
    ndc = pixel_centres_ndc(64).numpy()
    x, y = np.meshgrid(ndc, -ndc)
    rays = np.stack([x * camera.tan_half_fov, y * camera.tan_half_fov, -np.ones_like(x)], -1)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    removed = 0
    for k, c in enumerate(camera.to_view(torch.from_numpy(cut[:, :3])).numpy()):
        along = rays @ c
        meets = (along ** 2 >= c @ c - 1) & (along > 0)
        outside = np.hypot(x - centre[k, 0], y - centre[k, 1]) > radius[k, 0]
        assert radius[k, 0] > 0 and np.array_equal(mask[k], meets & outside)
        removed += (meets & ~outside).sum()
    assert removed > 1000  # the cuts are in the frame
