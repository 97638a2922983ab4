"""The training loop: masked-L1 warm-up, adversarial phase with adaptive balancing, fine-tuning.

Progress is counted in images seen; housekeeping happens once per tick (`run.tick_images`). Everything that
decides the future (weights, optimizers, controller, counters, RNG states) is in the checkpoint, and the data
order is a pure function of (seed, batch number), so a resumed run continues exactly.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from neurender.errors import NeurenderError
from neurender.metrics.lpips import load_lpips
from neurender.models.discriminator import Discriminator
from neurender.models.field import gated_image
from neurender.models.generators import (
    build_generator,
    check_contract,
    generator_options,
    generator_spec,
    predict_images,
)
from neurender.outputs import remove_stale
from neurender.training import losses, schedule
from neurender.training.balance import BalanceController, Decision
from neurender.training.checkpoint import (
    FORMAT_VERSION,
    KIND_TRAINING,
    load_checkpoint,
    renderer_export,
    save_atomic,
)
from neurender.training.config import TrainConfig, to_dict, upgrade_layout
from neurender.training.distributed import World, close_world, init_world, mean_over_world
from neurender.training.memory import check_memory
from neurender.training.objectives import Adversarial, MaskedL1, Perceptual, PixelL1
from neurender.training.sources import open_source, stream
from neurender.training.state import Counters, check_compatible, load_shared, resumed_config, stage_record
from neurender.training.validation import SAMPLE_SCENES, VALIDATION_METRICS, save_sample_grid, validation_scores


def select_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise NeurenderError("the run asks for device cuda (--device or run.device) but CUDA is not available here; "
                             "--device cpu runs on the CPU")
    return torch.device("cuda" if name in ("auto", "cuda") and torch.cuda.is_available() else "cpu")


def build_models(config: TrainConfig, resolution: int) -> tuple[torch.nn.Module, torch.nn.Module | None]:
    """G, and D for whole frames or, when G trains on crops, for crops and their coordinates; no D for a schedule
    that is all warm-up."""
    m, crop = config.model, config.sampling.crop_size
    generator = build_generator(m.arch, resolution, generator_options(m.arch, m.width, m.norm, m.options))
    if not config.schedule.uses_discriminator:
        return generator, None
    discriminator = Discriminator(crop or resolution, m.d_width, m.d_conditioning, m.d_spectral, m.d_dropout,
                                  m.d_patch, coords=crop > 0)
    return generator, discriminator


@dataclass
class Crops:
    """Square windows of a batch's images, ``crops_per_image`` per scene (scenes repeated to match)."""

    params: torch.Tensor  # (N, 10)
    origin: torch.Tensor  # (N, 2) int64: row and column of each window's top-left pixel
    target: torch.Tensor  # (N, S*S, 4) RGBA of the window's pixels, row by row
    coords: torch.Tensor  # (N, 2, S, S) NDC of the window's pixels (D's coordinate maps)

    @property
    def real(self) -> torch.Tensor:
        """(N, 3, S, S) the reference images' windows."""
        size = self.coords.shape[-1]
        return self.target[..., :3].transpose(1, 2).reshape(-1, 3, size, size)


