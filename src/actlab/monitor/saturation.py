"""Saturation: the pre-activations where ``|f'(x)| < eps``, from the catalogue's derivative.

Evaluating the derivative on every activation tensor of every training step
would cost more than the layer itself (it computes in float64 for float32
input). The set ``{x : |f'(x)| < eps}`` depends only on the activation, its
parameters and ``eps``, so it is found once: the catalogue's derivative is
evaluated on a dense float64 grid (step 1e-4 on [-32, 32], geometric out to
1e300, plus the kinks), and every boundary is then refined by bisection on the
float64 ordering to the exact float where ``|f'|`` crosses ``eps``. Counting a
tensor's saturated values is then one or two comparisons per interval, with
the interval ends rounded inwards to the input's dtype so that the count is
what the derivative itself would give (to within the rounding of f' near the
boundary). Learnable parameters (PReLU's slopes) change every step: for those
the derivative is evaluated directly.

Example:
    >>> import actlab
    >>> region(actlab.get("relu"), {}, 1e-3)
    ((-inf, 0.0),)
    >>> [(round(a, 3), round(b, 3)) for a, b in region(actlab.get("sigmoid"), {}, 1e-3)]
    [(-inf, -6.906), (6.906, inf)]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..functions import Activation

__all__ = ["SaturationCounter", "region"]

_DENSE = np.linspace(-32.0, 32.0, 640_001)
_TAIL = np.geomspace(32.0, 1e300, 600)[1:]
_GRID = np.concatenate([-_TAIL[::-1], _DENSE, _TAIL])


def _ordered(v: np.ndarray) -> np.ndarray:
    """float64 -> int64 keys that sort like the floats (-0.0 and 0.0 share a key)."""
    i = np.asarray(v, dtype=np.float64).view(np.int64)
    return np.where(i >= 0, i, -(i & np.int64(0x7FFFFFFFFFFFFFFF)))


def _unordered(k: np.ndarray) -> np.ndarray:
    k = np.asarray(k, dtype=np.int64)
    mag = np.abs(k).view(np.float64)
    return np.where(k >= 0, mag, -mag)


def _saturated(act: Activation, params: dict[str, Any], eps: float, x: np.ndarray) -> np.ndarray:
    d = np.asarray(act.derivative(np.asarray(x, dtype=np.float64), **params), dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.abs(d) < eps  # NaN is not saturated


def _bisect(act: Activation, params: dict, eps: float, sat: np.ndarray, uns: np.ndarray) -> Any:
    """For each pair, the saturated float nearest the unsaturated one (exact in float64)."""
    hi, lo = _ordered(sat), _ordered(uns)
    for _ in range(70):
        gap = np.abs(hi - lo) > 1
        if not gap.any():
            break
        mid = lo + (hi - lo) // 2
        s = _saturated(act, params, eps, _unordered(mid))
        hi = np.where(gap & s, mid, hi)
        lo = np.where(gap & ~s, mid, lo)
    return _unordered(hi)


def region(act: Activation, params: dict[str, Any], eps: float) -> tuple[tuple[float, float], ...]:
    """Closed intervals ``[a, b]`` (float64; ``a`` may be -inf, ``b`` inf) where ``|f'| < eps``.

    Args:
        act: an elementwise activation with a derivative.
        params: its numeric parameters.
        eps: the saturation threshold.
    """
    key = (act.name, id(act), tuple(sorted(params.items())), float(eps))
    hit = _CACHE.get(key)
    if hit is None or hit[0] is not act:
        if len(_CACHE) >= 256:
            _CACHE.clear()
        hit = _CACHE[key] = (act, _compute(act, dict(params), float(eps)))
    return hit[1]


# (name, id, params, eps) -> (activation, region); the activation is kept so its id stays unique
_CACHE: dict[tuple, tuple[Activation, tuple[tuple[float, float], ...]]] = {}


def _compute(act: Activation, params: dict, eps: float) -> tuple[tuple[float, float], ...]:
    special = [*act.kinks]
    for v in params.values():
        if isinstance(v, (int, float)) and math.isfinite(v):
            special += [float(v), -float(v)]
    extra = np.asarray(special, dtype=np.float64)
    extra = np.concatenate([extra, np.nextafter(extra, -np.inf), np.nextafter(extra, np.inf)])
    grid = np.unique(np.concatenate([_GRID, extra]))
    s = _saturated(act, params, eps, grid)
    if not s.any():
        return ()
    # runs of saturated grid points
    edges = np.diff(s.astype(np.int8))
    starts = list(np.flatnonzero(edges == 1) + 1)
    ends = list(np.flatnonzero(edges == -1))
    if s[0]:
        starts.insert(0, 0)
    if s[-1]:
        ends.append(len(grid) - 1)
    lo_sat = np.array([grid[i] for i in starts])
    lo_uns = np.array([grid[i - 1] if i > 0 else grid[i] for i in starts])
    hi_sat = np.array([grid[j] for j in ends])
    hi_uns = np.array([grid[j + 1] if j + 1 < len(grid) else grid[j] for j in ends])
    a = _bisect(act, params, eps, lo_sat, lo_uns)
    b = _bisect(act, params, eps, hi_sat, hi_uns)
    out = []
    for i, j, lo, hi in zip(starts, ends, a, b):
        out.append(
            (-math.inf if i == 0 else float(lo), math.inf if j == len(grid) - 1 else float(hi))
        )
    return tuple(out)


def _inward(a: float, b: float) -> tuple[float, float]:
    """The interval's ends rounded inwards to float32: x32 in [a, b] iff x32 in [a', b']."""
    a32, b32 = np.float32(a), np.float32(b)
    if math.isfinite(a) and float(a32) < a:
        a32 = np.nextafter(a32, np.float32(np.inf))
    if math.isfinite(b) and float(b32) > b:
        b32 = np.nextafter(b32, np.float32(-np.inf))
    return float(a32), float(b32)


