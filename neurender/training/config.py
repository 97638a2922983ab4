"""The training configuration: dataclasses, validated in one place, written as plain JSON into each run."""

from __future__ import annotations

import dataclasses
import inspect
import math
from dataclasses import dataclass, field
from pathlib import Path

from neurender.errors import NeurenderError
from neurender.files import read_toml
from neurender.models.generators import generator_options, generator_spec
from neurender.training.registry import BALANCE_RULES, GAN_LOSSES, OBJECTIVES

MAX_BATCH_PIXELS = 2**27  # a step's images (batch x resolution^2): about 2 GB as float RGBA
MAX_EXTENDS = 8  # configs a config may extend, one behind the other
MAX_VALIDATION_PIXELS = 2**27  # validation images x resolution^2: about 2 GB held (references and predictions)
VALIDATION_BYTES_PER_PIXEL = 16  # the references' RGBA (4 bytes), their encoded copy and G's float RGB (12)
MAX_STEP_SAMPLES = 2**22  # pixels a step evaluates the generator at: GBs of activations at a field's widths
LR_DECAYS = ("none", "cosine")


@dataclass
class ModelConfig:
    arch: str = "hybrid"  # a registered generator (models/generators.py), or package.module:Class of your own
    width: int | None = None  # generator channels at 4x4 (coord, field: per-pixel width); None: the arch's default
    norm: str = "batch"  # normalisation where the generator has it (the report's networks): batch, instance, none
    options: dict = field(default_factory=dict)  # the generator's other keyword arguments ([model.options] in TOML)
    d_width: int = 32  # discriminator channels after its first convolution
    d_conditioning: str = "projection"  # projection, or concat (parameters broadcast as maps)
    d_spectral: bool = True  # spectral normalisation in D
    d_dropout: float = 0.0  # Dropout2d probability after each D stage
    d_patch: bool = False  # PatchGAN head (8x8 logits) instead of one logit


@dataclass
class LossConfig:
    l1_object: float = 10.0  # weight of |G - target| on object pixels (the dataset's mask)
    l1_background: float = 1.0  # ... on background pixels
    gan: str = "bce"  # bce (non-saturating), lsgan, hinge, rpgan (paired relativistic: D scores real - fake)
    gan_weight: float = 0.05  # weight of G's adversarial term; 1.0 undid the warm-up within 1,600 images in our runs
    label_smoothing: float = 0.0  # one-sided: D's real target is 1 - this (bce, lsgan)
    lpips_weight: float = 0.0  # perceptual term on G (needs `neurender weights fetch`)
    coverage_weight: float = 1.0  # sampled-pixel training: weight of the coverage logits' cross-entropy vs the mask
    objectives: dict[str, dict] = field(default_factory=dict)  # more terms: {registered name or package.module:
    # Class: {option: value}} ([loss.objectives."pkg.mod:Class"] in TOML; docs/training.md)


@dataclass
class BalanceConfig:
    enabled: bool = True  # adapt D/G steps to D's accuracy; False: always one step each
    low: float = 0.6  # D accuracy (moving average) below this: D is behind, it gets extra steps
    high: float = 0.85  # above this: D dominates, its updates are skipped and G gets extra steps
    decay: float = 0.9  # moving-average decay per step of the accuracies
    max_g_steps: int = 4  # bound on G steps per iteration while D dominates
    max_d_steps: int = 1  # bound on D steps per iteration while D is behind; 1: D never outpaces G (G not starved)
    rule: str = "adaptive"  # a registered balancing rule (training/registry.py), or package.module:Class
    options: dict = field(default_factory=dict)  # the rule's other keyword arguments ([balance.options] in TOML)


