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

:func:`criteria` adds what the texts judge activations by (claim C18): saturation on
each side and how fast (:class:`Tail`), the derivative's range, moments of f(z) and
f'(z) for z ~ N(0, s^2) (:class:`Moments`: zero-centring, sparsity, and the
initialisation gain beside ``torch.nn.init.calculate_gain``); :func:`table` does it
for many activations and :func:`relative_cost` times forward+backward against ReLU.

Example:
    >>> from actlab.analysis.properties import criteria
    >>> c = criteria("tanh")
    >>> c.left.describe(), round(c.max_abs_derivative, 12), round(c.gain, 4), c.torch_gain
    ("|f'| ~ exp(-2|x|)", 1.0, 1.5925, 1.6666666666666667)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import functions

__all__ = [
    "CostReport",
    "Criteria",
    "Moments",
    "Properties",
    "Tail",
    "criteria",
    "expectation",
    "fill_metadata",
    "gain",
    "infer",
    "relative_cost",
    "table",
    "torch_gain",
]

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
    c1_points: tuple[float, ...] = ()  # points where f'' jumps but f' is continuous

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


def _cluster(points: Sequence[float], width: float) -> list[float]:
    """Merge points closer than ``width`` (both edges of one ramp of a difference quotient)
    into their midpoint, snapped to the binary grid when within ``width`` of a grid point."""
    out: list[list[float]] = []
    for p in sorted(points):
        if out and p - out[-1][-1] < width:
            out[-1].append(p)
        else:
            out.append([p])
    merged = []
    for group in out:
        k = 0.5 * (group[0] + group[-1])
        g = round(k / _STEP) * _STEP
        merged.append(g if abs(k - g) < width else k)
    return merged


def _refine_min(f: Any, x0: float, d: Any = None) -> tuple[float, float]:
    """Polish a grid minimum of a smooth function to full precision: the root of f' where
    it changes sign around ``x0`` (to rounding), else a bounded Brent search on f."""
    from scipy.optimize import brentq, minimize_scalar

    if d is not None:
        a, b = x0 - _STEP, x0 + _STEP
        da, db = float(d(a)), float(d(b))
        if da < 0 < db:
            r = float(brentq(lambda t: float(d(t)), a, b, xtol=1e-15, rtol=1e-15))
            if float(f(r)) <= float(f(x0)):
                return r, float(f(r))

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


# --------------------------------------------------------------------------------------
# expectations under a normal distribution
_GL_X, _GL_W = np.polynomial.legendre.leggauss(20)


def _normal_rule(scale: float, breakpoints: Iterable[float], level: int) -> tuple[Any, Any]:
    """Nodes and weights with sum(w * g(x)) = E g(z), z ~ N(0, scale^2).

    Composite 20-point Gauss-Legendre on [-L, L], L = scale * (14 + scale) (the normal
    mass beyond is below 1e-44, even under a weight growing like exp(z)), panels of
    width scale / 2^(2 + level), split at every breakpoint: between breakpoints the
    integrand is smooth, so each panel is integrated to rounding error.
    """
    half = scale * (14.0 + scale)
    n = math.ceil(2 * half / (scale / 2 ** (2 + level)))
    edges = np.linspace(-half, half, n + 1)
    inner = [b for b in breakpoints if -half < b < half]
    if inner:
        edges = np.union1d(edges, np.asarray(inner, dtype=np.float64))
    mid = 0.5 * (edges[1:] + edges[:-1])
    hw = 0.5 * (edges[1:] - edges[:-1])
    x = (mid[:, None] + hw[:, None] * _GL_X[None, :]).ravel()
    pdf = np.exp(-0.5 * (x / scale) ** 2) / (scale * math.sqrt(2 * math.pi))
    w = (hw[:, None] * _GL_W[None, :]).ravel() * pdf
    return x, w


