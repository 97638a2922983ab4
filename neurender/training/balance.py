"""G/D balancing rules (registered in ``training.registry.BALANCE_RULES``, chosen by ``balance.rule``), and the
default one: a bounded controller driven by the discriminator's accuracy.

Measured on every conv recipe here (docs/gan.md): D's moving accuracy on this task stays at 0.51-0.56, below any
band a GAN text would suggest, and a controller that answers a "weak" D with extra D steps gives G a third of its
steps for the whole phase, which cost more than the balancing gained. So by default the controller only ever
takes from D: G steps at least once every iteration, D at most once (``max_d_steps = 1``), and while D dominates
its step is skipped and G takes extra ones. ``max_d_steps > 1`` restores the symmetric rule of earlier runs.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, fields

from neurender.training.config import BalanceConfig
from neurender.training.registry import BALANCE_RULES


@dataclass(frozen=True)
class Decision:
    d_steps: int  # discriminator updates this iteration (0: skipped)
    g_steps: int  # generator updates this iteration


class BalanceRule:
    """The contract of a balancing rule: built with its options read from its constructor's signature (each from
    [balance] ``options``, else the [balance] setting of that name); ``decision`` is what the next iteration does;
    ``update`` is fed D's accuracy on real and generated images after every iteration of a phase with D (the mean
    over processes) and sets the next decision, which must give G at least one step; ``summary`` is what the log
    records each tick; ``state_dict`` / ``load_state_dict`` carry everything it remembers (exact resume)."""

    decision: Decision

    def update(self, acc_real: float, acc_fake: float) -> Decision:
        raise NotImplementedError

    def summary(self) -> dict:
        raise NotImplementedError

    def state_dict(self) -> dict:
        raise NotImplementedError

    def load_state_dict(self, state: dict) -> None:
        raise NotImplementedError


class BalanceController(BalanceRule):
    """Watches D's accuracy on real and generated images (exponential moving averages) and sets how many D and
    G steps the next iteration takes.

    A bounded integer `lean` in [-max_d_steps + 1, max_g_steps - 1] moves one unit per update: up while the
    mean accuracy is above `high` (D dominates: D's step is skipped and G takes 1 + lean steps, the report's
    "boosting"), down while it is below `low` (D is behind: D takes 1 - lean steps, never more than
    `max_d_steps`; with the default 1 it never outpaces G), and back towards 0 in between. Every decision is
    counted. G takes at least one step in every decision.
    """

    def __init__(self, low: float = 0.6, high: float = 0.85, decay: float = 0.9, max_g_steps: int = 4,
                 max_d_steps: int = 1, enabled: bool = True):
        self.low, self.high, self.decay = low, high, decay
        self.max_g_steps, self.max_d_steps, self.enabled = max_g_steps, max_d_steps, enabled
        self.acc_real = self.acc_fake = 0.5
        self.lean = 0
        self.decision = Decision(1, 1)  # what the next iteration does
        self.counts = {"balanced": 0, "d_skipped": 0, "g_extra_steps": 0, "d_extra_steps": 0}

    @property
    def accuracy(self) -> float:
        return (self.acc_real + self.acc_fake) / 2

    def update(self, acc_real: float, acc_fake: float) -> Decision:
        """Feed the last measured accuracies (fractions in [0, 1]); sets and returns the next iteration's steps."""
        self.decision = self._decide(acc_real, acc_fake)
        return self.decision

    def _decide(self, acc_real: float, acc_fake: float) -> Decision:
        self.acc_real = self.decay * self.acc_real + (1 - self.decay) * acc_real
        self.acc_fake = self.decay * self.acc_fake + (1 - self.decay) * acc_fake
        if not self.enabled:
            self.counts["balanced"] += 1
            return Decision(1, 1)
        if self.accuracy > self.high:
            self.lean = min(self.lean + 1, self.max_g_steps - 1)
        elif self.accuracy < self.low:
            self.lean = max(self.lean - 1, -(self.max_d_steps - 1))
        else:
            self.lean -= (self.lean > 0) - (self.lean < 0)
        if self.lean > 0:
            self.counts["d_skipped"] += 1
            self.counts["g_extra_steps"] += self.lean
            return Decision(0, 1 + self.lean)
        if self.lean < 0:
            self.counts["d_extra_steps"] -= self.lean
            return Decision(1 - self.lean, 1)
        self.counts["balanced"] += 1
        return Decision(1, 1)

    def summary(self) -> dict:
        return {"lean": self.lean, "accuracy_ema": round(self.accuracy, 4), **self.counts}

    def state_dict(self) -> dict:
        return {"acc_real": self.acc_real, "acc_fake": self.acc_fake, "lean": self.lean,
                "decision": [self.decision.d_steps, self.decision.g_steps], "counts": dict(self.counts)}

    def load_state_dict(self, state: dict) -> None:
        self.acc_real, self.acc_fake, self.lean = state["acc_real"], state["acc_fake"], state["lean"]
        self.decision = Decision(*state["decision"])
        self.counts = dict(state["counts"])


def build_rule(b: BalanceConfig) -> BalanceRule:
    """The run's balancing rule (``balance.rule``), each constructor parameter from [balance] options, else the
    [balance] setting of that name (others keep their defaults)."""
    rule = BALANCE_RULES.get(b.rule)
    settings = {f.name: getattr(b, f.name) for f in fields(b) if f.name not in ("rule", "options")}
    return rule(**{k: b.options[k] if k in b.options else settings[k] for k in inspect.signature(rule).parameters
                   if k in b.options or k in settings})