@dataclass
class ScheduleConfig:
    batch: int = 32  # images per optimizer step (over all processes)
    warmup_images: int = 20_000  # phase 1: G alone on masked L1
    adversarial_images: int = 100_000  # phase 2: G and D with balancing
    finetune_images: int = 0  # phase 3: lower learning rates, its own L1 weight
    lr_g: float = 2e-4  # generator Adam learning rate
    lr_d: float = 1e-4  # discriminator Adam learning rate (two time-scale)
    betas_g: tuple[float, float] = (0.5, 0.999)
    betas_d: tuple[float, float] = (0.5, 0.999)
    finetune_lr_factor: float = 0.1  # phase 3 learning rates = this x the above
    finetune_l1_factor: float = 2.0  # phase 3 L1 weights = this x the above
    lr_decay: str = "none"  # none, or cosine: learning rates follow a half cosine over the whole schedule
    lr_final_factor: float = 0.01  # with cosine: the learning rates at the end = this x the above
    ema_halflife_images: int = 10_000  # G_ema's half-life; 0 disables averaging (G_ema = G)
    d_noise_std: float = 0.1  # std of noise on D's inputs at the start of phase 2, annealed linearly to 0
    d_noise_images: int = 50_000  # images over which that noise is annealed

    @property
    def total_images(self) -> int:
        return self.warmup_images + self.adversarial_images + self.finetune_images

    @property
    def uses_discriminator(self) -> bool:
        """Whether a phase after the warm-up trains against D (the adversarial phase, and fine-tuning)."""
        return self.adversarial_images + self.finetune_images > 0


@dataclass
class SamplingConfig:
    """What G is trained on: whole frames (the default), sampled pixels in the warm-up, or crops in every phase."""

    pixels_per_image: int = 0  # > 0: the warm-up trains on this many sampled pixels per scene (samples_pixels)
    silhouette_share: float = 0.5  # of the sampled pixels: drawn on the silhouette ...
    object_share: float = 0.25  # ... on the object ...
    detail_share: float = 0.0  # ... where the shading changes fast (highlights); the rest uniform over the frame
    crop_size: int = 0  # > 0: G trains on crops this many pixels wide in every phase, and D judges crops
    crops_per_image: int = 1  # crops per scene, centred on pixels drawn with the shares above


SAMPLING_KEYS = tuple(f.name for f in dataclasses.fields(SamplingConfig))  # in [schedule] before they had a section


@dataclass
class RunConfig:
    tick_images: int = 2_000  # log a line (and save `latest`) every this many images
    sample_ticks: int = 5  # sample grid of fixed validation scenes every N ticks
    snapshot_ticks: int = 25  # keep a numbered checkpoint every N ticks
    val_images: int = 256  # validation images scored each epoch (0: the whole split)
    seed: int = 0  # data order, initialisation, noise
    threads: int | None = None  # CPU threads; None: torch's default
    device: str = "auto"  # auto (CUDA when present), cpu, cuda
    workers: int = 0  # processes that load batches ahead of the trainer (online: draw the scenes); 0: none
    deterministic: bool = True  # deterministic algorithms (exact resume on CPU)
    max_bad_steps: int = 20  # stop after this many NaN/inf steps in a row


@dataclass
class TrainConfig:
    dataset: str = ""  # dataset directory, or "" to train on online data from `preset`
    preset: str = ""  # online data: a preset name (easy, default), a preset TOML file, or a mixture of them with
    # their shares ("easy:1,default:1"); "" with a dataset
    resolution: int = 128  # image size of online data (a dataset has its own)
    out: str = ""  # run directory
    init_from: str | None = None  # checkpoint of another run to start G/G_ema/D from (fine-tuning)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    balance: BalanceConfig = field(default_factory=BalanceConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    run: RunConfig = field(default_factory=RunConfig)



SECTIONS = {"model": ModelConfig, "loss": LossConfig, "balance": BalanceConfig, "schedule": ScheduleConfig,
            "sampling": SamplingConfig, "run": RunConfig}


def to_dict(config: TrainConfig) -> dict:
    return dataclasses.asdict(config)