def _normal_expectations(
    fns: Sequence[Callable[[Any], Any]], scale: float, breakpoints: Iterable[float]
) -> np.ndarray:
    """E g(z) for each g in ``fns``, z ~ N(0, scale^2), refined until two levels agree."""
    bps = sorted(set(breakpoints))
    prev = None
    with np.errstate(all="ignore"):
        for level in range(7):
            x, w = _normal_rule(scale, bps, level)
            vals = np.array([float(w @ np.asarray(g(x), dtype=np.float64)) for g in fns])
            if prev is not None and np.all(
                np.abs(vals - prev) <= 1e-14 * np.maximum(1.0, np.abs(vals))
            ):
                return vals
            prev = vals
    return vals


def expectation(
    fn: Callable[[Any], Any], scale: float = 1.0, breakpoints: Iterable[float] = ()
) -> float:
    """E fn(z) for z ~ N(0, scale^2), to rounding error when ``breakpoints`` holds every
    point where fn or one of its first two derivatives jumps.

    Example:
        >>> import numpy as np
        >>> round(expectation(lambda x: np.maximum(x, 0) ** 2, 2.0, [0.0]), 12)  # s^2 / 2
        2.0
    """
    return float(_normal_expectations([fn], float(scale), breakpoints)[0])


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
            _refine_min(f, float(xd[i_min]), d)
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
        d2_jumps = _cluster(d2_jumps, 20 * h)
        # E f(z), z ~ N(0, 1): Gauss-Legendre panels split at every kink and jump of f''
        mean = expectation(f, 1.0, breakpoints=[*jumps_f, *jumps_d, *d2_jumps])
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
        c1_points=tuple(d2_jumps),
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


# --------------------------------------------------------------------------------------
# the criteria of claim C18: saturation, derivative range, moments, gain, sparsity, cost
_TAIL_T = 2.0 ** (np.arange(0, 16 * 42 + 1) / 16.0)  # |x| from 1 to 4.4e12, 16 per octave
_TINY = 1e-280  # decay is measured where |f'| is still a normal number, well above underflow


@dataclass(frozen=True)
class Tail:
    """How f'(x) behaves as x -> -inf (``side="left"``) or x -> +inf (``"right"``).

    ``kind`` is one of:

    - ``"zero"``: f' == 0 exactly for every x beyond ``beyond`` (ReLU left of 0);
    - ``"exp"``: |f'(x)| ~ C |x|^q exp(-rate |x|^order): order 1 for sigmoid, tanh, ELU,
      SiLU; 2 (rate 1/2) for the exact GELU; 3 for the tanh approximation of GELU;
    - ``"power"``: |f'(x)| ~ C |x|^-rate (softsign, squareplus's left side);
    - ``"constant"``: f' tends to ``limit`` != 0 (ReLU's 1, Leaky ReLU's slope);
    - ``"growing"``: |f'| -> inf (squared ReLU, exp).

    The first three saturate (f' -> 0). Order and rate are measured from |f'| at
    |x| = t, 2t, 4t far out: with L = -log|f'|, (L(4t) - L(2t)) / (L(2t) - L(t)) = 2^order
    (order 0 is a power law), which no polynomial prefactor disturbs.
    """

    side: str
    kind: str
    saturates: bool
    limit: float  # lim f'(x); 0.0 when it saturates
    order: float | None = None
    rate: float | None = None
    beyond: float | None = None

    def describe(self) -> str:
        """A short formula: ``"f' = 0 for x < 0"``, ``"|f'| ~ exp(-x^2/2)"``, ``"f' -> 1"``."""
        if self.kind == "zero":
            if self.beyond is None:
                return "f' = 0 everywhere"
            return f"f' = 0 for x {'<' if self.side == 'left' else '>'} {_g(self.beyond)}"
        if self.kind == "power":
            return f"|f'| ~ |x|^-{_g(self.rate)}"
        if self.kind == "exp":
            if self.order is None or self.rate is None:
                return "|f'| -> 0"
            c = "" if _g(self.rate) == "1" else _g(self.rate)
            if self.order == 1:
                return f"|f'| ~ exp(-{c}|x|)"
            if self.order == 2 and _g(self.rate) == "0.5":
                return "|f'| ~ exp(-x^2/2)"
            if self.order == 2:
                return f"|f'| ~ exp(-{c}x^2)"
            return f"|f'| ~ exp(-{c}|x|^{_g(self.order)})"
        if self.kind == "growing":
            return f"f' -> {'-' if self.limit < 0 else ''}inf"
        return f"f' -> {_g(self.limit)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "saturates": self.saturates,
            "limit": _finite(self.limit),
            "order": self.order,
            "rate": self.rate,
            "beyond": self.beyond,
            "describe": self.describe(),
        }