class Trainer:
    """One run. `Trainer(config).run()` trains from scratch (or `init_from`); `Trainer.resume(path)` continues."""

    def __init__(self, config: TrainConfig, state: dict | None = None):
        self.config = config
        self.out = Path(config.out)
        r = config.run
        self.device = select_device(r.device)
        self.world: World = init_world(self.device)
        if self.device.type == "cuda":
            self.device = torch.device("cuda", self.world.local_rank)
        if r.threads:
            torch.set_num_threads(r.threads)
        torch.use_deterministic_algorithms(r.deterministic, warn_only=True)
        torch.utils.deterministic.fill_uninitialized_memory = False  # NaN-filling every new tensor costs 10%
        torch.manual_seed(r.seed)

        self.source = open_source(config.dataset, config.preset, r.seed, r.val_images, config.resolution)
        self.resolution = self.source.resolution
        self.batches_per_epoch = self.source.epoch_images(config.schedule.batch) // config.schedule.batch
        if config.sampling.crop_size > self.resolution:
            raise NeurenderError(f"sampling.crop_size {config.sampling.crop_size} is larger than the "
                                 f"{self.resolution} px images of {self.source.description}")
        if config.schedule.batch % self.world.size:
            raise NeurenderError(f"batch {config.schedule.batch} does not divide over {self.world.size} processes")

        self.g, self.d = build_models(config, self.resolution)  # self.d None: no adversarial phase
        models = [m for m in (self.g, self.d) if m is not None]
        fit = self.source.fit_scenes()
        for model in models:  # overwritten by the checkpoint's own statistics on resume / init_from
            if hasattr(model, "param_norm"):  # optional in a generator of your own
                model.param_norm.fit(fit)
        for model in models:
            model.to(self.device, memory_format=torch.channels_last)
        probe = fit[:2].to(self.device, torch.float32)  # before anything is written
        check_contract(config.model.arch, self.g, probe, self.resolution, config.sampling.pixels_per_image,
                       config.sampling.crop_size)
        check_memory(self.g, self.d, probe, config.schedule.batch // self.world.size,
                     not (config.sampling.pixels_per_image or config.sampling.crop_size), self.device)
        self.g_ema = copy.deepcopy(self.g).eval().requires_grad_(False)
        s = config.schedule
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=s.lr_g, betas=s.betas_g)
        self.opt_d = None if self.d is None else torch.optim.Adam(self.d.parameters(), lr=s.lr_d, betas=s.betas_d)
        b = config.balance
        self.controller = BalanceController(b.low, b.high, b.decay, b.max_g_steps, b.max_d_steps, b.enabled)
        self.counters = Counters()
        # G's objectives: whole frames, sampled pixels or crops; D's verdict; LPIPS where configured
        self.masked_l1, self.pixel_l1 = MaskedL1(config.loss), PixelL1(config.loss)
        self.adversarial = None if self.d is None else Adversarial(config.loss, self.d)
        self.perceptual = Perceptual(config.loss, load_lpips(self.device)) if config.loss.lpips_weight > 0 else None

        # written to config-history.jsonl by run(): phase lengths changed on resume, tensors init_from left fresh
        self.changes: dict = {}
        if state is not None:
            self._load_state(state)
        elif config.init_from:
            self._init_from(Path(config.init_from))
        self.g_train, self.d_train = self.g, self.d
        if self.world.size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.g_train = DistributedDataParallel(self.g, device_ids=ids)
            self.d_train = None if self.d is None else DistributedDataParallel(self.d, device_ids=ids)
        self._stop_signal: int | None = None
        self._stream = None  # the source's loads, from the first batch this trainer takes (next_batch)
        self.last_phase = self.phase()
        self._validated_at: int | None = None

    # ------------------------------------------------------------------------------------------ state

    @classmethod
    def resume(cls, path: Path, dataset: str | None = None, lengths: dict | None = None) -> Trainer:
        """Continue a run from a training checkpoint, exactly; with `lengths`, on a longer (or shorter) schedule
        whose change is appended to the run's config-history.jsonl."""
        config, state, changes = resumed_config(path, dataset, lengths)
        trainer = cls(config, state)
        trainer.changes = changes
        return trainer

    def _load_state(self, state: dict) -> None:
        check_compatible(state, self.config.model, self.resolution, self.source.description, "the checkpoint")
        if state["source"] != self.source.identity:
            raise NeurenderError(f"the checkpoint was trained on other data than {self.source.description} "
                                 "(dataset checksums or preset differ); pass --dataset with the original")
        self.g.load_state_dict(state["g"])
        self.g_ema.load_state_dict(state["g_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        if self.d is not None and state.get("d") is not None:  # else a fresh D: the run gained an adversarial phase
            self.d.load_state_dict(state["d"])
            self.opt_d.load_state_dict(state["opt_d"])
        self.controller.load_state_dict(state["controller"])
        self.counters = Counters(**state["counters"])
        torch.set_rng_state(state["rng"]["torch"])
        if self.device.type == "cuda" and state["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)

    def _init_from(self, path: Path) -> None:
        """Start from another run's weights: a training checkpoint (G, G_ema and, where its D is built alike, D)
        or a renderer export (its G_ema as G and G_ema). From another architecture (field -> phong_field, say) or
        other options of the same one, the tensors both share load and the rest keep their initial values, listed
        in config-history.jsonl."""
        state = load_checkpoint(path)
        training = state["kind"] == KIND_TRAINING
        theirs = state["config"]["model"] if training else state["model"]
        pair = {theirs["arch"], self.config.model.arch}
        same = len(pair) == 1 and theirs.get("options", {}) == self.config.model.options
        trunks = {generator_spec(arch).trunk for arch in pair}
        related = len(pair) == 1 or (len(trunks) == 1 and None not in trunks)
        check_compatible(state, self.config.model, self.resolution, self.source.description, str(path),
                         ("width",) if related and not same else ("arch", "width", "norm", "options"))
        g, g_ema = (state["g"], state["g_ema"]) if training else (state["g_ema"], state["g_ema"])
        if same:
            self.g.load_state_dict(g)
            self.g_ema.load_state_dict(g_ema)
        else:  # g_ema is a copy of g so far: their fresh tensors agree
            fresh = load_shared(self.g, g, str(path))
            load_shared(self.g_ema, g_ema, str(path))
            self.changes["init_from.fresh"] = fresh
        if not training:
            self.counters.inherited_images = state["images_seen"]
            self.counters.lineage = state.get("training") or [{"init_from": str(path),
                                                                "images_seen": state["images_seen"]}]
            return
        self.counters.inherited_images = state["counters"]["images"] + state["counters"].get("inherited_images", 0)
        self.counters.lineage = [*state["counters"].get("lineage", []),
                                 stage_record(state["config"], state["counters"]["images"])]
        their_crop = upgrade_layout(state["config"]).get("sampling", {}).get("crop_size", 0)
        same_shape = their_crop == self.config.sampling.crop_size
        same_d = all(theirs[k] == getattr(self.config.model, k) for k in theirs if k.startswith("d_"))
        if self.d is not None and state.get("d") is not None and same_shape and same_d:
            self.d.load_state_dict(state["d"])

    def state_dict(self) -> dict:
        return {
            "kind": KIND_TRAINING, "format_version": FORMAT_VERSION, "config": to_dict(self.config),
            "resolution": self.resolution, "camera": self.source.camera_dict, "source": self.source.identity,
            "g": self.g.state_dict(), "g_ema": self.g_ema.state_dict(),
            "d": None if self.d is None else self.d.state_dict(), "opt_g": self.opt_g.state_dict(),
            "opt_d": None if self.opt_d is None else self.opt_d.state_dict(),
            "controller": self.controller.state_dict(), "counters": vars(self.counters).copy(),
            "rng": {"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None},
        }

    def save(self, name: str) -> Path:
        path = self.out / name
        if self.world.main:
            save_atomic(self.state_dict(), path)
        return path

    def export(self, name: str = "renderer.pt") -> Path:
        path = self.out / name
        if self.world.main:
            config = to_dict(self.config)
            training = [*self.counters.lineage, stage_record(config, self.counters.images)]
            save_atomic(renderer_export(self.g_ema.state_dict(), config["model"], self.resolution,
                                        self.source.camera_dict,
                                        self.counters.images + self.counters.inherited_images, training), path)
        return path

    # ------------------------------------------------------------------------------------------ data

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The run's next batch, this process's share: params (b, 10), image (b, 3, R, R), mask (b, 1, R, R)."""
        if self._stream is None:  # started here, so that it begins at the batch a resumed run is at
            self._stream = stream(self.source, self.counters.batches, self.config.schedule.batch, self.world.rank,
                                  self.world.size, self.config.run.workers)
        out = self.source.finish(next(self._stream), self.device)
        self.counters.batches += 1
        self.counters.images += self.config.schedule.batch
        return out

    # ------------------------------------------------------------------------------------------ schedule

    def phase(self) -> str:
        return schedule.phase(self.config.schedule, self.counters.images)

    def _apply_schedule(self) -> None:
        s, images = self.config.schedule, self.counters.images
        for opt, lr in ((self.opt_g, s.lr_g), (self.opt_d, s.lr_d)):
            for group in opt.param_groups if opt is not None else ():
                group["lr"] = lr * schedule.lr_factor(s, images)
        if self.d is not None:
            self.d.noise_std = schedule.d_noise(s, images)

    # ------------------------------------------------------------------------------------------ steps

    def _accumulate(self, **values: float) -> None:
        sums = self.counters.tick_sums
        for k, v in values.items():
            total, count = sums.get(k, (0.0, 0))
            sums[k] = (total + v, count + 1)

    def _finite_everywhere(self, loss: torch.Tensor, network: str) -> bool:
        """Whether the loss is finite in every process; if not, the step is skipped and counted."""
        ok = mean_over_world([float(torch.isfinite(loss).item())], self.world, self.device)[0] == 1.0
        in_row = self.counters.bad_in_row
        if ok:
            in_row[network] = 0
            return True
        self.counters.bad_steps += 1
        in_row[network] += 1
        if in_row[network] >= self.config.run.max_bad_steps:
            path = self.save("latest.pt")
            raise NeurenderError(f"stopped: {in_row[network]} non-finite {network.upper()} losses in a row at "
                                 f"{self.counters.images} images; the last good state is in {path}. "
                                 "Lower the learning rates or the loss weights and resume.")
        return False

    def g_step(self, batch, adversarial: bool, l1_factor: float) -> float | None:
        params, image, mask = batch
        if self.config.sampling.crop_size:
            return self._crop_step(self._crops(batch), adversarial, l1_factor)
        if not adversarial and self.config.sampling.pixels_per_image:
            return self._pixel_step(params, image, mask)
        fake = self.g_train(params)
        loss, parts = self.masked_l1(fake, image, mask, l1_factor)
        loss, acc_fake = self._image_terms(loss, parts, fake, image, params, None, adversarial)
        self._g_update(loss, parts)
        return acc_fake

    def _image_terms(self, loss: torch.Tensor, parts: dict, fake: torch.Tensor, real: torch.Tensor,
                     params: torch.Tensor, coords: torch.Tensor | None, adversarial: bool
                     ) -> tuple[torch.Tensor, float | None]:
        """``loss`` plus the terms that judge G's images (frames or crops) whole: D's (in the adversarial phase)
        and LPIPS (where configured), each recorded in ``parts``; also D's accuracy on them (None: no D)."""
        acc_fake = None
        if adversarial:
            term, logged, acc_fake = self.adversarial(fake, real, params, coords)
            loss = loss + term
            parts.update(logged)
        if self.perceptual is not None:
            term, logged = self.perceptual(fake, real)
            loss = loss + term
            parts.update(logged)
        return loss, acc_fake

    def _g_update(self, loss: torch.Tensor, parts: dict) -> None:
        """One optimizer step of G on ``loss`` (skipped and counted if it is not finite everywhere), G_ema's
        update, and ``parts`` into the tick's sums."""
        self.opt_g.zero_grad(set_to_none=True)
        if self._finite_everywhere(loss, "g"):
            loss.backward()
            self.opt_g.step()
            self._update_ema()
            self._accumulate(**parts)

    def _pixel_step(self, params: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> None:
        """A G step on sampled pixels of each scene (silhouette, object, detail and uniform pixels in the
        sampling shares, see ``losses.sample_pixels``): coverage cross-entropy against the mask plus L1 of the
        colour on the object."""
        s = self.config.sampling
        pixels = losses.sample_pixels(mask, s.pixels_per_image, s.silhouette_share, s.object_share, s.detail_share,
                                      image)
        target = torch.cat([image, mask], 1).flatten(2).gather(2, pixels[:, None].expand(-1, 4, -1))
        colour, logit = self.g_train(params, pixels)
        self._g_update(*self.pixel_l1(colour, logit, target.transpose(1, 2)))

    def _crops(self, batch) -> Crops:
        """Windows of ``sampling.crop_size`` pixels around pixels drawn per scene as the sampled-pixel shares
        say (silhouette, object, shading detail, anywhere), moved inside the frame."""
        params, image, mask = batch
        s, r = self.config.sampling, self.resolution
        size = s.crop_size
        centre = losses.sample_pixels(mask, s.crops_per_image, s.silhouette_share, s.object_share, s.detail_share,
                                      image).flatten()
        scene = torch.arange(len(params), device=params.device).repeat_interleave(s.crops_per_image)
        origin = (torch.stack([centre // r, centre % r], 1) - size // 2).clamp(0, r - size)
        span = torch.arange(size, device=params.device)
        rows, cols = origin[:, :1] + span, origin[:, 1:] + span  # (N, S) each
        rgba = torch.cat([image, mask], 1)
        target = rgba[scene[:, None, None], :, rows[:, :, None], cols[:, None, :]].reshape(len(scene), size * size, 4)
        points = self.g.window_points(origin, size).view(-1, size + 2 * self.g.margin, size + 2 * self.g.margin, 2)
        inner = slice(self.g.margin, self.g.margin + size)
        coords = points[:, inner, inner].permute(0, 3, 1, 2)
        return Crops(params[scene], origin, target, coords)

    def _crop_images(self, crops: Crops) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """G's colours (N, S*S, 3), coverage logits (N, S*S) and gated images (N, 3, S, S) of the crops."""
        size = crops.coords.shape[-1]
        colour, logit = self.g_train(crops.params, crops.origin, size)
        fake = gated_image(colour, logit).transpose(1, 2).reshape(-1, 3, size, size)
        return colour, logit, fake

    def _crop_step(self, crops: Crops, adversarial: bool, l1_factor: float) -> float | None:
        """A G step on crops: coverage cross-entropy and object L1 over their pixels (as ``_pixel_step``), plus
        D's verdict on the gated crops in the adversarial phase (and LPIPS where configured)."""
        colour, logit, fake = self._crop_images(crops)
        loss, parts = self.pixel_l1(colour, logit, crops.target, l1_factor)
        loss, acc_fake = self._image_terms(loss, parts, fake, crops.real, crops.params, crops.coords, adversarial)
        self._g_update(loss, parts)
        return acc_fake

    def _d_pairs(self, batch, with_fake: bool = True):
        """What D compares: (real images, G's images or None, params, coordinate maps or None), whole frames
        or, when G trains on crops, crops of them."""
        params, image, _ = batch
        if self.config.sampling.crop_size:
            crops = self._crops(batch)
            fake = None
            if with_fake:
                with torch.no_grad():
                    fake = self._crop_images(crops)[2]
            return crops.real, fake, crops.params, crops.coords
        fake = None
        if with_fake:
            with torch.no_grad():
                fake = self.g_train(params)
        return image, fake, params, None

    def d_step(self, batch) -> tuple[float, float]:
        real, fake, params, coords = self._d_pairs(batch)
        real_logits, fake_logits = self.d_train(real, params, coords), self.d_train(fake, params, coords)
        loss = losses.d_loss(real_logits, fake_logits, self.config.loss.gan, self.config.loss.label_smoothing)
        acc = losses.accuracy(real_logits.detach(), fake_logits.detach(), self.config.loss.gan)
        self.opt_d.zero_grad(set_to_none=True)
        if self._finite_everywhere(loss, "d"):
            loss.backward()
            self.opt_d.step()
            self._accumulate(d=loss.item())
        return acc

    def _update_ema(self) -> None:
        beta = schedule.ema_beta(self.config.schedule, self.counters.images)
        with torch.no_grad():
            for p_ema, p in zip(self.g_ema.parameters(), self.g.parameters(), strict=True):
                p_ema.lerp_(p, 1 - beta)
            for b_ema, b in zip(self.g_ema.buffers(), self.g.buffers(), strict=True):
                b_ema.copy_(b)

    def iteration(self) -> None:
        """One iteration: G alone in warm-up; later the controller's D steps, then its G steps."""
        phase = self.last_phase = self.phase()
        self._apply_schedule()
        l1_factor = self.config.schedule.finetune_l1_factor if phase == "finetune" else 1.0
        if phase == "warmup":
            self.g_step(self.next_batch(), adversarial=False, l1_factor=1.0)
            return
        decision: Decision = self.controller.decision
        batch = self.next_batch()
        acc = None
        for i in range(decision.d_steps):
            acc = self.d_step(batch if i == 0 else self.next_batch())
        acc_fake = None
        for i in range(decision.g_steps):
            acc_fake = self.g_step(batch if i == 0 else self.next_batch(), adversarial=True, l1_factor=l1_factor)
        if acc is None and self.config.loss.gan == "rpgan":  # D skipped: G's step measured it on the pairs
            acc = (acc_fake, acc_fake)
        elif acc is None:  # D skipped: measure it without training it
            real, _, params, coords = self._d_pairs(batch, with_fake=False)
            with torch.no_grad():
                acc_real = (self.d(real, params, coords) > 0).float().mean().item()
            acc = (acc_real, acc_fake if acc_fake is not None else 0.5)
        acc = mean_over_world(list(acc), self.world, self.device)
        self.controller.update(*acc)
        self._accumulate(d_acc_real=acc[0], d_acc_fake=acc[1])

    # ------------------------------------------------------------------------------------------ housekeeping

    def _log(self, name: str, record: dict) -> None:
        if self.world.main:
            with open(self.out / name, "a") as f:
                f.write(json.dumps(record) + "\n")

    def tick(self, seconds: float, images: int) -> dict:
        c = self.counters
        c.ticks += 1
        record = {"tick": c.ticks, "images": c.images, "phase": self.last_phase,
                  **{k: total / n for k, (total, n) in sorted(c.tick_sums.items())},
                  "balance": {"lean": self.controller.lean, "accuracy_ema": round(self.controller.accuracy, 4),
                              **self.controller.counts},
                  "lr_g": self.opt_g.param_groups[0]["lr"],
                  **({} if self.d is None else {"lr_d": self.opt_d.param_groups[0]["lr"], "d_noise": self.d.noise_std}),
                  "bad_steps": c.bad_steps,
                  "images_per_s": round(images / max(seconds, 1e-9), 2), "time": time.time()}
        c.tick_sums = {}
        self._log("log.jsonl", record)
        return record

    def predict(self, encoded: torch.Tensor) -> np.ndarray:
        """G_ema's images for encoded scenes (N, 10): (N, R, R, 3) float32 in [0, 1]."""
        return predict_images(self.g_ema, encoded, self.resolution, device=self.device)

    def validate(self) -> dict:
        """G_ema's validation record: images seen, epoch, time and the VALIDATION_METRICS means."""
        scores = validation_scores(self.source.val_rgba, self.predict(self.source.val_encoded))
        return {"images": self.counters.images, "epoch": self.counters.validated_epochs, "time": time.time(), **scores}

    def samples(self) -> None:
        """A grid of fixed validation scenes: the reference above G_ema's image."""
        if self.world.main and len(self.source.val_rgba):
            prediction = self.predict(self.source.val_encoded[:SAMPLE_SCENES])
            save_sample_grid(self.source.val_rgba[:SAMPLE_SCENES], prediction,
                             self.out / "samples" / f"samples-{self.counters.images:09d}.png")

    def _end_of_epoch(self) -> bool:
        return self.counters.batches // self.batches_per_epoch > self.counters.validated_epochs

    def _validation_round(self) -> None:
        self.counters.validated_epochs = self.counters.batches // self.batches_per_epoch
        if not self.world.main or not len(self.source.val_rgba) or self._validated_at == self.counters.images:
            return
        self._validated_at = self.counters.images
        record = self.validate()
        value = record[VALIDATION_METRICS[0]]
        record["best"] = value is not None and value < self.counters.best
        self._log("metrics.jsonl", record)
        if record["best"]:
            self.counters.best = value
            self.save("best.pt")
            self.export("renderer-best.pt")

    # ------------------------------------------------------------------------------------------ run

    def _on_signal(self, signum, frame) -> None:
        self._stop_signal = signum

    def run(self, stop_at_images: int | None = None, progress: bool = True, stop_after_s: float | None = None) -> dict:
        """Train to the end of the schedule (or to `stop_at_images`, saving `latest` there, as an interruption
        would). With `stop_after_s`, a wall-clock budget: once it is spent, the schedule ends where the run is
        (``end_schedule_here``) and the run finishes as a complete one (validation, renderer.pt). Ctrl-C and SIGTERM
        save `latest.pt` first, then stop. Returns the last tick's log record."""
        self.out.mkdir(parents=True, exist_ok=True)
        if self.world.main:
            remove_stale(self.out)  # checkpoint temporaries of a killed run
            (self.out / "config.json").write_text(json.dumps(to_dict(self.config), indent=2) + "\n")
            if self.changes:
                self._log("config-history.jsonl", {"images": self.counters.images, "time": time.time(),
                                                   "changed": self.changes})
                self.changes = {}
        total = self.config.schedule.total_images
        end = min(total, stop_at_images) if stop_at_images else total
        handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        record: dict = {}
        bar = tqdm(total=total, initial=self.counters.images, unit="img", desc="train",
                   disable=None if progress and self.world.main else True)
        try:
            started = tick_start = time.perf_counter()
            tick_images = 0
            while self.counters.images < end:
                before = self.counters.images
                self.iteration()
                bar.update(self.counters.images - before)
                tick_images += self.counters.images - before
                if self._stop_signal is not None:
                    break
                spent = stop_after_s is not None and time.perf_counter() - started >= stop_after_s
                if stop_after_s is not None and mean_over_world([float(spent)], self.world, self.device)[0] > 0:
                    total = end = bar.total = self.end_schedule_here(f"stop_after_s {stop_after_s:g}")
                if self.counters.images // self.config.run.tick_images > (before // self.config.run.tick_images):
                    record = self.tick(time.perf_counter() - tick_start, tick_images)
                    bar.set_postfix(phase=record["phase"], l1=f"{record.get('g_l1', 0):.4f}",
                                    acc=f"{self.controller.accuracy:.2f}")
                    tick_start, tick_images = time.perf_counter(), 0
                    if self.counters.ticks % self.config.run.sample_ticks == 0:
                        self.samples()
                    if self._end_of_epoch():
                        self._validation_round()
                    self.save("latest.pt")
                    if self.counters.ticks % self.config.run.snapshot_ticks == 0:
                        self.save(f"snapshot-{self.counters.images:09d}.pt")
            if self._stop_signal is not None:
                self.save("latest.pt")
                raise NeurenderError(f"interrupted by signal {self._stop_signal} at {self.counters.images} images; "
                                     f"saved {self.out / 'latest.pt'} (continue with --resume latest)")
            if self.counters.images >= total:
                if tick_images:
                    record = self.tick(time.perf_counter() - tick_start, tick_images)
                self.samples()
                self._validation_round()
                self.export("renderer.pt")
            self.save("latest.pt")
        finally:
            bar.close()
            for s, h in handlers.items():
                signal.signal(s, h)
        return record

    def end_schedule_here(self, reason: str) -> int:
        """Shorten the schedule to the images trained so far (the current phase ends here, later ones are dropped),
        recorded in config.json and config-history.jsonl; returns the new total. A resumed run may extend the
        phases again."""
        s, images = self.config.schedule, self.counters.images
        warmup = min(s.warmup_images, images)
        adversarial = min(s.adversarial_images, images - warmup)
        lengths = {"warmup_images": warmup, "adversarial_images": adversarial,
                   "finetune_images": images - warmup - adversarial}
        changed = {f"schedule.{k}": [getattr(s, k), v] for k, v in lengths.items() if getattr(s, k) != v}
        self.config = dataclasses.replace(self.config, schedule=dataclasses.replace(s, **lengths))
        if self.world.main and changed:
            (self.out / "config.json").write_text(json.dumps(to_dict(self.config), indent=2) + "\n")
            self._log("config-history.jsonl", {"images": images, "time": time.time(), "changed": changed,
                                               "reason": reason})
        return images

    def close(self) -> None:
        close_world(self.world)
