"""Properties of an activation computed from its forward and derivative, not typed in.

:func:`infer` determines, numerically and for any parameter values, what the
catalogue declares as metadata: output range (and whether its finite ends are
reached or only approached), monotonicity, smoothness class and its kinks,
and zero-centring. Activations registered without metadata get theirs from
here, and a test checks that the computed values agree with the catalogue's
declared ones, so the two cannot drift apart.

Example:
    >>> from actlab.analysis.properties import infer
    >>> p = infer("silu")
    >>> p.monotonic, p.smoothness, round(p.min_value, 4), round(p.argmin, 4)
    (False, 'Cinf', -0.2785, -1.2785)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import functions

__all__ = ["Properties", "fill_metadata", "infer"]

_SPAN = 40.0  # the dense grid covers [-_SPAN, _SPAN]; beyond it, log-spaced points and limits
_STEP = 1.0 / 512  # a binary fraction, so every grid point and kink like 0.5 or 6 is exact


@dataclass(frozen=True)
class Properties:
    """Numerically determined properties of one activation at given parameters."""

    name: str
    params: dict[str, Any]
    min_value: float
    max_value: float
    argmin: float | None  # where the minimum is attained (None: approached at an end)
    range_attained: tuple[bool, bool]
    monotonic: bool
    smoothness: str  # "discontinuous", "C0", "C1" or "Cinf" (C2 or smoother on the grid)
    kinks: tuple[float, ...]  # points where f or f' jumps
    zero_centred: bool
    mean_std_normal: float  # E f(z), z ~ N(0, 1)

    @property
    def output_range(self) -> tuple[float, float]:
        return (self.min_value, self.max_value)


def _grid() -> np.ndarray:
    dense = np.arange(-_SPAN, _SPAN + _STEP / 2, _STEP)
    # out to the float32 limit: activations are used in float32 or narrower, and a user
    # formula such as x / sqrt(1 + x*x) breaks down past 1e154 even in float64
    tail = np.logspace(math.log10(_SPAN), math.log10(3.4e38), 400)
    return np.unique(np.concatenate([-tail, dense, tail]))


def _locate_jumps(
    values: np.ndarray, x: np.ndarray, fn: Any, tol: float, min_width: float = 1e-12
) -> list[float]:
    """Points where ``fn`` jumps: outliers among nearby differences, confirmed by bisection.

    A grid point that falls on the jump splits it over two intervals, so each
    difference is compared with those two and three intervals away, not its neighbours.
    """
    dv = np.abs(np.diff(values))
    pad = np.concatenate([np.zeros(3), dv, np.zeros(3)])
    n = dv.size
    local = np.max([pad[3 + k : 3 + k + n] for k in (-3, -2, 2, 3)], axis=0)
    cand = np.nonzero((dv > tol) & (dv > 8.0 * local))[0]
    out: set[float] = set()
    for i in cand:
        a, b = float(x[i]), float(x[i + 1])
        fa, fb = float(fn(a)), float(fn(b))
        while b - a > min_width:
            m = 0.5 * (a + b)
            fm = float(fn(m))
            if abs(fm - fa) > abs(fb - fm):
                b, fb = m, fm
            else:
                a, fa = m, fm
        if abs(fb - fa) > tol:
            k = 0.5 * (a + b)
            out.add(round(k, 6) if abs(k - round(k, 6)) < 1e-6 else k)
    return sorted(out)


def _refine_min(f: Any, x0: float) -> tuple[float, float]:
    """Polish a grid minimum of a smooth function to full precision (bounded Brent)."""
    from scipy.optimize import minimize_scalar

    r = minimize_scalar(
        lambda t: float(f(t)),
        bounds=(x0 - 2 * _STEP, x0 + 2 * _STEP),
        method="bounded",
        options={"xatol": 1e-13},
    )
    return (float(r.x), float(r.fun)) if r.fun <= float(f(x0)) else (x0, float(f(x0)))


def _attained(y: np.ndarray, dy: np.ndarray, bound: float, low: bool) -> bool:
    """Is ``bound`` reached at a finite x (not only approached, as sigmoid approaches 1)?

    In float64 an asymptote is reached by rounding (sigmoid(40) == 1.0), so a grid value
    equal to the bound counts only on a plateau (f' == 0 exactly) or at a strict local
    extreme (the minimum of SiLU).
    """
    if math.isinf(bound):
        return True
    hit = np.nonzero(y == bound)[0]
    for i in hit:
        if dy[i] == 0.0:
            return True
        if 0 < i < y.size - 1:
            left, right = y[i - 1], y[i + 1]
            if (low and left > y[i] < right) or (not low and left < y[i] > right):
                return True
    return False


def infer(name: str | functions.Activation, **params: Any) -> Properties:
    """Compute the properties of an elementwise activation at the given parameters."""
    act = functions.get(name)
    if act.kind != "elementwise":
        raise ValueError(f"{act.name} is not elementwise; its properties are not computed here")
    p = act.resolve(params)
    x = _grid()

    def f(v: Any) -> Any:
        return act.forward(np.asarray(v, dtype=np.float64), **p)

    def d(v: Any) -> Any:
        return act.derivative(np.asarray(v, dtype=np.float64), **p)

    with np.errstate(all="ignore"):
        y, dy = np.asarray(f(x)), np.asarray(d(x))
        lim = np.asarray(f(np.array([-np.inf, np.inf])))
        dense = np.abs(x) <= _SPAN
        xd, yd, dyd = x[dense], y[dense], dy[dense]
        # the extremes: the limits, or an interior extreme polished off the grid
        i_min = int(np.nanargmin(yd))
        argmin, lo = (
            _refine_min(f, float(xd[i_min]))
            if 0 < i_min < xd.size - 1
            else (None, float(yd[i_min]))
        )
        lo = float(min(lo, np.nanmin(y), *lim))
        hi = float(max(np.nanmax(y), *lim))
        # A user formula may give inf - inf = NaN at +/-inf itself; values past 1e30 on the
        # log-spaced tail mean the function is unbounded there.
        lo = -math.inf if lo < -1e30 else lo
        hi = math.inf if hi > 1e30 else hi
        grid_min = float(yd[i_min])
        low_reached = _attained(yd, dyd, grid_min, True) and not float(min(lim)) < grid_min
        attained = (math.isinf(lo) or low_reached, _attained(yd, dyd, hi, False))
        # y[1:] >= y[:-1] rather than diff >= 0: inf - inf in an overflowing tail is NaN
        tol = 1e-12 * np.maximum(1.0, np.abs(y[:-1]))
        monotonic = bool(np.all((y[1:] >= y[:-1]) | (y[1:] - y[:-1] >= -tol)))
        scale = max(1.0, float(np.nanmax(np.abs(dyd))))
        jumps_f = _locate_jumps(yd, xd, f, 1e-6 * scale)
        jumps_d = _locate_jumps(dyd, xd, d, 1e-6 * scale)
        # C1 versus smoother: jumps of the second derivative, from central differences of f'
        h = 1e-6

        def d2f(v: Any) -> Any:
            return (np.asarray(d(np.asarray(v) + h)) - np.asarray(d(np.asarray(v) - h))) / (2 * h)

        d2_jumps = [
            k
            for k in _locate_jumps(d2f(xd), xd, d2f, 1e-3, min_width=8 * h)
            if not any(abs(k - j) < 1e-3 for j in jumps_d + jumps_f)
            # a step of f'' persists on both sides; a tiny jump of f' (softplus's threshold
            # switch, 2e-9) is only a spike of width 2h in the difference quotient
            and abs(float(d2f(k + 20 * h)) - float(d2f(k - 20 * h))) > 1e-3
        ]
        # E f(z), z ~ N(0, 1): trapezoid rule on the dense grid (|z| <= 40 holds all the
        # mass) at steps h and 2h, Richardson-extrapolated. Kinks sit on the binary grid,
        # so the h^2 error term cancels piece by piece.
        pdf = np.exp(-0.5 * xd * xd) / math.sqrt(2 * math.pi)
        fy = np.where(np.isfinite(yd), yd, 0.0) * pdf
        t1 = float(np.sum(fy[1:] + fy[:-1]) * _STEP / 2)
        f2 = fy[::2]
        t2 = float(np.sum(f2[1:] + f2[:-1]) * _STEP)
        mean = (4.0 * t1 - t2) / 3.0
    if jumps_f:
        smooth = "discontinuous"
    elif jumps_d:
        smooth = "C0"
    elif d2_jumps:
        smooth = "C1"
    else:
        smooth = "Cinf"
    return Properties(
        name=act.name,
        params=p,
        min_value=lo,
        max_value=hi,
        argmin=argmin if attained[0] else None,
        range_attained=attained,
        monotonic=monotonic,
        smoothness=smooth,
        kinks=tuple(sorted(set(jumps_f) | set(jumps_d))),
        zero_centred=abs(mean) < 1e-9,
        mean_std_normal=mean,
    )


def fill_metadata(name: str | functions.Activation) -> dict[str, Any]:
    """The activation's metadata with every field it left unset computed by :func:`infer`.

    Returns a dict of the fields ``output_range``, ``range_attained``, ``monotonic``,
    ``smoothness``, ``zero_centred`` and ``kinks``, and ``computed``: the names of
    the fields that were computed rather than declared.
    """
    act = functions.get(name)
    declared = {
        "output_range": act.output_range,
        "monotonic": act.monotonic,
        "smoothness": act.smoothness,
        "zero_centred": act.zero_centred,
    }
    if act.kind != "elementwise" or all(v is not None for v in declared.values()):
        return {
            **declared,
            "range_attained": act.range_attained,
            "kinks": act.kinks,
            "computed": [],
        }
    props = infer(act)
    computed = [k for k, v in declared.items() if v is None]
    out = {
        "output_range": act.output_range or props.output_range,
        "monotonic": props.monotonic if act.monotonic is None else act.monotonic,
        "smoothness": act.smoothness or props.smoothness,
        "zero_centred": props.zero_centred if act.zero_centred is None else act.zero_centred,
        "range_attained": props.range_attained if act.output_range is None else act.range_attained,
        "kinks": act.kinks or props.kinks,
        "computed": computed + (["kinks"] if not act.kinks and props.kinks else []),
    }
    return out
