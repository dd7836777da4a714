"""Streaming per-unit statistics of one call site, and what a window of them says.

Everything here is bounded by the number of units, never by the number of steps:
a site keeps a few preallocated tensors of length ``units`` per window source
(training or scan) and adds each sampled batch into them with torch reductions,
on the activation's device, without a host sync. Only when a window closes are
they copied to the host, turned into a record, and zeroed.

Definitions (per unit: a feature of a Linear output, a channel of a conv output):

- **dead**: the unit's output was 0 (``|y| <= zero_tol``) and its derivative saturated
  (``|f'(x)| < eps``) for every value it produced in the window: every sample, and
  every position for a conv channel. No gradient reaches its weights. (For ReLU the
  two conditions coincide; a tanh unit fed only zeros outputs 0 but is not dead.)
- **sparsity**: the fraction of output values that are 0 (``|y| <= zero_tol``).
- **saturation**: the fraction of pre-activation values where ``|f'(x)| < eps``,
  from the catalogue's derivative (see :mod:`actlab.monitor.saturation`).
- **frozen**: a unit saturated on every value in the window (dead ReLUs are frozen;
  so is a sigmoid stuck at 1).
- **grad_norm**: the L2 norm of the gradient reaching the site's output (``dL/dy``
  over the whole batch tensor), root-mean-square over the window's backward passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .activations import Target
from .saturation import SaturationCounter

__all__ = ["Accumulator", "History", "Site", "UnitTracker", "WindowInfo"]


class Accumulator:
    """Running sums of one site over one window (preallocated; zeroed when it closes).

    Counts are floats: comparisons written as 0.0/1.0 into a float buffer sum several
    times faster than bool tensors, and for 2-D outputs one BLAS ``addmv_`` adds a
    whole batch into the accumulator in place. In float32 (float64 for float64
    models) counts are exact up to 2**24 values per unit and window; beyond that a
    count is off by at most a few parts in 1e7, and a zero count stays exactly zero.
    """

    __slots__ = (
        "calls",
        "gcount",
        "gsumsq",
        "live",
        "nonzero",
        "samples",
        "sat_values",
        "saturated",
        "sum",
        "sumsq",
        "values",
    )

    def __init__(self, units: int, device: torch.device, dtype: torch.dtype) -> None:
        self.nonzero = torch.zeros(units, dtype=dtype, device=device)
        self.saturated = torch.zeros(units, dtype=dtype, device=device)
        self.sum = torch.zeros(units, dtype=dtype, device=device)
        self.sumsq = torch.zeros(units, dtype=dtype, device=device)
        self.gsumsq = torch.zeros(1, dtype=dtype, device=device)
        self.live = True
        self._zero_counts()

    def _zero_counts(self) -> None:
        self.values = 0  # values per unit seen in the output (samples x positions)
        self.sat_values = 0  # values per unit whose pre-activation was checked
        self.samples = 0
        self.calls = 0
        self.gcount = 0

    @property
    def dtype(self) -> torch.dtype:
        return self.sum.dtype

    def reset(self) -> None:
        for t in self.tensors():
            t.zero_()
        self._zero_counts()

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.nonzero, self.saturated, self.sum, self.sumsq, self.gsumsq)

    def grad_hook(self, grad: torch.Tensor) -> None:
        """Tensor hook on the site's output: reads the gradient, never changes it."""
        if not self.live:
            return None
        add_sumsq(self.gsumsq, grad.detach())
        self.gcount += 1
        return None


def add_sumsq(acc: torch.Tensor, t: torch.Tensor) -> None:
    """``acc += sum(t * t)`` in one BLAS call (``acc`` has shape ``(1,)``)."""
    flat = t.reshape(-1)
    if flat.dtype != acc.dtype:
        flat = flat.to(acc.dtype)
    acc.addmv_(flat.unsqueeze(0), flat)