class SaturationCounter:
    """Counts, per unit, the values of a pre-activation tensor where ``|f'| < eps``.

    Args:
        act: the activation (elementwise, with a derivative).
        params: its numeric parameters.
        eps: the threshold on ``|f'|``.
    """

    def __init__(self, act: Activation, params: dict[str, Any], eps: float) -> None:
        self.act, self.params, self.eps = act, dict(params), float(eps)
        self._plans: dict[torch.dtype, tuple] = {}

    @property
    def regions(self) -> tuple[tuple[float, float], ...]:
        return region(self.act, self.params, self.eps)

    def _plan(self, dtype: torch.dtype) -> tuple:
        """Comparisons that count the regions: ``(op, threshold, sign)`` terms."""
        plan = self._plans.get(dtype)
        if plan is not None:
            return plan
        regions = self.regions
        if dtype != torch.float64:
            regions = tuple(_inward(a, b) for a, b in regions)
        terms: list[tuple[str, float, int]] = []
        if (
            len(regions) == 2
            and regions[0][0] == -math.inf
            and regions[1][1] == math.inf
            and regions[0][1] == -regions[1][0]
        ):  # symmetric tails (sigmoid, tanh): |x| >= c
            terms.append(("abs_ge", regions[1][0], 1))
        else:
            for a, b in regions:
                if a == -math.inf and b == math.inf:
                    terms.append(("eq_self", 0.0, 1))  # everything but NaN
                elif a == -math.inf:
                    terms.append(("le", b, 1))
                elif b == math.inf:
                    terms.append(("ge", a, 1))
                else:
                    terms += [("ge", a, 1), ("gt", b, -1)]
        plan = self._plans[dtype] = tuple(terms)
        return plan

    def count(
        self,
        x: torch.Tensor,
        buf: torch.Tensor,
        out: torch.Tensor,
        site: Any,
        scratch: Any,
        tensor_params: dict[str, Any] | None = None,
    ) -> None:
        """Add to ``out`` the per-unit counts of saturated values of ``x``.

        ``buf`` is a float scratch tensor of ``x``'s shape: comparisons write into it as
        0.0/1.0, which sums faster than a bool tensor; ``site.add_per_unit`` reduces it.
        """
        if tensor_params:
            d = self.act.derivative(x, **self.params, **tensor_params)
            torch.lt(d.abs(), self.eps, out=buf)
            site.add_per_unit(out, buf, scratch)
            return
        if x.dtype not in (torch.float32, torch.float64):
            x = x.float()
        for op, c, sign in self._plan(x.dtype):
            if op == "le":
                torch.le(x, c, out=buf)
            elif op == "ge":
                torch.ge(x, c, out=buf)
            elif op == "gt":
                torch.gt(x, c, out=buf)
            elif op == "abs_ge":
                torch.ge(x.abs(), c, out=buf)
            else:
                torch.eq(x, x, out=buf)
            site.add_per_unit(out, buf, scratch, alpha=float(sign))