def _typed(value, kind: str, where: str):
    """``value`` checked against a field's annotation (``int``, ``float``, ``int | None``, ``tuple[float,
    float]``, ...): the value, or a NeurenderError naming the field. Floats must be finite."""
    optional = kind.endswith(" | None")
    kind = kind.removesuffix(" | None")
    if value is None and optional:
        return None
    if kind == "dict[str, dict]":
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise NeurenderError(f"invalid config: {where} must be a table of tables, got {value!r}")
        return {k: _typed(v, "dict", f"{where}.{k}") for k, v in value.items()}
    if kind == "dict":
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise NeurenderError(f"invalid config: {where} must be a table of settings, got {value!r}")
        for k, v in value.items():
            if not isinstance(v, int | float | bool | str) or isinstance(v, float) and not math.isfinite(v):
                raise NeurenderError(f"invalid config: {where}.{k} must be a number, true or false, or a string, "
                                     f"got {v!r}")
        return dict(value)
    if kind.startswith("tuple"):
        if isinstance(value, list | tuple) and len(value) == 2:
            return tuple(_typed(v, "float", where) for v in value)
        raise NeurenderError(f"invalid config: {where} must be two numbers, got {value!r}")
    ok = {"int": isinstance(value, int) and not isinstance(value, bool),
          "float": isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value),
          "bool": isinstance(value, bool), "str": isinstance(value, str)}[kind]
    if not ok:
        article = {"int": "an integer", "float": "a finite number", "bool": "true or false", "str": "a string"}[kind]
        article += " or null" if optional else ""
        raise NeurenderError(f"invalid config: {where} must be {article}, got {value!r}")
    return float(value) if kind == "float" else value


def _fields(cls, data, where: str) -> dict:
    if not isinstance(data, dict):
        raise NeurenderError(f"invalid config: [{where}] must be a table of settings, got {data!r}")
    kinds = {f.name: f.type for f in dataclasses.fields(cls) if f.name not in SECTIONS}
    unknown = set(data) - kinds.keys() - (SECTIONS.keys() if cls is TrainConfig else set())
    if unknown:
        where_text = "config key(s)" if where == "top" else f"key(s) in [{where}]"
        raise NeurenderError(f"unknown {where_text}: {', '.join(sorted(unknown))}")
    return {k: _typed(v, kinds[k], k if where == "top" else f"{where}.{k}") for k, v in data.items()
            if k in kinds}


def upgrade_layout(data: dict) -> dict:
    """A config dict in today's layout: older configs and checkpoints keep the sampling settings in [schedule],
    moved here to [sampling] (one place may name each; both at once is an error). Every reader of a stored
    config goes through this."""
    schedule = data.get("schedule")
    if not isinstance(schedule, dict) or not set(schedule) & set(SAMPLING_KEYS):
        return data
    sampling = data.get("sampling", {})
    if not isinstance(sampling, dict):
        return data  # _fields reports it
    both = sorted(set(schedule) & set(SAMPLING_KEYS) & set(sampling))
    if both:
        raise NeurenderError(f"invalid config: {', '.join(both)} given in both [schedule] and [sampling]")
    return {**data, "schedule": {k: v for k, v in schedule.items() if k not in SAMPLING_KEYS},
            "sampling": {**sampling, **{k: v for k, v in schedule.items() if k in SAMPLING_KEYS}}}


def from_dict(data: dict) -> TrainConfig:
    """A TrainConfig from nested dicts (TOML or a run's config.json): unknown keys, values of the wrong type
    (a scalar where a section belongs, a string where a number goes) and non-finite numbers are errors."""
    data = upgrade_layout(data)
    kwargs = _fields(TrainConfig, data, "top")
    for name, cls in SECTIONS.items():
        kwargs[name] = cls(**_fields(cls, data.get(name, {}), name))
    return validate(TrainConfig(**kwargs))


def load_config(path: str | Path | None = None, **overrides) -> TrainConfig:
    """A run's configuration from Python: the defaults, then the config file at `path` (TOML, as ``neurender train
    --config`` reads it), then `overrides`: top-level settings by name (``out``, ``preset``, ``dataset``,
    ``resolution``, ``init_from``) and sections as dicts (``schedule={"warmup_images": 1000}``, merged key by key).
    Checked as the command line checks it: one NeurenderError."""
    data = to_dict(TrainConfig())
    if path is not None:
        data = merge(data, load_toml(Path(path)))
    return from_dict(merge(data, overrides))