class Scratch:
    """Buffers shared by all sites (hooks run one at a time): one per device and dtype,
    as large as the largest tensor seen, that comparisons write 0.0/1.0 into; and
    vectors of ones for row sums."""

    def __init__(self) -> None:
        self._bufs: dict[tuple, torch.Tensor] = {}
        self._views: dict[tuple, torch.Tensor] = {}
        self._ones: dict[tuple, torch.Tensor] = {}

    def like(self, t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """A contiguous buffer of ``t``'s shape (its contents are garbage)."""
        key = (t.device, dtype, t.shape)
        v = self._views.get(key)
        if v is None:
            if len(self._views) >= 64:  # varying shapes (sequence lengths): stay bounded
                self._views.clear()
            n = t.numel()
            bkey = (t.device, dtype)
            b = self._bufs.get(bkey)
            if b is None or b.numel() < n:
                b = self._bufs[bkey] = torch.empty(max(n, 1), dtype=dtype, device=t.device)
                self._views = {k: w for k, w in self._views.items() if k[:2] != bkey}
            v = self._views[key] = b[:n].view(t.shape)
        return v

    def ones(self, n: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        key = (n, device, dtype)
        v = self._ones.get(key)
        if v is None:
            if len(self._ones) >= 64:
                self._ones.clear()
            v = self._ones[key] = torch.ones(n, dtype=dtype, device=device)
        return v

    def clear(self) -> None:
        self._bufs.clear()
        self._views.clear()
        self._ones.clear()


@dataclass
class WindowInfo:
    """What a record was measured over.

    Attributes:
        source: ``"train"`` (the user's training steps) or ``"scan"`` (:meth:`Monitor.scan`).
        kind: ``"batches"`` (every N batches), ``"epoch"`` (closed by ``end_epoch()``),
            ``"scan"``.
        index: 1-based number of this window among those of its source.
        start, end: first and last training step it covers (a scan: the step it ran at).
        batches: batches (forward calls of the model) in the window.
        sampled: of those, the batches the monitor measured (every k-th step).
        partial: the window was still open when the record was made.
    """

    source: str
    kind: str
    index: int
    start: int
    end: int
    batches: int
    sampled: int
    partial: bool = False

    @property
    def label(self) -> str:
        part = ", partial" if self.partial else ""
        if self.kind == "scan":
            return f"scan of {self.batches} batches at step {self.end}"
        sampled = "all" if self.sampled == self.batches else f"{self.sampled}"
        span = f"steps {self.start}-{self.end} ({self.batches} batches, {sampled} sampled{part})"
        if self.kind == "epoch":
            return f"epoch {self.index}, {span}"
        return span


class UnitTracker:
    """Which units are dead, since when, and how many died and came back, across windows."""

    def __init__(self, units: int) -> None:
        self.dead = np.zeros(units, dtype=bool)
        self.since = np.full(units, -1, dtype=np.int64)
        self.ever_dead = np.zeros(units, dtype=bool)
        self.died_total = 0
        self.revived_total = 0

    def update(self, dead: np.ndarray, start: int, *, commit: bool = True) -> dict[str, Any]:
        died = dead & ~self.dead
        revived = ~dead & self.dead
        since = np.where(died, start, np.where(dead, self.since, -1))
        ever = self.ever_dead | dead
        out = {
            "died": int(died.sum()),
            "revived": int(revived.sum()),
            "died_total": self.died_total + int(died.sum()),
            "revived_total": self.revived_total + int(revived.sum()),
            "ever_dead": int(ever.sum()),
            "since": since,
        }
        if commit:
            self.dead, self.since, self.ever_dead = dead.copy(), since, ever
            self.died_total, self.revived_total = out["died_total"], out["revived_total"]
        return out


@dataclass
class Site:
    """One monitored call site: a module call or a functional activation call.

    Attributes:
        name: ``"features.3"`` (a module), ``"features.3#2"`` (its second call in one
            forward), ``"block1:relu#1"`` (the first functional activation call inside
            module ``block1``; ``model:`` for the model's own forward).
        source: ``"module"`` or ``"function"``.
        target: the activation and its parameters.
        order: position in forward order (0 = nearest the input).
    """

    name: str
    source: str
    target: Target
    order: int
    eps: float
    zero_tol: float
    unit_dim: int
    units: int = 0
    acc: dict[str, Accumulator] = field(default_factory=dict)
    trackers: dict[str, UnitTracker] = field(default_factory=dict)
    last_units: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    _dims: dict[int, tuple[int, ...]] = field(default_factory=dict)
    _counters: dict[tuple, SaturationCounter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # ReLU: relu'(x) = 0 exactly where relu(x) = 0 (x <= 0; NaN is neither), so its
        # saturated values are its zero outputs and need no second count. Checked
        # against the catalogue's derivative, not assumed.
        self.sat_from_zeros = (
            self.target.act.name == "relu"
            and self.zero_tol == 0
            and self.target.tensor_params is None
            and self._counter(self.target.params).regions == ((-math.inf, 0.0),)
        )

    def _counter(self, params: dict[str, Any]) -> SaturationCounter:
        key = tuple(sorted(params.items()))
        counter = self._counters.get(key)
        if counter is None:
            if len(self._counters) >= 32:  # calls with ever-changing parameters: stay bounded
                self._counters.clear()
            counter = self._counters[key] = SaturationCounter(self.target.act, params, self.eps)
        return counter

    # -- per batch -------------------------------------------------------------------
    def accumulator(self, source: str, y: torch.Tensor) -> Accumulator | None:
        """The window accumulator for ``source``, (re)allocated for ``y``'s unit count."""
        if y.dim() == 0:
            return None
        d = 0 if y.dim() == 1 else self.unit_dim % y.dim()
        units = y.shape[d]
        if units != self.units:  # first call, or the layer changed width
            self.units = units
            self.acc.clear()
            self.trackers.clear()
            self.last_units.clear()
        acc = self.acc.get(source)
        if acc is None or acc.nonzero.device != y.device:
            dtype = torch.float64 if y.dtype == torch.float64 else torch.float32
            acc = self.acc[source] = Accumulator(units, y.device, dtype)
        return acc

    def dims(self, ndim: int) -> tuple[int, ...]:
        dims = self._dims.get(ndim)
        if dims is None:
            d = 0 if ndim == 1 else self.unit_dim % ndim
            dims = self._dims[ndim] = tuple(i for i in range(ndim) if i != d) or (0,)
        return dims

    def _rows(self, t: torch.Tensor) -> torch.Tensor | None:
        """``t`` as a ``(rows, units)`` view when that needs no copy, else ``None``."""
        if t.dim() == 2 and self.unit_dim % 2 == 1:
            return t
        if self.unit_dim % t.dim() == t.dim() - 1 and t.is_contiguous():
            return t.view(-1, t.shape[-1])
        return None

    def add_per_unit(
        self, acc_vec: torch.Tensor, t: torch.Tensor, scratch: Scratch, alpha: float = 1.0
    ) -> None:
        """``acc_vec[u] += alpha * sum of t over everything but the unit dimension``."""
        rows = self._rows(t)
        if rows is not None:
            ones = scratch.ones(rows.shape[0], rows.device, rows.dtype)
            acc_vec.addmv_(rows.t(), ones, alpha=alpha)
        else:
            acc_vec.add_(t.sum(self.dims(t.dim())), alpha=alpha)

    def observe_input(
        self,
        acc: Accumulator,
        x: torch.Tensor,
        scratch: Scratch,
        params: dict[str, Any] | None = None,
        tensor_params: dict[str, Any] | None = None,
    ) -> None:
        """Count the saturated pre-activation values per unit."""
        if self.sat_from_zeros and params is None:
            return
        counter = self._counter(self.target.params if params is None else params)
        x = x.detach()
        if x.dim() == 1:
            x = x.unsqueeze(0)
        counter.count(x, scratch.like(x, acc.dtype), acc.saturated, self, scratch, tensor_params)
        acc.sat_values += x.numel() // max(self.units, 1)

    def observe_output(self, acc: Accumulator, y: torch.Tensor, scratch: Scratch) -> None:
        """Count non-zero outputs and add their sums and sums of squares, per unit.

        Inputs are detached, so nothing here is recorded by autograd.
        """
        y = y.detach()
        if y.dim() == 1:
            y = y.unsqueeze(0)
        if y.dtype != acc.dtype:
            y = y.to(acc.dtype)
        buf = scratch.like(y, acc.dtype)
        if self.zero_tol == 0:
            torch.ne(y, 0, out=buf)
        else:
            torch.gt(y.abs(), self.zero_tol, out=buf)
        self.add_per_unit(acc.nonzero, buf, scratch)
        self.add_per_unit(acc.sum, y, scratch)
        torch.mul(y, y, out=buf)
        self.add_per_unit(acc.sumsq, buf, scratch)
        acc.values += y.numel() // max(self.units, 1)
        d = self.unit_dim % y.dim()
        acc.samples += y.shape[0] if d != 0 else 1
        acc.calls += 1

    # -- per window ------------------------------------------------------------------
    def close(self, acc: Accumulator, info: WindowInfo, *, commit: bool = True) -> dict[str, Any]:
        """The record of this window; with ``commit``, remember it and zero the sums."""
        flat = torch.cat([t.reshape(-1).to(torch.float64) for t in acc.tensors()]).cpu().numpy()
        u = self.units
        nz, sat, s, usq = (flat[i * u : (i + 1) * u] for i in range(4))
        sq, gsumsq = float(usq.sum()), float(flat[4 * u])
        V, SV = acc.values, acc.sat_values
        if self.sat_from_zeros:
            sat, SV = V - nz, V
        n = V * u
        with np.errstate(invalid="ignore", divide="ignore"):
            unit_mean = s / V if V else np.full(u, np.nan)
            unit_std = np.sqrt(np.maximum(usq / V - unit_mean**2, 0.0)) if V else unit_mean
            mean = float(s.sum() / n) if n else math.nan
            var = sq / n - mean * mean if n else math.nan
        frozen = (sat >= SV) if SV else np.zeros(u, dtype=bool)
        # dead: output 0 and |f'| < eps on every value, so no gradient passes either (a
        # tanh fed only zeros outputs 0 but passes gradients; it is not dead)
        dead = (nz == 0) & (frozen if SV else True) if V else np.zeros(u, dtype=bool)
        tracker = self.trackers.get(info.source)
        if tracker is None:
            tracker = UnitTracker(u)
            if commit:
                self.trackers[info.source] = tracker
        t = tracker.update(dead, info.start, commit=commit)
        since = t["since"][dead]
        grms = math.sqrt(gsumsq / acc.gcount) if acc.gcount else None
        record = {
            "layer": self.name,
            "kind": self.target.spec,
            "source": self.source,
            "origin": self.target.origin,
            "units": u,
            "step": info.end,
            "window": info.label,
            "window_kind": info.kind,
            "window_start": info.start,
            "batches": info.batches,
            "sampled_batches": info.sampled,
            "samples": acc.samples,
            "values_per_unit": V,
            "dead_units": int(dead.sum()),
            "dead_fraction": float(dead.mean()) if u else 0.0,
            "sparsity": _finite_or_none(1.0 - nz.sum() / n) if n else None,
            "saturation": _finite_or_none(sat.sum() / (SV * u)) if SV else None,
            "frozen_fraction": float(frozen.mean()) if SV else None,
            "finite": bool(math.isfinite(sq) and np.isfinite(s).all()),
            "mean": _finite_or_none(mean),
            "std": _finite_or_none(math.sqrt(max(var, 0.0))) if var == var else None,
            "grad_norm": _finite_or_none(grms),
            "grad_samples": acc.gcount,
            "died": t["died"],
            "revived": t["revived"],
            "died_total": t["died_total"],
            "revived_total": t["revived_total"],
            "ever_dead_fraction": t["ever_dead"] / u if u else 0.0,
            "dead_since": int(np.percentile(since, 50, method="lower")) if since.size else None,
            "dead_since_first": int(since.min()) if since.size else None,
            "eps": self.eps,
            "zero_tol": self.zero_tol,
        }
        if commit:
            self.last_units[info.source] = {
                "active_fraction": nz / V if V else np.full(u, np.nan),
                "saturation": sat / SV if SV else np.full(u, np.nan),
                "mean": unit_mean,
                "std": unit_std,
                "dead": dead,
                "frozen": frozen,
                "dead_since": t["since"].copy(),
            }
            acc.reset()
        return record


def _finite_or_none(v: float | None) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


class History:
    """At most ``maxlen`` window entries spanning the whole run, evenly spaced.

    Every window is offered; while the history is full it keeps every
    ``stride``-th one, and when it overflows it drops every other entry and
    doubles the stride. Memory is bounded whatever the number of steps, and the
    entries always reach back to the first window.
    """

    def __init__(self, maxlen: int) -> None:
        if maxlen < 2:
            raise ValueError(f"history must keep at least 2 entries; got {maxlen}")
        self.maxlen = maxlen
        self.stride = 1
        self.offered = 0
        self.entries: list[Any] = []

    def add(self, entry: Any) -> None:
        if self.offered % self.stride == 0:
            self.entries.append(entry)
            if len(self.entries) > self.maxlen:
                self.entries = self.entries[::2]
                self.stride *= 2
        self.offered += 1

    def __len__(self) -> int:
        return len(self.entries)
