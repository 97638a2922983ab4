import itertools
import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage
from spec_reference import render_image, render_pixel

from neurender.dataset import read_params_csv
from neurender.errors import NeurenderError
from neurender.presets import PRESETS
from neurender.raster import _group_widths, covered_pixels, render_spheres, render_spheres_uint8
from neurender.sampling import sample_scenes
from neurender.scene import DEFAULT_CAMERA, Camera

CAMERA = torch.tensor(DEFAULT_CAMERA.position, dtype=torch.float64)
FORWARD = -CAMERA / CAMERA.norm()
RIGHT = torch.nn.functional.normalize(torch.linalg.cross(FORWARD, torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)),
                                      dim=0)
UP = torch.linalg.cross(RIGHT, FORWARD)
RES = 33  # odd, so the centre pixel's ray is the optical axis


def on_axis_scene(light_direction: torch.Tensor, kd=(0.2, 0.5, 0.8), shininess=20.0, distance=6.0):
    """Sphere on the optical axis; the centre pixel sees its point nearest the camera, normal = -forward."""
    centre = CAMERA + distance * FORWARD
    surface = CAMERA + (distance - 1) * FORWARD
    light = surface + 50.0 * light_direction / light_direction.norm()
    return torch.cat([centre, torch.tensor(kd, dtype=torch.float64), torch.tensor([shininess], dtype=torch.float64),
                      light])[None]