def load_toml(path: Path, _within: tuple[Path, ...] = ()) -> dict:
    """A config file's settings (partial: merged over the defaults by the caller), in today's layout. A file that
    sets ``extends = "other.toml"`` (a path relative to it) is that file's settings with its own merged over them
    (section by section, key by key), so a variant states only what it changes."""
    path = Path(path)
    data = upgrade_layout(read_toml(path, "config"))
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str) or not base:
        raise NeurenderError(f"config {path}: extends must name another config file, got {base!r}")
    chain = (*_within, path.resolve())
    target = (path.parent / base).resolve()
    if target in chain or len(chain) > MAX_EXTENDS:
        raise NeurenderError(f"config {path}: extends {base} makes a cycle or a chain of more than {MAX_EXTENDS}")
    return merge(load_toml(path.parent / base, chain), data)


def merge(base: dict, override: dict) -> dict:
    """Nested dict update (sections merged key by key; a table where a value belongs, or the reverse, replaces it
    and is left to ``from_dict``'s error)."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for k, v in override.items():
        out[k] = {**out[k], **v} if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def check_options(cls: type, given: dict, where: str, settings: set[str]) -> None:
    """A NeurenderError unless `cls`'s constructor takes every option in `given` (and none that a setting of its
    section already gives)."""
    parameters = inspect.signature(cls).parameters
    section = sorted(set(given) & settings)
    if section:
        raise NeurenderError(f"{where}: {', '.join(section)} is a [{where.rpartition('.')[0]}] setting: set it there, "
                             f"not in [{where}]")
    unknown = sorted(set(given) - set(parameters))
    if unknown:
        raise NeurenderError(f"{where}: {cls.__name__} has no option {', '.join(unknown)}; its options: "
                             f"{', '.join(sorted(set(parameters) - settings)) or 'none'}")


def validate(c: TrainConfig) -> TrainConfig:
    """Every check in one place; a NeurenderError names the first bad field."""
    m, loss, b, s, r, p = c.model, c.loss, c.balance, c.schedule, c.run, c.sampling
    try:  # an unknown name, a class that cannot be imported, an option the generator does not have
        spec = generator_spec(m.arch)
        generator_options(m.arch, m.width, m.norm, m.options)
    except NeurenderError as e:
        raise NeurenderError(f"invalid config: model.arch {m.arch!r}: {e}") from None
    try:  # the other extension points: names, plug-ins, options
        GAN_LOSSES.get(loss.gan)
        check_options(BALANCE_RULES.get(b.rule), b.options, "balance.options", {f.name for f in
                                                                                     dataclasses.fields(b)})
        for name, given in loss.objectives.items():
            check_options(OBJECTIVES.get(name), given, f"loss.objectives.{name}", set())
    except NeurenderError as e:
        raise NeurenderError(f"invalid config: {e}") from None
    checks = [
        (m.width is None or 4 <= m.width <= 4096, "model.width must be in [4, 4096]"),
        (m.norm in ("batch", "instance", "none"), "model.norm must be batch, instance or none"),
        (m.d_conditioning in ("projection", "concat"), "model.d_conditioning must be projection or concat"),
        (0 <= m.d_dropout < 1, "model.d_dropout must be in [0, 1)"),
        (4 <= m.d_width <= 1024, "model.d_width must be in [4, 1024]"),
        (bool(c.dataset) != bool(c.preset), "give exactly one of dataset and preset"),
        (8 <= c.resolution <= 1024, "resolution must be in [8, 1024]"),
        (min(loss.l1_object, loss.l1_background, loss.gan_weight, loss.lpips_weight, loss.coverage_weight) >= 0,
         "loss weights must be >= 0"),
        (0 <= loss.label_smoothing < 0.5, "loss.label_smoothing must be in [0, 0.5)"),
        (0 < b.low < b.high < 1, "balance needs 0 < low < high < 1"),
        (0 <= b.decay < 1, "balance.decay must be in [0, 1)"),
        (1 <= b.max_g_steps <= 16 and 1 <= b.max_d_steps <= 16, "balance step bounds must be in [1, 16]"),
        (1 <= s.batch <= 4096, "schedule.batch must be in [1, 4096]"),
        (min(s.warmup_images, s.adversarial_images, s.finetune_images) >= 0, "phase lengths must be >= 0"),
        (s.total_images > 0, "the schedule trains on 0 images"),
        (s.lr_g > 0 and s.lr_d > 0 and s.finetune_lr_factor > 0, "learning rates must be > 0"),
        (all(0 <= x < 1 for x in (*s.betas_g, *s.betas_d)) and len(s.betas_g) == len(s.betas_d) == 2,
         "betas must be two numbers in [0, 1)"),
        (s.lr_decay in LR_DECAYS, f"schedule.lr_decay must be one of {', '.join(LR_DECAYS)}"),
        (0 < s.lr_final_factor <= 1, "schedule.lr_final_factor must be in (0, 1]"),
        (0 <= p.pixels_per_image <= c.resolution ** 2, "sampling.pixels_per_image must be in [0, resolution^2]"),
        (s.batch * c.resolution ** 2 <= MAX_BATCH_PIXELS,
         f"schedule.batch x resolution^2 must be at most {MAX_BATCH_PIXELS:,} pixels (a step's images in memory)"),
        (s.batch * max(p.pixels_per_image, p.crops_per_image * (p.crop_size + 4) ** 2) <= MAX_STEP_SAMPLES,
         (f"schedule.batch x pixels_per_image (or x crops_per_image x crop pixels) must be at most "
          f"{MAX_STEP_SAMPLES:,} (the network's activations per step)")),
        (min(p.silhouette_share, p.object_share, p.detail_share) >= 0
         and p.silhouette_share + p.object_share + p.detail_share <= 1,
         "sampling.silhouette_share, object_share and detail_share must be >= 0 with a sum <= 1"),
        (p.pixels_per_image == 0 or spec.samples_pixels,
         f"sampling.pixels_per_image needs a generator that renders single pixels (samples_pixels), not {m.arch}"),
        (p.crop_size == 0 or spec.renders_crops,
         f"sampling.crop_size needs a generator that renders windows (renders_crops), not {m.arch}"),
        (p.crop_size == 0 or (p.crop_size in (16, 32, 64, 128) and p.crop_size <= c.resolution),
         "sampling.crop_size must be 0 or one of 16, 32, 64, 128, at most the resolution"),
        (1 <= p.crops_per_image <= 64, "sampling.crops_per_image must be in [1, 64]"),
        (loss.lpips_weight == 0 or p.crop_size == 0 or p.crop_size >= 64,
         "loss.lpips_weight needs crops of at least 64 pixels (sampling.crop_size)"),
        (s.ema_halflife_images >= 0 and s.d_noise_std >= 0 and s.d_noise_images >= 0, "must be >= 0"),
        (r.tick_images >= 1 and r.sample_ticks >= 1 and r.snapshot_ticks >= 1, "tick settings must be >= 1"),
        (r.val_images >= 0 and r.max_bad_steps >= 1, "run.val_images must be >= 0 and run.max_bad_steps >= 1"),
        ((r.val_images or 256) * c.resolution ** 2 <= MAX_VALIDATION_PIXELS,
         f"run.val_images x resolution^2 must be at most {MAX_VALIDATION_PIXELS:,} pixels: the validation images "
         f"are held in memory, about {VALIDATION_BYTES_PER_PIXEL} bytes a pixel (here "
         f"{(r.val_images or 256) * c.resolution ** 2 * VALIDATION_BYTES_PER_PIXEL / 1e9:.1f} GB)"),
        (r.threads is None or r.threads >= 1, "run.threads must be >= 1"),
        (r.workers >= 0, "run.workers must be >= 0"),
        (r.device in ("auto", "cpu", "cuda"), "run.device must be auto, cpu or cuda"),
    ]
    for ok, message in checks:
        if not ok:
            raise NeurenderError(f"invalid config: {message}")
    return c
