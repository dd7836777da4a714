"""Which training steps the monitor measures: every k-th, with k fixed or tuned to a budget.

With ``every="auto"`` the monitor times its own work (hooks, gradient hooks, window
closes) with ``time.perf_counter`` and the wall time between consecutive training
steps, and picks the smallest k for which its cost per step, averaged over k
steps, stays under ``budget`` times the step time without it. Small models pay
little per step and are measured on every step; large activations are sampled.
The records always say how many batches were measured.

Example:
    >>> s = Sampler(3, 0.05)
    >>> [s.sample(step) for step in range(1, 8)]
    [True, False, False, True, False, False, True]
"""

from __future__ import annotations

import math

__all__ = ["Sampler"]


class Sampler:
    """Decides, step by step, whether to measure; tunes k when ``every == "auto"``.

    Args:
        every: a positive int (measure steps 1, 1 + every, ...) or ``"auto"``.
        budget: with ``"auto"``, the largest fraction of the step time to spend.
    """

    #: first measured steps whose cost is not used to tune k (allocations, caches)
    WARMUP = 2
    MAX_K = 10_000

    def __init__(self, every: int | str, budget: float) -> None:
        self.auto = every == "auto"
        self.k = 1 if self.auto else int(every)
        self.budget = float(budget)
        self.cost = 0.0  # monitor seconds spent since the current step began
        self.fresh = False  # new sites were set up during the current step
        self.cost_ema: float | None = None  # monitor seconds per measured step
        self.step_ema: float | None = None  # seconds per step without the monitor
        self._t_prev: float | None = None
        self._last: int | None = None
        self._was_sampled = False
        self._warm = 0

    def restart(self) -> None:
        """Forget the clock (after a pause such as detach/attach); keep what was learnt."""
        self._t_prev = None
        self.cost = 0.0
        self.fresh = False

    def tick(self, now: float) -> None:
        """A training step begins at ``now``: account for the step that just ended."""
        if self.auto and self._t_prev is not None:
            period = now - self._t_prev
            base = max(period - self.cost, 1e-9)
            if self.step_ema is None:
                self.step_ema = base
            else:  # clamp pauses (evaluation, checkpoints) so they do not swamp the average
                self.step_ema += 0.1 * (min(base, 10 * self.step_ema) - self.step_ema)
            if self._was_sampled and not self.fresh:
                self._warm += 1
                if self._warm > self.WARMUP:
                    c = self.cost
                    self.cost_ema = (
                        c if self.cost_ema is None else self.cost_ema + 0.2 * (c - self.cost_ema)
                    )
                    want = self.cost_ema / (self.budget * self.step_ema)
                    self.k = min(max(1, math.ceil(want)), self.MAX_K)
        self._t_prev = now
        self.cost = 0.0
        self.fresh = False

    def sample(self, step: int) -> bool:
        """Whether to measure training step ``step`` (1-based)."""
        sampled = self._last is None or step - self._last >= self.k
        if sampled:
            self._last = step
        self._was_sampled = sampled
        return sampled