def centre_pixel(scene):
    return render_spheres(scene, RES)[0, RES // 2, RES // 2]


def test_lambert_at_45_degrees():
    normal = -FORWARD
    scene = on_axis_scene(normal + UP)  # 45 degrees from the normal
    rgba = centre_pixel(scene)
    c45 = 1 / math.sqrt(2)
    expected = 0.03 + torch.tensor([0.2, 0.5, 0.8]) * c45 + c45**20  # R.V = N.L on the axis (V = N)
    assert torch.allclose(rgba[:3], expected.float(), atol=2e-5)
    assert rgba[3] == 1


def test_back_facing_light_gives_ambient_only():
    rgba = centre_pixel(on_axis_scene(FORWARD))  # light straight behind the sphere
    assert torch.allclose(rgba[:3], torch.full((3,), 0.03), atol=1e-6)


def test_specular_peaks_at_the_mirror_direction():
    scene = on_axis_scene(-FORWARD, kd=(0.0, 0.0, 0.0), shininess=8.0)  # light behind the camera: R = V
    image = render_spheres(scene, RES)[0]
    assert torch.allclose(image[RES // 2, RES // 2, :3], torch.ones(3), atol=1e-5)  # 0.03 + 1, clamped
    red = image[..., 0]
    assert red.argmax() == (RES // 2) * RES + RES // 2


def test_ungated_specular_quirk_matches_spec():
    # Light grazing from the side: some pixels have N.L < 0 but R.V > 0 and keep a highlight, as the template.
    scene = on_axis_scene(RIGHT * 1.0 + FORWARD * 0.3, kd=(0.0, 0.0, 0.0), shininess=3.0)
    ours = render_spheres(scene, 24)[0].numpy()
    ref = render_image(scene[0].tolist(), 24)
    inner = ndimage.binary_erosion(ref[..., 3] > 0)
    assert np.abs(ours - ref)[inner].max() < 1e-4
    assert (ref[..., 0][inner] > 0.05).any()


def test_camera_inside_or_behind_draws_nothing():
    inside = on_axis_scene(UP, distance=0.5)
    behind = on_axis_scene(UP, distance=-6.0)
    images = render_spheres(torch.cat([inside, behind]), 16)
    assert images.abs().sum() == 0


def _silhouette(mask: np.ndarray) -> np.ndarray:
    return mask ^ ndimage.binary_erosion(mask) | (ndimage.binary_dilation(mask) ^ mask)


@pytest.mark.parametrize("preset", ["default", "easy"])
def test_matches_per_pixel_reference_within_one_level(preset):
    scenes = torch.from_numpy(sample_scenes(PRESETS[preset], 7, np.arange(6), resolution=32))
    ours_u8 = render_spheres_uint8(scenes, 32).numpy().astype(int)
    ours = render_spheres(scenes, 32).numpy()
    for k, scene in enumerate(scenes.tolist()):
        ref = render_image(scene, 32)
        mask = ref[..., 3] > 0
        keep = ~_silhouette(mask)
        assert np.abs(ours[k] - ref)[keep].max() < 1 / 255
        assert np.abs(ours_u8[k] - np.round(ref * 255))[keep].max() <= 1
        # silhouettes are decided in float64: the masks agree exactly
        assert ((ours[k][..., 3] > 0) == mask).all()


def test_near_plane_and_straddling_spheres_match_reference():
    rng = np.random.default_rng(3)
    rotation = DEFAULT_CAMERA.rotation().numpy()
    checked = 0
    for _ in range(40):
        view = rng.uniform([-2.5, -2.5, -3.0], [2.5, 2.5, 1.0])
        if np.linalg.norm(view) < 1.05:
            continue
        centre = view @ rotation + np.array(DEFAULT_CAMERA.position)
        scene = [*centre, *rng.uniform(0, 1, 3), rng.uniform(3, 20), *rng.uniform(-20, 20, 3)]
        ref = render_image(scene, 20)
        ours = render_spheres(torch.tensor([scene]), 20)[0].numpy()
        assert ((ours[..., 3] > 0) == (ref[..., 3] > 0)).all()
        assert covered_pixels(torch.tensor([scene]), 20)[0] == (ref[..., 3] > 0).sum()
        checked += ref[..., 3].sum() > 0
    assert checked >= 10


def test_spheres_cut_by_the_near_plane_along_the_x_axis_match_reference():
    # c_y^2 + c_z^2 ~ 1 in view space: the discriminant's x^2 coefficient is ~0 and its vertex far off the image
    # (a training scene drawn by the easy preset once rendered NaN and 3,831 wrong pixels here)
    rng = np.random.default_rng(5)
    rotation = DEFAULT_CAMERA.rotation().numpy()
    scenes = [[5.070851671217265, 5.107354397482473, 13.92831734386863, 0.9476611273598807, 0.1528570680616299,
               0.26383427635891066, 5.454086541946376, 17.558582796209045, 0.5130476139064797, 19.51257250003652]]
    for _ in range(8):
        cx, cy = rng.uniform(-0.5, 0.5, 2)
        view = np.array([cx, cy, -math.sqrt(1 - cy * cy + rng.uniform(-1e-3, 1e-3))])
        centre = view @ rotation + np.array(DEFAULT_CAMERA.position)
        scenes.append([*centre, *rng.uniform(0, 1, 3), rng.uniform(3, 20), *rng.uniform(-20, 20, 3)])
    params = torch.tensor(scenes, requires_grad=True)
    images = render_spheres(params, 64)
    images[..., :3].sum().backward()
    assert torch.isfinite(images).all() and torch.isfinite(params.grad).all()
    for scene, ours in zip(scenes, images.detach().numpy(), strict=True):
        ref = render_image(scene, 64)
        assert ((ours[..., 3] > 0) == (ref[..., 3] > 0)).all()
        assert np.abs(ours[..., :3] - ref[..., :3]).max() < 1e-4


def test_agrees_with_the_course_template_frames(data_dir):
    frames, params = read_params_csv(data_dir / "template" / "params.csv")
    ours = render_spheres_uint8(torch.from_numpy(params)).numpy().astype(int)
    for k, frame in enumerate(frames):
        theirs = np.asarray(Image.open(data_dir / "template" / f"image_{frame:04d}.png").convert("RGBA")).astype(int)
        a, b = theirs[..., 3] > 0, ours[k][..., 3] > 0
        assert (a & b).sum() / (a | b).sum() >= 0.994
        inner = ndimage.binary_erosion(a & b)
        assert np.abs(theirs - ours[k])[inner].max() <= 2


def test_covered_pixels_counts_rendered_alpha():
    scenes = torch.from_numpy(sample_scenes(PRESETS["default"], 1, np.arange(300)))
    alpha = render_spheres_uint8(scenes)[..., 3]
    assert torch.equal(covered_pixels(scenes), (alpha > 0).sum(dim=(1, 2)))


def test_supersampling_softens_edges_only():
    scene = on_axis_scene(UP + 0.5 * -FORWARD)
    plain = render_spheres(scene, RES)[0]
    smooth = render_spheres(scene, RES, supersample=4)[0]
    alpha = smooth[..., 3]
    assert ((alpha > 0) & (alpha < 1)).any()
    assert torch.allclose(plain[RES // 2, RES // 2], smooth[RES // 2, RES // 2], atol=0.02)
    u8 = render_spheres_uint8(scene, RES, supersample=4)[0]
    assert torch.equal(u8, (smooth * 255 + 0.5).to(torch.uint8))


def test_differentiable_with_respect_to_parameters():
    scene = on_axis_scene(UP + RIGHT - FORWARD, shininess=5.0).requires_grad_(True)
    image = render_spheres(scene, RES)
    image[..., :3].sum().backward()
    grad = scene.grad[0]
    assert torch.isfinite(grad).all()
    assert (grad[3:6] > 0).all()  # brighter diffuse, brighter image
    # finite-difference check on the light position
    eps = 0.1  # the render is float32: a small step drowns in rounding
    for k in (7, 8, 9):
        bumped = scene.detach().clone()
        bumped[0, k] += eps
        lowered = scene.detach().clone()
        lowered[0, k] -= eps
        numeric = (render_spheres(bumped, RES)[..., :3].sum() - render_spheres(lowered, RES)[..., :3].sum()) / (2 * eps)
        assert abs(numeric.item() - grad[k].item()) < 0.05 * abs(numeric.item()) + 1e-2


def test_bad_arguments_are_one_error_naming_them():
    """The render functions check their arguments as the command line does (issue 40): shapes, every scene's
    values, supersample, the camera; a NumPy array is taken as a tensor."""
    good = sample_scenes(PRESETS["easy"], 1, np.arange(2), 16)
    cases = [
        (torch.zeros(3, 9), {}, r"shape \(N, 10\).*got \(3, 9\)"),
        (torch.from_numpy(good[0]), {}, r"got \(10,\)"),
        (torch.from_numpy(good[None]), {}, r"got \(1, 2, 10\)"),
        (torch.from_numpy(np.c_[good, good[:, :1]]), {}, r"got \(2, 11\)"),
        ("scenes", {}, "tensor or NumPy array"),
        (torch.from_numpy(good), {"supersample": 0}, "supersample must be an integer"),
        (torch.from_numpy(good), {"supersample": -3}, "supersample must be an integer"),
        (torch.from_numpy(good), {"resolution": 0}, "resolution must be an integer"),
        (torch.from_numpy(good), {"camera": Camera(fov_y_deg=0.0)}, "0 < fov_y_deg < 180"),
        (torch.from_numpy(good), {"camera": Camera(target=Camera().position)}, "position and target must differ"),
    ]
    for column, value, message in ((0, math.nan, "not finite"), (0, math.inf, "not finite"), (1, 1e30, "beyond"),
                                   (3, 5.0, r"diffuse r = 5.0 is outside \[0, 1\]"), (6, -4.0, "shininess")):
        bad = good.copy()
        bad[1, column] = value
        cases.append((torch.from_numpy(bad), {}, "scene 1: .*" + message))
    for params, options, message in cases:
        for render in (render_spheres, render_spheres_uint8):
            with pytest.raises(NeurenderError, match=message):
                render(params, **{"resolution": 16, **options})
    with pytest.raises(NeurenderError, match="out must be uint8"):
        render_spheres_uint8(torch.from_numpy(good), 8, out=torch.zeros(2, 8, 8, 3, dtype=torch.uint8))
    assert torch.equal(render_spheres(good, 16), render_spheres(torch.from_numpy(good), 16))  # NumPy in


def test_span_windows_group_by_cost():
    def groups(widths):
        return _group_widths(torch.tensor(sorted(widths)))

    assert groups([8] * 1000) == [(0, 1000)]
    assert groups([4] * 50 + [12] * 50) == [(0, 100)]  # padding 400 pixels is cheaper than another step
    many_narrow = groups([4] * 200_000 + [128] * 10)  # padding the narrow spans to 128 would cost 24M pixels
    assert many_narrow[-1] == (200_000, 200_010) and many_narrow[0][0] == 0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(many_narrow))
    assert groups([]) == []


def test_distant_highlights_stay_within_a_fraction_of_a_level():
    # Far spheres with sharp highlights are the worst case for float32 (depth ~40, exponent ~20).
    scenes = torch.from_numpy(sample_scenes(PRESETS["default"], 5, np.arange(40), resolution=128))
    ours = render_spheres(scenes, 128).numpy()
    covered = np.argwhere(ours[..., 3] > 0)
    assert len(covered) > 1000
    worst = max(np.abs(ours[k, i, j] - render_pixel(scenes[k].tolist(), i, j, 128)).max() for k, i, j in covered)
    assert worst < 0.25 / 255


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_render_spheres_runs_on_the_device_of_its_inputs():
    params = torch.from_numpy(sample_scenes(PRESETS["easy"], 0, np.arange(64)))
    cpu = render_spheres(params)
    gpu = render_spheres(params.cuda().requires_grad_())
    assert gpu.device.type == "cuda"
    assert torch.equal(cpu[..., 3], gpu[..., 3].cpu())  # the same silhouettes
    assert (cpu - gpu.detach().cpu()).abs().max() < 1e-5
    gpu[..., :3].sum().backward()
    assert torch.equal(covered_pixels(params), covered_pixels(params.cuda()).cpu())
