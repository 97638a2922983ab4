"""The training loop: a small loop over data. The phases (``schedule.phases``) say what each stretch of the run
does, the views (``views.choose``) what G and D train on, the objectives (``objectives.build``) what their losses
are, and the balancing rule (``balance``) how many steps each takes.

Progress is counted in images seen; housekeeping happens once per tick (``housekeeping``). Everything that decides
the future (weights, optimizers, balancing rule, counters, RNG states) is in the checkpoint (``state``), and the
data order is a pure function of (seed, batch number), so a resumed run continues exactly.
"""

from __future__ import annotations

import copy
import signal
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from neurender.errors import NeurenderError
from neurender.metrics.lpips import load_lpips
from neurender.models.generators import check_contract, predict_images
from neurender.training import housekeeping, objectives, schedule, state, views
from neurender.training.balance import build_rule
from neurender.training.config import TrainConfig
from neurender.training.distributed import World, close_world, init_world, mean_over_world, select_device
from neurender.training.memory import check_memory
from neurender.training.networks import build_models, distributed, update_ema
from neurender.training.objectives import Term
from neurender.training.registry import GAN_LOSSES
from neurender.training.sources import open_source, stream
from neurender.training.state import Counters


class Trainer:
    """One run. `Trainer(config).run()` trains from scratch (or `init_from`); `Trainer.resume(path)` continues."""

    def __init__(self, config: TrainConfig, resumed: dict | None = None):
        self.config, self.out = config, Path(config.out)
        r, s, b = config.run, config.schedule, config.balance
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
        self.batches_per_epoch = self.source.epoch_images(s.batch) // s.batch
        if config.sampling.crop_size > self.resolution:
            raise NeurenderError(f"sampling.crop_size {config.sampling.crop_size} is larger than the "
                                 f"{self.resolution} px images of {self.source.description}")
        if s.batch % self.world.size:
            raise NeurenderError(f"batch {s.batch} does not divide over {self.world.size} processes")

        self.g, self.d = build_models(config, self.resolution)  # self.d None: no adversarial phase
        fit = self.source.fit_scenes()
        for model in (m for m in (self.g, self.d) if m is not None):
            if hasattr(model, "param_norm"):  # optional in a generator of your own; overwritten by a checkpoint's
                model.param_norm.fit(fit)
            model.to(self.device, memory_format=torch.channels_last)
        probe = fit[:2].to(self.device, torch.float32)  # before anything is written
        check_contract(config.model.arch, self.g, probe, self.resolution, config.sampling.pixels_per_image,
                       config.sampling.crop_size)
        check_memory(self.g, self.d, probe, s.batch // self.world.size,
                     not (config.sampling.pixels_per_image or config.sampling.crop_size), self.device)
        self.g_ema = copy.deepcopy(self.g).eval().requires_grad_(False)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=s.lr_g, betas=s.betas_g)
        self.opt_d = None if self.d is None else torch.optim.Adam(self.d.parameters(), lr=s.lr_d, betas=s.betas_d)
        self.controller = build_rule(b)
        self.counters = Counters()
        self.gan = GAN_LOSSES.get(config.loss.gan)()
        built = objectives.build(config.loss, self.d is not None, {
            "discriminator": lambda: self.d, "gan_loss": lambda: self.gan, "device": lambda: self.device,
            "lpips": lambda: load_lpips(self.device)})
        self.g_objectives = [o for o in built if o.network == "g"]
        self.d_objectives = [o for o in built if o.network == "d"]
        self.views = views.choose(config.sampling, self.resolution)

        self.changes: dict = {}  # for config-history.jsonl: phase lengths changed on resume, tensors left fresh
        if resumed is not None:
            state.restore(self, resumed)
        elif config.init_from:
            state.start_from(self, Path(config.init_from))
        self.g_train, self.d_train = (distributed(m, self.world, self.device) for m in (self.g, self.d))
        self._stop_signal: int | None = None
        self._stream = None  # the source's loads, from the first batch this trainer takes (next_batch)
        self.last_phase = self.phase()
        self.validated_at: int | None = None

    @classmethod
    def resume(cls, path: Path, dataset: str | None = None, lengths: dict | None = None) -> Trainer:
        """Continue a run from a training checkpoint, exactly; with `lengths`, on a longer (or shorter) schedule
        whose change is appended to the run's config-history.jsonl."""
        config, resumed, changes = state.resumed_config(path, dataset, lengths)
        trainer = cls(config, resumed)
        trainer.changes = changes
        return trainer

    def state_dict(self) -> dict:
        return state.training_state(self)

    def save(self, name: str) -> Path:
        return state.save(self, name)

    def export(self, name: str = "renderer.pt") -> Path:
        return state.export(self, name)

    def predict(self, encoded: torch.Tensor) -> np.ndarray:
        """G_ema's images for encoded scenes (N, 10): (N, R, R, 3) float32 in [0, 1]."""
        return predict_images(self.g_ema, encoded, self.resolution, device=self.device)

    def phase(self) -> schedule.Phase:
        return schedule.phase(self.config.schedule, self.counters.images)

    def next_batch(self) -> views.Batch:
        """The run's next batch, this process's share: params (b, 10), image (b, 3, R, R), mask (b, 1, R, R)."""
        if self._stream is None:  # started here, so that it begins at the batch a resumed run is at
            self._stream = stream(self.source, self.counters.batches, self.config.schedule.batch, self.world.rank,
                                  self.world.size, self.config.run.workers)
        out = self.source.finish(next(self._stream), self.device)
        self.counters.batches += 1
        self.counters.images += self.config.schedule.batch
        return out

    # ------------------------------------------------------------------------------------------ steps

    def _step(self, network: str, step, phase: schedule.Phase) -> tuple[float | None, float | None] | None:
        """One optimizer step of `network` ("g" or "d") on the sum of its objectives' terms for this phase, in
        their order (skipped and counted if it is not finite everywhere); G_ema follows G. Returns D's accuracy
        on (real, fake) as the terms measured it, or None."""
        terms: list[Term] = [t for o in (self.g_objectives if network == "g" else self.d_objectives)
                             if phase.name in o.phases and (t := o(step, phase)) is not None]
        loss, logged = terms[0].loss, dict(terms[0].logged)
        for term in terms[1:]:
            loss = loss + term.loss
            logged.update(term.logged)
        optimizer = self.opt_g if network == "g" else self.opt_d
        optimizer.zero_grad(set_to_none=True)
        if housekeeping.finite_everywhere(self, loss, network):
            loss.backward()
            optimizer.step()
            if network == "g":
                update_ema(self.g_ema, self.g, schedule.ema_beta(self.config.schedule, self.counters.images))
            housekeeping.accumulate(self.counters, **logged)
        return next((t.accuracy for t in terms if t.accuracy is not None), None)

    def _apply_schedule(self) -> None:
        """The learning rates and D's input noise at the images seen (pure functions of them: ``schedule``)."""
        s, images = self.config.schedule, self.counters.images
        for opt, lr in ((self.opt_g, s.lr_g), (self.opt_d, s.lr_d)):
            for group in opt.param_groups if opt is not None else ():
                group["lr"] = lr * schedule.lr_factor(s, images)
        if self.d is not None:
            self.d.noise_std = schedule.d_noise(s, images)

    def iteration(self) -> None:
        """One iteration: one G step in a phase without D; otherwise the balancing rule's D steps, then its G
        steps, and D's accuracy fed back to the rule (measured without training D where its step was skipped)."""
        phase = self.last_phase = self.phase()
        self._apply_schedule()
        g_view = self.views.for_g(phase)
        if not phase.adversarial:
            self._step("g", g_view.rendered(self.g_train, self.next_batch()), phase)
            return
        decision, batch = self.controller.decision, self.next_batch()
        accuracy = None
        for i in range(decision.d_steps):
            pairs = self.views.discriminator.pairs(self.g_train, batch if i == 0 else self.next_batch())
            accuracy = self._step("d", pairs, phase)
        acc_fake = None
        for i in range(decision.g_steps):
            measured = self._step("g", g_view.rendered(self.g_train, batch if i == 0 else self.next_batch()), phase)
            acc_fake = None if measured is None else measured[1]
        if accuracy is None and self.gan.paired:  # D skipped: G's step measured it on the pairs
            accuracy = (acc_fake, acc_fake)
        elif accuracy is None:  # D skipped: measure it without training it
            pairs = self.views.discriminator.pairs(self.g_train, batch, with_fake=False)
            with torch.no_grad():
                acc_real = self.gan.real_accuracy(self.d(pairs.real, pairs.params, pairs.coords))
            accuracy = (acc_real, acc_fake if acc_fake is not None else 0.5)
        accuracy = mean_over_world(list(accuracy), self.world, self.device)
        self.controller.update(*accuracy)
        housekeeping.accumulate(self.counters, d_acc_real=accuracy[0], d_acc_fake=accuracy[1])

    # ------------------------------------------------------------------------------------------ run

    def _on_signal(self, signum, frame) -> None:
        self._stop_signal = signum

    def run(self, stop_at_images: int | None = None, progress: bool = True, stop_after_s: float | None = None) -> dict:
        """Train to the end of the schedule (or to `stop_at_images`, saving `latest` there, as an interruption
        would). With `stop_after_s`, a wall-clock budget: once it is spent, the schedule ends where the run is
        (``housekeeping.end_schedule_here``) and the run finishes as a complete one (validation, renderer.pt).
        Ctrl-C and SIGTERM save `latest.pt` first, then stop. Returns the last tick's log record."""
        housekeeping.open_run(self)
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
                    total = end = bar.total = housekeeping.end_schedule_here(self, f"stop_after_s {stop_after_s:g}")
                if self.counters.images // self.config.run.tick_images > before // self.config.run.tick_images:
                    record = housekeeping.tick(self, time.perf_counter() - tick_start, tick_images)
                    bar.set_postfix(phase=record["phase"], l1=f"{record.get('g_l1', 0):.4f}")
                    tick_start, tick_images = time.perf_counter(), 0
            if self._stop_signal is not None:
                self.save("latest.pt")
                raise NeurenderError(f"interrupted by signal {self._stop_signal} at {self.counters.images} images; "
                                     f"saved {self.out / 'latest.pt'} (continue with --resume latest)")
            if self.counters.images >= total:
                if tick_images:
                    record = housekeeping.tick(self, time.perf_counter() - tick_start, tick_images, final=True)
                housekeeping.finish(self)
            self.save("latest.pt")
        finally:
            bar.close()
            for s, h in handlers.items():
                signal.signal(s, h)
        return record

    def close(self) -> None:
        close_world(self.world)