@dataclass(frozen=True)
class Moments:
    """Statistics of f(z) and f'(z) for z ~ N(0, scale^2).

    ``zero_fraction`` is P(f(z) == 0 exactly) (sparsity of the outputs) and
    ``zero_grad_fraction`` P(f'(z) == 0 exactly) (units that pass no gradient).
    """

    scale: float
    mean: float  # E f(z)
    var: float  # Var f(z)
    second: float  # E f(z)^2
    dmean: float  # E f'(z)
    dvar: float  # Var f'(z)
    dsecond: float  # E f'(z)^2
    zero_fraction: float
    zero_grad_fraction: float

    def as_dict(self) -> dict[str, Any]:
        return {k: _finite(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Criteria:
    """Every computed criterion of one activation at given parameters (one table row).

    ``gain`` is 1 / sqrt(E f(z)^2) for z ~ N(0, 1): the factor by which weights of
    variance 1/fan_in must be scaled so that a layer keeps the second moment of its
    pre-activations (sqrt(2) for ReLU, as in He/Kaiming initialisation).
    ``gain_backward`` is 1 / sqrt(E f'(z)^2), the same for the gradients flowing back.
    ``torch_gain`` is ``torch.nn.init.calculate_gain`` where PyTorch has one.
    """

    name: str
    label: str
    params: dict[str, Any]
    properties: Properties
    derivative_range: tuple[float, float]  # (inf f', sup f')
    max_abs_derivative: float
    argmax_abs_derivative: float | None  # None: approached at infinity or on a plateau
    left: Tail
    right: Tail
    moments: tuple[Moments, ...]
    gain: float
    gain_backward: float
    torch_gain: float | None
    cost: float | None = None  # forward+backward time over ReLU's (actlab), when measured
    cost_torch: float | None = None  # the same for PyTorch's native op, where it has one

    def __getattr__(self, attr: str) -> Any:  # monotonic, min_value, smoothness, ...
        if attr.startswith("__") or attr == "properties":
            raise AttributeError(attr)
        return getattr(self.properties, attr)

    @property
    def bounded_below(self) -> bool:
        return math.isfinite(self.properties.min_value)

    @property
    def bounded_above(self) -> bool:
        return math.isfinite(self.properties.max_value)

    def at(self, scale: float) -> Moments:
        """The moments for z ~ N(0, scale^2)."""
        for m in self.moments:
            if m.scale == scale:
                return m
        raise KeyError(f"no moments at scale {scale}; computed at {[m.scale for m in self]}")

    @property
    def std_normal(self) -> Moments:
        return self.at(1.0)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: infinite values become ``None`` (``bounded_*`` say which)."""
        p, m = self.properties, self.std_normal
        return {
            "name": self.name,
            "label": self.label,
            "kind": "elementwise",
            "params": {k: _plain(v) for k, v in self.params.items()},
            "monotonic": p.monotonic,
            "min_value": _finite(p.min_value),
            "argmin": p.argmin,
            "max_value": _finite(p.max_value),
            "range_attained": list(p.range_attained),
            "bounded_below": self.bounded_below,
            "bounded_above": self.bounded_above,
            "saturates_left": self.left.saturates,
            "saturates_right": self.right.saturates,
            "decay_left": self.left.describe(),
            "decay_right": self.right.describe(),
            "tail_left": self.left.as_dict(),
            "tail_right": self.right.as_dict(),
            "min_derivative": _finite(self.derivative_range[0]),
            "max_derivative": _finite(self.derivative_range[1]),
            "max_abs_derivative": _finite(self.max_abs_derivative),
            "argmax_abs_derivative": self.argmax_abs_derivative,
            "kinks": list(p.kinks),
            "c1_points": list(p.c1_points),
            "smoothness": p.smoothness,
            "zero_centred": p.zero_centred,
            "mean_std_normal": m.mean,
            "var_std_normal": m.var,
            "mean_derivative_std_normal": m.dmean,
            "var_derivative_std_normal": m.dvar,
            "sparsity_std_normal": m.zero_fraction,
            "grad_sparsity_std_normal": m.zero_grad_fraction,
            "gain": _finite(self.gain),
            "gain_backward": _finite(self.gain_backward),
            "torch_gain": self.torch_gain,
            "moments": [mm.as_dict() for mm in self.moments],
            "cost": self.cost,
            "cost_torch": self.cost_torch,
        }


def _g(v: float | None) -> str:
    if v is None:
        return "?"
    if math.isinf(v):
        return "-inf" if v < 0 else "inf"
    return f"{v:.4g}"


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _plain(v: Any) -> Any:
    return v if isinstance(v, (int, float, str, bool)) or v is None else repr(v)


def _label(name: str, given: Mapping[str, Any]) -> str:
    if not given:
        return name
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in given.items())})"


def _tail(
    side: str, d: Callable[[Any], Any], xd: np.ndarray, dyd: np.ndarray, kinks: Sequence[float]
) -> Tail:
    left = side == "left"
    sgn = -1.0 if left else 1.0
    with np.errstate(all="ignore"):
        signed = np.asarray(d(sgn * _TAIL_T), dtype=np.float64)
    g = np.abs(signed)
    far = _TAIL_T >= _SPAN
    # f' == 0 exactly beyond a point, reached by a jump (not a decay fading into underflow)
    order = dyd if left else dyd[::-1]
    xs = xd if left else xd[::-1]
    nz = np.nonzero(order != 0.0)[0]
    if np.all(g[far] == 0.0) and (nz.size == 0 or nz[0] > 0):
        if nz.size == 0:
            return Tail(side, "zero", True, 0.0)
        i = int(nz[0])  # xs[i - 1] is the last zero, xs[i] the first non-zero
        if abs(order[i]) > 1e-200:
            a, b = sorted((float(xs[i - 1]), float(xs[i])))
            inside = [k for k in kinks if a <= k <= b]
            beyond = inside[0] if inside else float(xs[i - 1])
            return Tail(side, "zero", True, 0.0, beyond=beyond)
    # far out: growing, tending to a constant, or decaying (power law or faster)
    g_far, g_back = float(g[-1]), float(g[-65])  # four octaves apart
    growing = not (math.isfinite(g_far) and math.isfinite(g_back))
    slope = math.log2(g_far / g_back) / 4 if not growing and g_far > 0 and g_back > 0 else 0.0
    if growing or slope > 0.05:
        return Tail(side, "growing", False, math.copysign(math.inf, signed[-1] or 1.0))
    if not (g_far == 0.0 or slope < -0.05):
        return Tail(side, "constant", False, float(signed[-1]))
    ok = np.isfinite(g) & (g > _TINY)
    good = [
        i
        for i in range(g.size - 32)
        if ok[i] and ok[i + 16] and ok[i + 32] and g[i] > g[i + 16] > g[i + 32]
    ]
    if not good:
        return Tail(side, "exp", True, 0.0)
    i = good[-1]
    t = float(_TAIL_T[i])
    lg = -np.log(g[[i, i + 16, i + 32]])
    d1, d2 = float(lg[1] - lg[0]), float(lg[2] - lg[1])
    k = math.log2(d2 / d1)
    if abs(k) < 0.2:
        return Tail(side, "power", True, 0.0, order=0.0, rate=_round(d2 / math.log(2)))
    if abs(k - round(k)) >= 0.15:  # a fractional order: the three-point estimate
        rate = (d2 - d1) / (t**k * (2.0**k - 1.0) ** 2)
        return Tail(side, "exp", True, 0.0, order=k, rate=_round(rate))
    # an integer order: least squares of -log|f'| on t^k, ..., t, log t, 1, 1/t, 1/t^2
    # over [t, 4t], so that lower powers (gelu_tanh's exp(-1.6|x| - 0.071|x|^3)) and the
    # prefactor's expansion (SiLU's (|x| - 1) exp(-|x|)) do not bias the rate
    k = round(k)
    ts = _TAIL_T[i : i + 33] / t
    basis = np.stack(
        [ts**j for j in range(k, 0, -1)] + [np.log(ts), np.ones_like(ts), 1 / ts, ts**-2], 1
    )
    coef = np.linalg.lstsq(basis, -np.log(g[i : i + 33]), rcond=None)[0]
    return Tail(side, "exp", True, 0.0, order=float(k), rate=_round(coef[0] / t**k))


def _round(v: float, digits: int = 10) -> float:
    """Round to ``digits`` significant digits (measured rates carry ~1e-12 noise)."""
    return float(f"{v:.{digits}g}")


def _derivative_extremes(
    d: Callable[[Any], Any],
    xd: np.ndarray,
    dyd: np.ndarray,
    kinks: Sequence[float],
    tails: tuple[Tail, Tail],
) -> tuple[float, float, float, float | None]:
    """(inf f', sup f', sup |f'|, where |f'| is largest or None)."""
    from scipy.optimize import minimize_scalar

    cands: list[tuple[float, float | None]] = []  # (value, location)
    for sign in (1.0, -1.0):  # sup f', then inf f' (as sup of -f')
        v = sign * dyd
        i = int(np.nanargmax(v))
        loc: float | None = None
        best = float(v[i])
        if 0 < i < v.size - 1 and v[i - 1] < v[i] > v[i + 1]:  # a strict interior maximum
            a, b = float(xd[i - 1]), float(xd[i + 1])
            loc = _polish_max(lambda t, s=sign: s * float(d(np.float64(t))), a, b)
            if loc is None:
                r = minimize_scalar(
                    lambda t, s=sign: -s * float(d(np.float64(t))),
                    bounds=(a, b),
                    method="bounded",
                    options={"xatol": 1e-13},
                )
                loc = float(r.x)
            val = sign * float(d(np.float64(loc)))
            if val > best:
                best = val
            else:
                loc = float(xd[i])
        for k in kinks:  # one-sided limits, linearly extrapolated from 1e-6 and 2e-6 away
            for s in (-1.0, 1.0):
                lim = 2.0 * float(d(np.float64(k + s * 1e-6))) - float(d(np.float64(k + s * 2e-6)))
                if sign * lim > best + 1e-12:
                    best, loc = sign * lim, float(k)
        cands.append((sign * best, loc))
    hi, hi_loc = cands[0]
    lo, lo_loc = cands[1]
    for t in tails:
        lim = t.limit
        hi, hi_loc = (lim, None) if lim > hi else (hi, hi_loc)
        lo, lo_loc = (lim, None) if lim < lo else (lo, lo_loc)
    if abs(hi) >= abs(lo):
        return lo, hi, abs(hi), hi_loc
    return lo, hi, abs(lo), lo_loc


def _polish_max(g: Callable[[float], float], a: float, b: float) -> float | None:
    """Where the smooth g peaks in [a, b]: the root of its central-difference derivative
    (located to ~1e-10, where a minimiser on g itself only reaches ~1e-8), or None."""
    from scipy.optimize import brentq

    h = 1e-5

    def dg(t: float) -> float:
        return (g(t + h) - g(t - h)) / (2 * h)

    ga, gb = dg(a), dg(b)
    if not (ga > 0 > gb):
        return None
    return float(brentq(dg, a, b, xtol=1e-15, rtol=1e-15))


def _zero_set(
    fn: Callable[[Any], Any], x: np.ndarray, y: np.ndarray, kinks: Sequence[float]
) -> list[tuple[float, float]]:
    """Intervals where fn == 0 exactly, from runs of zeros on the dense grid ``x``.

    Ends are refined by bisection (or snapped to a kink); a run that reaches the end
    of the grid extends to infinity when fn is still zero at |x| = 1e12. Zeros at
    isolated points (tanh(0)) have no measure and are not listed.
    """
    z = np.concatenate([[0], (y == 0.0).astype(np.int8), [0]])
    starts = np.nonzero(np.diff(z) == 1)[0]  # first zero of each run
    ends = np.nonzero(np.diff(z) == -1)[0] - 1  # last zero of each run
    return [
        (_zero_edge(fn, x, int(i), -1, kinks), _zero_edge(fn, x, int(j), +1, kinks))
        for i, j in zip(starts, ends)
        if j > i
    ]


def _zero_edge(
    fn: Callable[[Any], Any], x: np.ndarray, i: int, step: int, kinks: Sequence[float]
) -> float:
    k = i + step
    if k < 0 or k >= x.size:
        with np.errstate(all="ignore"):
            far = np.asarray(fn(np.array([step * 1e12, step * 1e6])), dtype=np.float64)
        return step * math.inf if np.all(far == 0.0) else float(x[i])
    a, b = float(x[i]), float(x[k])  # fn(a) == 0 != fn(b)
    lo, hi = min(a, b), max(a, b)
    for kk in kinks:
        if lo <= kk <= hi:
            return float(kk)
    for _ in range(60):
        m = 0.5 * (a + b)
        if float(fn(np.float64(m))) == 0.0:
            a = m
        else:
            b = m
    return 0.5 * (a + b)


def _measure(intervals: Sequence[tuple[float, float]], scale: float) -> float:
    from scipy.special import ndtr

    total = sum(float(ndtr(b / scale) - ndtr(a / scale)) for a, b in intervals)
    return total if total > 1e-15 else 0.0


#: Activations for which ``torch.nn.init.calculate_gain`` has an answer, and its name there.
_TORCH_GAIN = {
    "identity": "linear",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "leaky_relu": "leaky_relu",
    "selu": "selu",
}


def gain(name: str | functions.Activation, **params: Any) -> float:
    """1 / sqrt(E f(z)^2), z ~ N(0, 1): the weight scale that keeps a layer's second moment.

    The same quadrature as :func:`criteria`, split at the function's kinks; cached,
    because every layer an initialiser builds asks for it.

    Example:
        >>> round(gain("relu") ** 2, 12)
        2.0
    """
    act = functions.get(name)
    return _gain(act.name, tuple(sorted(act.resolve(params).items())))


@functools.lru_cache(maxsize=256)
def _gain(name: str, params: tuple) -> float:
    act = functions.get(name)
    p = dict(params)
    props = infer(act, **p)

    def f2(v: Any) -> Any:
        return np.square(act.forward(np.asarray(v, dtype=np.float64), **p))

    second = expectation(f2, 1.0, [*props.kinks, *props.c1_points])
    return 1.0 / math.sqrt(second) if second > 0 else math.inf


def torch_gain(name: str | functions.Activation, **params: Any) -> float | None:
    """``torch.nn.init.calculate_gain`` for this activation, or None where it has none.

    Example:
        >>> round(torch_gain("leaky_relu", negative_slope=0.2), 6)
        1.38675
    """
    act = functions.get(name)
    key = _TORCH_GAIN.get(act.name)
    if key is None:
        return None
    from torch.nn.init import calculate_gain

    p = act.resolve(params)
    return float(calculate_gain(key, p.get("negative_slope")))


def criteria(
    name: str | functions.Activation, /, *, scales: Sequence[float] = (0.5, 1.0, 2.0), **params: Any
) -> Criteria:
    """Compute every criterion of an elementwise activation at the given parameters.

    Moments are computed for z ~ N(0, s^2) at each of ``scales`` (and always s = 1).

    Example:
        >>> c = criteria("relu")
        >>> c.left.describe(), c.right.describe(), c.std_normal.zero_fraction
        ("f' = 0 for x < 0", "f' -> 1", 0.5)
        >>> round(c.gain, 12), round(c.at(2.0).second, 12)  # sqrt(2); E relu(z)^2 = s^2 / 2
        (1.414213562373, 2.0)
    """
    act = functions.get(name)
    props = infer(act, **params)
    p = props.params

    def f(v: Any) -> Any:
        return act.forward(np.asarray(v, dtype=np.float64), **p)

    def d(v: Any) -> Any:
        return act.derivative(np.asarray(v, dtype=np.float64), **p)

    xd = np.arange(-_SPAN, _SPAN + _STEP / 2, _STEP)
    with np.errstate(all="ignore"):
        yd = np.asarray(f(xd), dtype=np.float64)
        dyd = np.asarray(d(xd), dtype=np.float64)
    kinks = props.kinks
    tails = (_tail("left", d, xd, dyd, kinks), _tail("right", d, xd, dyd, kinks))
    lo_d, hi_d, max_abs, where = _derivative_extremes(d, xd, dyd, kinks, tails)
    zeros_f = _zero_set(f, xd, yd, kinks)
    zeros_d = _zero_set(d, xd, dyd, kinks)
    bps = [*kinks, *props.c1_points]
    moments = []
    for s in sorted({float(s) for s in scales} | {1.0}):
        ef, ef2, ed, ed2 = _normal_expectations(
            [f, lambda v: np.square(f(v)), d, lambda v: np.square(d(v))], s, bps
        )
        moments.append(
            Moments(
                scale=s,
                mean=float(ef),
                var=float(max(ef2 - ef * ef, 0.0)),
                second=float(ef2),
                dmean=float(ed),
                dvar=float(max(ed2 - ed * ed, 0.0)),
                dsecond=float(ed2),
                zero_fraction=_measure(zeros_f, s),
                zero_grad_fraction=_measure(zeros_d, s),
            )
        )
    m1 = next(m for m in moments if m.scale == 1.0)
    given = {k: v for k, v in params.items()}
    return Criteria(
        name=act.name,
        label=_label(act.name, given),
        params=p,
        properties=props,
        derivative_range=(lo_d, hi_d),
        max_abs_derivative=max_abs,
        argmax_abs_derivative=where,
        left=tails[0],
        right=tails[1],
        moments=tuple(moments),
        gain=1.0 / math.sqrt(m1.second) if m1.second > 0 else math.inf,
        gain_backward=1.0 / math.sqrt(m1.dsecond) if m1.dsecond > 0 else math.inf,
        torch_gain=torch_gain(act, **p),
    )


def _items(items: Iterable[Any] | None) -> list[tuple[functions.Activation, dict[str, Any]]]:
    if items is None:
        items = [n for n in functions.names() if functions.get(n).kind == "elementwise"]
    out = []
    for it in items:
        name, given = (it, {}) if isinstance(it, (str, functions.Activation)) else it
        out.append((functions.get(name), dict(given)))
    return out


def table(
    items: Iterable[Any] | None = None,
    *,
    scales: Sequence[float] = (0.5, 1.0, 2.0),
    cost: bool = False,
    cost_options: Mapping[str, Any] | None = None,
) -> list[Criteria]:
    """:func:`criteria` for many activations: names, or ``(name, params)`` pairs.

    Vector activations (softmax, glu, ...) are not elementwise and are skipped; the
    default is every elementwise catalogue entry. With ``cost=True`` each row also gets
    its forward+backward time over ReLU's, actlab's and PyTorch's native
    (:func:`relative_cost`, one interleaved run; ``cost_options`` are its keywords).

    Example:
        >>> [c.label for c in table(["relu", ("swish", {"beta": 2.0})])]
        ['relu', 'swish(beta=2.0)']
    """
    pairs = [(a, g) for a, g in _items(items) if a.kind == "elementwise"]
    rows = [criteria(a, scales=scales, **g) for a, g in pairs]
    if cost:
        from dataclasses import replace

        report = relative_cost(pairs, **dict(cost_options or {}))
        rows = [
            replace(r, cost=report.ratios[r.label], cost_torch=report.torch_ratios.get(r.label))
            for r in rows
        ]
    return rows


@dataclass(frozen=True)
class CostReport:
    """Forward+backward time of each activation over ReLU's, measured in one run.

    Each measurement is one forward and one backward pass of ``n`` elements of
    ``dtype``, interleaved across activations in a shuffled order after a warm-up;
    ratios are medians over ``repeats`` rounds divided by ReLU's median in the same
    rounds. ``ratios``: actlab's implementation (``actlab.functional``: the catalogue's
    definition, computed in float64 for float32 inputs, with its analytic derivative)
    over actlab's ReLU. ``torch_ratios``: PyTorch's native op, where it has one, over
    ``torch.nn.functional.relu``. ``torch_relu``: native ReLU over actlab's ReLU.
    Timings depend on the machine: compare only ratios of one run.
    """

    ratios: dict[str, float]
    torch_ratios: dict[str, float]
    relu_seconds: float
    torch_relu: float
    n: int
    dtype: str
    repeats: int
    threads: int
    machine: dict[str, Any] = field(default_factory=dict)


def relative_cost(
    items: Iterable[Any] | None = None,
    *,
    n: int = 1_000_000,
    repeats: int = 5,
    dtype: str = "float32",
    threads: int | None = None,
    native: bool = True,
    seed: int = 0,
) -> CostReport:
    """Time forward+backward of each activation relative to ReLU, in one interleaved run.

    Args:
        items: names or ``(name, params)`` pairs (default: every elementwise entry).
        n: elements per measurement. Default: 1_000_000.
        repeats: rounds; each activation is timed once per round. Default: 5.
        dtype: ``"float32"``, ``"float64"``, ... Default: ``"float32"``.
        threads: torch threads for the run (restored after). Default: unchanged.
        native: also time PyTorch's native ops. Default: True.

    Example:
        >>> r = relative_cost(["tanh"], n=10_000, repeats=3)
        >>> sorted(r.ratios), r.ratios["relu"], sorted(r.torch_ratios)
        (['relu', 'tanh'], 1.0, ['relu', 'tanh'])
    """
    import torch

    from .._timing import interleaved
    from ..torch import functional, twins
    from . import machine

    pairs = _items(items)
    labels = {_label(a.name, g): (a, g) for a, g in pairs}
    labels.setdefault("relu", (functions.get("relu"), {}))
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.randn(n, generator=gen, dtype=getattr(torch, dtype))
    gy = torch.ones_like(x0)
    leaf = [x0]

    def fresh() -> None:  # a new leaf per call, untimed: no gradient accumulates
        leaf[0] = x0.detach().requires_grad_(True)

    runners: dict[tuple[str, str], Callable[[], Any]] = {}
    for lab, (a, g) in labels.items():
        runners[("actlab", lab)] = lambda a=a, g=g: (
            functional.apply(a, leaf[0], **g).backward(gy)
        )
        fn = twins.function(a, g) if native else None
        if fn is not None:
            runners[("torch", lab)] = lambda fn=fn: fn(leaf[0]).backward(gy)
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        timed = interleaved(
            runners, repeats, warmup=1, setup=dict.fromkeys(runners, fresh), seed=seed
        )
        used_threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(old_threads)
    # medians: the table states what forward+backward typically costs over ReLU's
    med = {k: t.median for k, t in timed.items()}
    base, tbase = med[("actlab", "relu")], med.get(("torch", "relu"))
    return CostReport(
        ratios={lab: v / base for (impl, lab), v in med.items() if impl == "actlab"},
        torch_ratios={
            lab: v / tbase for (impl, lab), v in med.items() if impl == "torch" and tbase
        },
        relu_seconds=base,
        torch_relu=(tbase or math.nan) / base,
        n=n,
        dtype=dtype,
        repeats=repeats,
        threads=used_threads,
        machine=machine.describe(),
    )
