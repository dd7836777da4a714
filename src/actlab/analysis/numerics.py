"""Numerics audit: the error, in ULP, of every activation against a high-precision reference.

For each activation the forward value and the derivative are evaluated on a
fixed grid of float32 inputs (dense near 0, logarithmic out to the float32
limits, both signs, plus kinks and exp's overflow boundaries), rounded to the
dtype under test (float32, bfloat16, float16), and compared with the mpmath
reference of :mod:`actlab.analysis.reference`. PyTorch's native op, where
there is one, is measured on the same grid beside actlab's.

Errors are counted only where the true result is a normal number of the dtype
under test (subnormal results carry fewer significant bits by definition);
separately, every finite input whose true result is finite must give a
finite output, and every true overflow must give an infinity of the right
sign: those failures are counted as ``bad``.

User-registered activations have no mpmath reference: their forward is
compared with the same definition evaluated in float64, and their derivative
with the analytic derivative (or torch autograd) in float64.

Example:
    >>> from actlab.analysis import numerics
    >>> row = numerics.audit("gelu", dtype="float32", points=400)[0]
    >>> row.fwd_max <= 2 and row.deriv_max <= 4
    True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .. import functions
from . import reference

__all__ = ["DERIVATIVE_BOUND", "FORWARD_BOUND", "AuditRow", "audit", "grid", "ulp_error"]

#: The catalogue's promise in float32: forward within 2 ULP, derivative within 4 ULP.
FORWARD_BOUND = 2.0
DERIVATIVE_BOUND = 4.0

_PRECISION = {
    "float32": (24, -126),
    "bfloat16": (8, -126),
    "float16": (11, -14),
    "float64": (53, -1022),
}
_MAX = {
    "float32": 3.4028234663852886e38,
    "bfloat16": 3.3895313892515355e38,
    "float16": 65504.0,
    "float64": 1.7976931348623157e308,
}


@dataclass(frozen=True)
class AuditRow:
    """One activation, one dtype, one implementation."""

    name: str
    dtype: str
    impl: str  # "actlab" or "torch"
    points: int  # grid points whose true forward result is a normal number of the dtype
    fwd_max: float
    fwd_p999: float
    deriv_max: float | None
    deriv_p999: float | None
    bad: int  # NaN/inf where the true result is finite, or a finite value where it overflows
    worst_x: float  # input of the largest forward error

    def ok(self, fwd_bound: float = FORWARD_BOUND, deriv_bound: float = DERIVATIVE_BOUND) -> bool:
        d_ok = self.deriv_max is None or self.deriv_max <= deriv_bound
        return self.fwd_max <= fwd_bound and d_ok and self.bad == 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def grid(points: int = 4000, *, extra: Iterable[float] = ()) -> np.ndarray:
    """A fixed float32 grid: about half dense on [-12, 12], half log-spaced to the float32 limits.

    Both signs, signed zeros, the smallest subnormal, the largest finite value,
    exp's float32 overflow and underflow boundaries and their neighbours.
    """
    n_lin = points // 2
    n_log = (points - n_lin) // 2
    lin = np.linspace(-12.0, 12.0, n_lin)
    mag = np.logspace(-45.0, math.log10(3.4e38), n_log)
    special = [
        0.0,
        -0.0,
        1.401298464324817e-45,
        1.1754943508222875e-38,
        3.4028234663852886e38,
        88.72283935546875,
        88.72284,
        -87.33654,
        -103.97208,
        -103.27893,
        20.0,
        40.0,
        -1.2784645,
        -0.7517916,
        -1.1924,
        709.78,
        -745.1,
        65504.0,
        1e4,
        -1e4,
    ]
    x = np.concatenate([lin, mag, -mag, special, -np.asarray(special), np.asarray(list(extra))])
    x32 = np.unique(x.astype(np.float32))
    # one float32 step either side of every point that is a kink somewhere in the catalogue
    kinks = np.asarray([-3, -2.5, -2, -1, -0.5, 0.5, 1, 2, 2.5, 3, 6], dtype=np.float32)
    near = np.concatenate(
        [np.nextafter(kinks, np.float32(np.inf)), kinks, np.nextafter(kinks, np.float32(-np.inf))]
    )
    return np.unique(np.concatenate([x32, near]))


def ulp_error(y: np.ndarray, ref: np.ndarray, dtype: str) -> np.ndarray:
    """|y - ref| in units of the last place of ``dtype`` at ``ref`` (float64 arrays)."""
    p, emin = _PRECISION[dtype]
    _, e = np.frexp(np.abs(ref))
    e = np.maximum(e - 1, emin)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.abs(y - ref) / np.ldexp(1.0, e - (p - 1))


def _round_to(x: np.ndarray, dtype: str) -> Any:
    """Round float64 values to ``dtype``; returns a torch tensor for bfloat16."""
    import torch

    t = torch.from_numpy(np.asarray(x, dtype=np.float64))
    return t.to(getattr(torch, dtype))


def _as_f64(t: Any) -> np.ndarray:
    import torch

    if isinstance(t, torch.Tensor):
        return t.detach().to(torch.float64).numpy()
    return np.asarray(t, dtype=np.float64)


@functools.lru_cache(maxsize=256)
def _reference(name: str, params: tuple, xs: bytes) -> tuple[np.ndarray, np.ndarray]:
    x = np.frombuffer(xs, dtype=np.float64)
    act = functions.get(name)
    p = dict(params)
    if name in reference.NAMES and not act.user:
        return reference.forward(name, x, **p), reference.derivative(name, x, **p)
    # user-registered: the same definition in float64 (analytic or autograd derivative)
    return np.asarray(act.forward(x, **p), np.float64), np.asarray(
        act.derivative(x, **p), np.float64
    )


def _measure(
    name: str,
    dtype: str,
    impl: str,
    x64: np.ndarray,
    ref_f: np.ndarray,
    ref_d: np.ndarray,
    fwd: Callable[[Any], Any],
) -> AuditRow:
    import torch

    xt = _round_to(x64, dtype).requires_grad_(True)
    y = fwd(xt)
    (d,) = torch.autograd.grad(y.sum(), xt) if y.requires_grad else (None,)
    yf = _as_f64(y)
    big = _MAX[dtype]
    tiny = 2.0 ** _PRECISION[dtype][1]
    finite_true = np.isfinite(ref_f) & (np.abs(ref_f) <= big * (1 + 2.0 ** -_PRECISION[dtype][0]))
    normal = finite_true & (np.abs(ref_f) >= tiny) & (np.abs(ref_f) <= big)
    overflow = ~np.isnan(ref_f) & ~finite_true
    bad = int(np.sum(finite_true & ~np.isfinite(yf)))
    bad += int(np.sum(overflow & ~(np.isinf(yf) & (np.sign(yf) == np.sign(ref_f)))))
    ef = ulp_error(yf[normal], ref_f[normal], dtype)
    row_d: tuple[float | None, float | None] = (None, None)
    if d is not None:
        df = _as_f64(d)
        dn = np.isfinite(ref_d) & (np.abs(ref_d) >= tiny) & (np.abs(ref_d) <= big)
        bad += int(np.sum(np.isfinite(ref_d) & (np.abs(ref_d) <= big) & ~np.isfinite(df)))
        ed = ulp_error(df[dn], ref_d[dn], dtype)
        row_d = (_max(ed), _pct(ed))
    worst = float(x64[normal][int(np.argmax(ef))]) if ef.size else float("nan")
    return AuditRow(name, dtype, impl, int(normal.sum()), _max(ef), _pct(ef), *row_d, bad, worst)


def _max(e: np.ndarray) -> float:
    # NaN errors (a NaN output) rank as infinitely wrong; they are also counted in `bad`.
    return float(np.max(np.where(np.isnan(e), np.inf, e))) if e.size else 0.0


def _pct(e: np.ndarray) -> float:
    e = np.where(np.isnan(e), np.inf, e)
    return float(np.percentile(e, 99.9, method="higher")) if e.size else 0.0


def audit(
    names: str | Sequence[str] | None = None,
    *,
    dtype: str | Sequence[str] = "float32",
    points: int = 4000,
    torch_native: bool = True,
    params: dict[str, dict[str, Any]] | None = None,
    extra: Iterable[float] = (),
) -> list[AuditRow]:
    """Audit forward and derivative accuracy of elementwise activations.

    Args:
        names: activation names (default: every elementwise entry).
        dtype: ``"float32"``, ``"bfloat16"``, ``"float16"`` or a list of them.
        points: approximate grid size (see :func:`grid`).
        torch_native: also measure PyTorch's own op where it has one.
        params: per-activation parameter overrides, ``{"elu": {"alpha": 0.5}}``.
        extra: more input points (rounded to each dtype), e.g. around a derivative's zero.

    Returns:
        One :class:`AuditRow` per activation, dtype and implementation.
    """
    from ..torch import functional as AF
    from ..torch import twins

    if names is None:
        names = [n for n in functions.names() if functions.get(n).kind == "elementwise"]
    elif isinstance(names, str):
        names = [names]
    dtypes = [dtype] if isinstance(dtype, str) else list(dtype)
    for dt in dtypes:
        if dt not in _PRECISION:
            raise ValueError(f"dtype must be one of {', '.join(_PRECISION)}; got {dt!r}")
    rows = []
    base = np.concatenate([grid(points).astype(np.float64), np.asarray(list(extra), np.float64)])
    for name in names:
        act = functions.get(name)
        if act.kind != "elementwise":
            raise ValueError(f"{act.name} is not elementwise; the audit covers elementwise entries")
        p = act.resolve((params or {}).get(act.name, {}))
        for dt in dtypes:
            x64 = np.unique(_as_f64(_round_to(base, dt)))
            x64 = x64[np.isfinite(x64)]
            ref_f, ref_d = _reference(act.name, tuple(sorted(p.items())), x64.tobytes())
            rows.append(
                _measure(
                    act.name,
                    dt,
                    "actlab",
                    x64,
                    ref_f,
                    ref_d,
                    lambda t, a=act, p=p: AF.apply(a, t, **p),
                )
            )
            native = twins.function(act, p) if torch_native else None
            if native is not None:
                rows.append(_measure(act.name, dt, "torch", x64, ref_f, ref_d, native))
    return rows


def audit_vector(
    names: str | Sequence[str] | None = None,
    *,
    dtype: str | Sequence[str] = "float32",
    rows: int = 200,
    length: int = 8,
    torch_native: bool = True,
    seed: int = 0,
) -> list[AuditRow]:
    """Audit the vector activations (softmax family, sparsemax, GLUs) on random rows.

    Rows of ``length`` values ~ N(0, s^2) for s in 0.1, 1, 10 and 100, rounded to
    the dtype; the "derivative" columns are the vector-Jacobian product with a
    random N(0, 1) cotangent, against :func:`reference.vector_vjp`.
    """
    import torch

    from ..torch import functional as AF
    from ..torch import twins

    if names is None:
        names = [n for n in functions.names() if functions.get(n).kind == "vector"]
    elif isinstance(names, str):
        names = [names]
    dtypes = [dtype] if isinstance(dtype, str) else list(dtype)
    rng = np.random.default_rng(seed)
    scales = np.repeat([0.1, 1.0, 10.0, 100.0], -(-rows // 4))[:rows, None]
    xs = rng.standard_normal((rows, length)) * scales
    out = []
    for name in names:
        act = functions.get(name)
        glu = name in ("glu", "swiglu", "geglu")
        g64 = rng.standard_normal((rows, length // 2 if glu else length))
        impls = [("actlab", lambda t, a=act: AF.apply(a, t, dim=-1))]
        native = twins.function(act) if torch_native else None
        if native is not None:
            impls.append(("torch", native))
        for dt in dtypes:
            x64 = _as_f64(_round_to(xs, dt))
            gs = _as_f64(_round_to(g64, dt))  # the reference sees the same rounded cotangent
            ref_f = np.stack([reference.vector_forward(name, r) for r in x64])
            ref_d = np.stack([reference.vector_vjp(name, r, g) for r, g in zip(x64, gs)])
            for impl, fn in impls:
                xt = _round_to(x64, dt).requires_grad_(True)
                y = fn(xt)
                (d,) = torch.autograd.grad(y, xt, _round_to(gs, dt))
                out.append(
                    _score(
                        name,
                        dt,
                        impl,
                        x64.ravel(),
                        ref_f.ravel(),
                        ref_d.ravel(),
                        _as_f64(y).ravel(),
                        _as_f64(d).ravel(),
                    )
                )
    return out


def _score(
    name: str,
    dtype: str,
    impl: str,
    x: np.ndarray,
    ref_f: np.ndarray,
    ref_d: np.ndarray,
    yf: np.ndarray,
    df: np.ndarray,
) -> AuditRow:
    big, tiny = _MAX[dtype], 2.0 ** _PRECISION[dtype][1]
    normal = np.isfinite(ref_f) & (np.abs(ref_f) >= tiny) & (np.abs(ref_f) <= big)
    dn = np.isfinite(ref_d) & (np.abs(ref_d) >= tiny) & (np.abs(ref_d) <= big)
    bad = int(np.sum(np.isfinite(ref_f) & ~np.isfinite(yf)))
    bad += int(np.sum(np.isfinite(ref_d) & ~np.isfinite(df)))
    ef = ulp_error(yf[normal], ref_f[normal], dtype)
    ed = ulp_error(df[dn], ref_d[dn], dtype)
    worst = (
        float(x[: ef.size][int(np.argmax(ef))]) if ef.size and x.size == yf.size else float("nan")
    )
    return AuditRow(
        name, dtype, impl, int(normal.sum()), _max(ef), _pct(ef), _max(ed), _pct(ed), bad, worst
    )


def markdown_table(rows: Sequence[AuditRow]) -> str:
    """The audit as a Markdown table, actlab and PyTorch side by side per activation and dtype."""
    by_key: dict[tuple[str, str], dict[str, AuditRow]] = {}
    for r in rows:
        by_key.setdefault((r.name, r.dtype), {})[r.impl] = r
    head = (
        "| activation | dtype | actlab fwd max | fwd p99.9 | deriv max | deriv p99.9 | bad "
        "| torch fwd max | torch fwd p99.9 | torch deriv max | torch bad |"
    )
    lines = [head, "|" + "---|" * 11]
    for (name, dt), impls in by_key.items():
        a, t = impls.get("actlab"), impls.get("torch")
        cells = [name, dt, *_cells(a, full=True), *_cells(t, full=False)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if v == 0:
        return "0"
    if v >= 1e4:
        return f"{v:.1e}"
    return f"{v:.2f}" if v < 10 else f"{v:.0f}"


def _cells(r: AuditRow | None, *, full: bool) -> list[str]:
    if r is None:
        return ["-"] * (5 if full else 4)
    if full:
        return [
            _fmt(r.fwd_max),
            _fmt(r.fwd_p999),
            _fmt(r.deriv_max),
            _fmt(r.deriv_p999),
            str(r.bad),
        ]
    return [_fmt(r.fwd_max), _fmt(r.fwd_p999), _fmt(r.deriv_max), str(r.bad)]
