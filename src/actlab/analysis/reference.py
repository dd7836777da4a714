"""High-precision mpmath reference ("oracle") for activation values and derivatives.

This module is the ground truth of the float32/float64 accuracy audit: the audit measures
the error of a fast implementation in ULP against the values returned here.  It imports only
the standard library, :mod:`numpy` and :mod:`mpmath`.

Public API
----------
``forward(name, x, **params)`` / ``derivative(name, x, wrt="x", **params)``
    numpy arrays in, float64 arrays of the same shape out.  Every element is converted to
    an ``mpf`` exactly, evaluated, and rounded to the nearest float64 (correctly, including
    subnormals; values beyond the float64 range become +/-inf).
``forward_mp(name, x, **params)`` / ``derivative_mp(name, x, wrt="x", **params)``
    one ``mpf`` in, one full-precision ``mpf`` out.
``vector_forward(name, x, **params)``
    softmax / log_softmax / softmin / sparsemax and glu / swiglu / geglu along a 1-D input.
``NAMES`` / ``VECTOR_NAMES``
    the supported names.

Precision model
---------------
Inputs (binary floats) are exact.  Each value is computed with ``mpmath.workprec`` (the
global ``mp`` state is never changed) at ``TARGET_BITS + 40`` bits, and aims at a relative
error below ``2**-TARGET_BITS`` (``TARGET_BITS = 120``, i.e. about 1e-36; the audit needs
1e-30).  Two mechanisms keep that promise over the whole finite float range:

* *Argument growth.*  Where an exponential is applied to a computed (rounded) argument
  ``g(x)`` -- ``-x/sqrt(2)`` in ``erfc``, ``sqrt(2/pi)(x + 0.044715 x^3)``, ``1.702 x``,
  ``x/alpha`` -- the relative error of the result is ``|g|`` times that of ``g``.  Such
  functions declare the polynomial degree of ``g`` (1 for quick_gelu and celu, 2 for gelu,
  3 for gelu_tanh) and get that many times ``log2|x|`` extra bits, e.g. ~540 bits for
  gelu_tanh at ``|x| = 3e38``.  Exponentials of exact arguments (``exp(x)``,
  ``exp(-x*x/2)``, ``exp(beta*x)`` with float beta) need nothing: mpmath reduces them with
  enough bits itself, and its exponent range is unbounded.  For ``|x| >= 2**16`` gelu uses
  the Mills-ratio series ``Phi(-a) = phi(a)/a (1 - 1/a^2 + 3/a^4 - ...)`` with the exact
  ``exp(-x*x/2)`` (so its extra bits stop at 34; mpmath's erfc also raises OverflowError
  beyond ~1e154).
* *Cancellation detection.*  Every sum of terms of different sign goes through ``_sum``,
  which compares the magnitude of the largest term with that of the result.  When more bits
  were lost than the working precision can spare, the whole evaluation is repeated at a
  precision raised by the number of lost bits.  This covers the zeros of the derivatives of
  silu/swish/quick_gelu (x ~ -1.2785/beta), gelu (~ -0.7518), gelu_tanh and mish (~ -1.19),
  where a float input can lie within 2**-60 of the root, and ``x - tanh(x)`` for tiny x,
  where ``2*log2(1/|x|)`` bits cancel (up to ~2150 for float64 subnormals; tanh_shrink also
  starts with that many extra bits so that it normally needs a single pass).

Formulations chosen to avoid cancellation
-----------------------------------------
* sigmoid: with ``e = exp(-|x|)``, ``s(|x|) = 1/(1+e)`` and ``s(-|x|) = e/(1+e)``; the
  derivative is ``s(x) s(-x)``, never ``s (1-s)`` (which is 0 at x=70 even at 120 bits).
* softplus / log_sigmoid: ``log1p(exp(z))`` for z <= 0 and ``z + log1p(exp(-z))`` for z > 0
  (both terms positive); ``log_sigmoid(x) = -softplus(-x)``.
* tanh': ``sech(x)**2``, never ``1 - tanh^2``; mpmath's exponent range is unbounded, so
  ``cosh(3e38)`` is an ordinary number.
* gelu: ``Phi(x) = erfc(-x/sqrt 2)/2`` (``1 + erf`` would cancel for x < 0);
  gelu' = ``Phi(x) + x phi(x)`` through ``_sum``.
* gelu_tanh: ``0.5 x (1 + tanh u) = x * sigmoid(2u)``; ``u = sqrt(2/pi) x (1 + c x^2)`` has
  no cancellation; the derivative uses ``sigmoid(2u) sigmoid(-2u)`` for ``sech^2(u)/2``.
* mish: with ``t = 1 + e^x``, ``tanh(log t) = e(e+2)/(e(e+2)+2)`` and
  ``sech^2(log t) = 4 t^2/(t^2+1)^2`` (for x > 0 the same with ``q = e^-x`` factored out),
  so neither ``t^2 - 1`` nor ``1 - tanh^2`` is formed.
* squareplus: for x < 0, ``(x + r)/2 = b/(2(r - x))`` and ``(1 + x/r)/2 = b/(2 r (r - x))``
  with ``r = sqrt(x^2 + b)``.
* elu / celu / selu: ``expm1``.
* hard_sigmoid_keras2: ``(x + 5/2)/5`` rather than ``x/5 + 1/2`` (``1/5`` is not binary, and
  rounding ``x/5`` before adding ``1/2`` would cancel near x = -2.5).
* piecewise-linear functions: differences of exact inputs (``x + 3``, ``x - lambd``) are
  correctly rounded by mpmath, so they never lose relative accuracy.
* log_softmax: ``(x_i - m) - log1p(S')`` where m is the maximum and S' the sum of
  ``exp(x_j - m)`` over all j but the (first) arg-max; both parts are <= 0, whereas
  ``x_i - logsumexp(x)`` would cancel when one entry dominates.
* sparsemax: exact rational arithmetic (:class:`fractions.Fraction`), correctly rounded.

Special values: NaN gives NaN; +/-inf give the mathematical limits (explicit where a formula
would produce ``inf*0`` or ``inf/inf``).  Signed zeros are not tracked.
"""

from __future__ import annotations

import contextvars
import functools
import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
from mpmath import mpf

__all__ = [
    "NAMES",
    "TARGET_BITS",
    "VECTOR_NAMES",
    "derivative",
    "derivative_mp",
    "forward",
    "forward_mp",
    "vector_forward",
    "vector_vjp",
]

#: relative accuracy aimed at (bits); the audit needs ~100 (1e-30).
TARGET_BITS = 120
_GUARD_BITS = 40
_SLACK_BITS = 16
#: beyond this working precision cancellation is no longer chased (exact zeros only).
_MAX_PREC = 1 << 15

_target: contextvars.ContextVar[int] = contextvars.ContextVar("_target", default=TARGET_BITS)

_INF = mpf("inf")


class _NeedMorePrecision(Exception):
    """Raised inside an evaluation to restart it at ``prec`` bits."""

    def __init__(self, prec: int) -> None:
        super().__init__(prec)
        self.prec = prec


def _sum(*terms: mpf) -> mpf:
    """Sum of terms that may cancel; restarts the evaluation if too many bits cancelled."""
    s = terms[0]
    for t in terms[1:]:
        s = s + t
    big = max(abs(t) for t in terms)
    if not big or not mpmath.isfinite(big) or not mpmath.isfinite(s):
        return s
    prec = mpmath.mp.prec
    if prec >= _MAX_PREC:
        return s
    if not s:
        raise _NeedMorePrecision(2 * prec)
    lost = int(mpmath.mag(big)) - int(mpmath.mag(s))
    need = _target.get() + _SLACK_BITS + max(lost, 0)
    if prec < need:
        raise _NeedMorePrecision(need + _SLACK_BITS)
    return s


# --------------------------------------------------------------------------- constants


@functools.lru_cache(maxsize=64)
def _consts(prec: int) -> dict[str, mpf]:
    with mpmath.workprec(prec):
        return {
            "sqrt2": mpmath.sqrt(2),
            "inv_sqrt_2pi": 1 / mpmath.sqrt(2 * mpmath.pi),
            "sqrt_2_over_pi": mpmath.sqrt(2 / mpmath.pi),
            "c_tanh": mpf("0.044715"),
            "c_quick": mpf("1.702"),
            "selu_alpha": mpf("1.6732632423543772848170429916717"),
            "selu_scale": mpf("1.0507009873554804934193349852946"),
        }


def _c(key: str) -> mpf:
    return _consts(mpmath.mp.prec)[key]


# --------------------------------------------------------------------------- helpers


def _sig_pair(z: mpf) -> tuple[mpf, mpf]:
    """``(sigmoid(z), sigmoid(-z))`` from ``e = exp(-|z|)``: no 1 - s anywhere."""
    e = mpmath.exp(-abs(z))
    d = 1 + e
    big, small = 1 / d, e / d
    return (big, small) if z >= 0 else (small, big)


def _softplus0(z: mpf) -> mpf:
    """``log(1 + e^z)``; for z > 0 as ``z + log1p(e^-z)`` (two positive terms)."""
    if z > 0:
        return z + mpmath.log1p(mpmath.exp(-z))
    return mpmath.log1p(mpmath.exp(z))


def _clamp(x: mpf, lo: Any, hi: Any) -> mpf:
    return mpf(min(max(x, lo), hi))


def _slope_times(slope: mpf, x: mpf) -> mpf:
    # limit semantics: 0 * (-inf) is 0 for a zero slope
    return mpf(0) if not slope else slope * x


def _swish_core(x: mpf, b: mpf) -> tuple[mpf, mpf]:
    """``(sigmoid(bx), b x sigmoid(bx) sigmoid(-bx))``."""
    z = b * x
    s, sm = _sig_pair(z)
    return s, z * s * sm


# --------------------------------------------------------------------------- activations
# Each function receives an mpf x (finite or +/-inf, never NaN) and mpf parameters and
# runs inside mpmath.workprec.


def _identity_f(x):
    return x


def _identity_d(x):
    return mpf(1)


def _sigmoid_f(x):
    return _sig_pair(x)[0]


def _sigmoid_d(x):
    s, sm = _sig_pair(x)
    return s * sm


def _hard_sigmoid_f(x):
    return _clamp(x + 3, 0, 6) / 6


def _hard_sigmoid_d(x):
    return mpf(1) / 6 if -3 < x < 3 else mpf(0)


def _hard_sigmoid_keras2_f(x):
    # (x + 5/2)/5 instead of x/5 + 1/2: the sum of exact binary numbers is correctly rounded.
    return _clamp(x + mpf(2.5), 0, 5) / 5


def _hard_sigmoid_keras2_d(x):
    return mpf(1) / 5 if -2.5 < x < 2.5 else mpf(0)


def _sparse_sigmoid_f(x):
    return _clamp(x + 1, 0, 2) / 2


def _sparse_sigmoid_d(x):
    return mpf(0.5) if -1 < x < 1 else mpf(0)


def _log_sigmoid_f(x):
    return -_softplus0(-x)


def _log_sigmoid_d(x):
    return _sig_pair(x)[1]


def _tanh_f(x):
    return mpmath.tanh(x)


def _tanh_d(x):
    # sech^2, not 1 - tanh^2
    return mpmath.sech(x) ** 2


def _hard_tanh_f(x, min_val, max_val):
    return _clamp(x, min_val, max_val)


def _hard_tanh_d(x, min_val, max_val):
    return mpf(1) if min_val < x < max_val else mpf(0)


def _softsign_f(x):
    if mpmath.isinf(x):
        return mpf(1) if x > 0 else mpf(-1)
    return x / (1 + abs(x))


def _softsign_d(x):
    return 1 / (1 + abs(x)) ** 2


def _relu_f(x):
    return x if x > 0 else mpf(0)


def _relu_d(x):
    return mpf(1) if x > 0 else mpf(0)


def _relu6_f(x):
    return _clamp(x, 0, 6)


def _relu6_d(x):
    return mpf(1) if 0 < x < 6 else mpf(0)


def _leaky_relu_f(x, negative_slope):
    return x if x > 0 else _slope_times(negative_slope, x)


def _leaky_relu_d(x, negative_slope):
    return mpf(1) if x > 0 else +negative_slope


def _prelu_f(x, weight):
    return _leaky_relu_f(x, weight)


def _prelu_d(x, weight):
    return _leaky_relu_d(x, weight)


def _prelu_dweight(x, weight):
    return x if x < 0 else mpf(0)


def _rrelu_f(x, lower, upper):
    return _leaky_relu_f(x, (lower + upper) / 2)


def _rrelu_d(x, lower, upper):
    return _leaky_relu_d(x, (lower + upper) / 2)


def _threshold_f(x, threshold, value):
    return x if x > threshold else +value


def _threshold_d(x, threshold, value):
    return mpf(1) if x > threshold else mpf(0)


def _elu_f(x, alpha):
    return x if x > 0 else alpha * mpmath.expm1(x)


def _elu_d(x, alpha):
    return mpf(1) if x > 0 else alpha * mpmath.exp(x)


def _celu_f(x, alpha):
    return x if x > 0 else alpha * mpmath.expm1(x / alpha)


def _celu_d(x, alpha):
    return mpf(1) if x > 0 else mpmath.exp(x / alpha)


def _selu_f(x):
    scale = _c("selu_scale")
    if x > 0:
        return scale * x
    return scale * _c("selu_alpha") * mpmath.expm1(x)


def _selu_d(x):
    scale = _c("selu_scale")
    if x > 0:
        return +scale
    return scale * _c("selu_alpha") * mpmath.exp(x)


_MILLS_MIN = mpf(2) ** 16
_MILLS_MAG = 17  # mag(x) of the smallest |x| that uses the Mills-ratio series


def _upper_tail(x):
    """``Q(|x|) = Phi(-|x|)`` for ``|x| >= 2**16`` by the Mills-ratio series.

    ``Q(a) = phi(a)/a * sum_n (-1)^n (2n-1)!! / a^(2n)``: an alternating, enveloping series
    whose terms shrink by ``(2n+1)/a^2 <= 2**-31`` here.  ``exp(-x*x/2)`` has an exact
    argument, so no argument rounding is amplified (mpmath's erfc needs ``-x/sqrt2`` and
    fails with OverflowError beyond ~1e154).
    """
    a = abs(x)
    inv2 = 1 / (a * a)
    eps = mpf(2) ** -(mpmath.mp.prec + 8)
    term, total, n = mpf(1), mpf(1), 0
    while abs(term) > eps:
        term = -term * (2 * n + 1) * inv2
        total += term
        n += 1
    return _phi(x) / a * total


def _Phi(x):
    if abs(x) >= _MILLS_MIN:
        q = _upper_tail(x)
        return q if x < 0 else 1 - q
    # erfc form: 1 + erf(x/sqrt2) would cancel for x < 0
    return mpmath.erfc(-x / _c("sqrt2")) / 2


def _phi(x):
    return mpmath.exp(-(x * x) / 2) * _c("inv_sqrt_2pi")


def _gelu_f(x):
    if mpmath.isinf(x):
        return _INF if x > 0 else mpf(0)
    return x * _Phi(x)


def _gelu_d(x):
    if mpmath.isinf(x):
        return mpf(1) if x > 0 else mpf(0)
    # zero near x = -0.7518: _sum raises the precision when the two terms cancel
    return _sum(_Phi(x), x * _phi(x))


def _gelu_tanh_parts(x):
    k, c = _c("sqrt_2_over_pi"), _c("c_tanh")
    x2 = x * x
    u = k * x * (1 + c * x2)  # x + c x^3 = x (1 + c x^2): no cancellation
    s, sm = _sig_pair(2 * u)  # 0.5 (1 + tanh u) = sigmoid(2u)
    du = k * (1 + 3 * c * x2)
    return s, sm, du


def _gelu_tanh_f(x):
    if mpmath.isinf(x):
        return _INF if x > 0 else mpf(0)
    s, _, _ = _gelu_tanh_parts(x)
    return x * s


def _gelu_tanh_d(x):
    if mpmath.isinf(x):
        return mpf(1) if x > 0 else mpf(0)
    s, sm, du = _gelu_tanh_parts(x)
    return _sum(s, 2 * x * du * s * sm)


def _quick_gelu_f(x):
    if mpmath.isinf(x):
        return _INF if x > 0 else mpf(0)
    return x * _sig_pair(_c("c_quick") * x)[0]


def _quick_gelu_d(x):
    if mpmath.isinf(x):
        return mpf(1) if x > 0 else mpf(0)
    return _sum(*_swish_core(x, _c("c_quick")))


def _silu_f(x):
    if mpmath.isinf(x):
        return _INF if x > 0 else mpf(0)
    return x * _sig_pair(x)[0]


def _silu_d(x):
    if mpmath.isinf(x):
        return mpf(1) if x > 0 else mpf(0)
    # s(x) + x s(x) s(-x); zero near x = -1.2785 handled by _sum
    return _sum(*_swish_core(x, mpf(1)))


def _swish_f(x, beta):
    if mpmath.isinf(x):
        # beta = 0: x/2; x and beta of the same sign: x * 1; opposite signs: x * e^{-inf}
        return +x if not beta or (x > 0) == (beta > 0) else mpf(0)
    return x * _sig_pair(beta * x)[0]


def _swish_d(x, beta):
    if mpmath.isinf(x):
        if not beta:
            return mpf(0.5)
        return mpf(1) if (x > 0) == (beta > 0) else mpf(0)
    return _sum(*_swish_core(x, beta))


def _swish_dbeta(x, beta):
    if mpmath.isinf(x):
        return _INF if not beta else mpf(0)
    s, sm = _sig_pair(beta * x)
    return x * x * s * sm


def _mish_parts(x):
    """``(tanh(softplus x), sech^2(softplus x), sigmoid x)`` without cancellation."""
    if x <= 0:
        e = mpmath.exp(x)
        t = 1 + e
        n = e * (e + 2)  # t^2 - 1
        t2 = t * t
        return n / (n + 2), 4 * t2 / (t2 + 1) ** 2, e / t
    q = mpmath.exp(-x)
    a = 1 + q
    a2 = a * a
    return (1 + 2 * q) / (a2 + q * q), 4 * q * q * a2 / (a2 + q * q) ** 2, 1 / a


def _mish_f(x):
    if mpmath.isinf(x):
        return _INF if x > 0 else mpf(0)
    return x * _mish_parts(x)[0]


def _mish_d(x):
    if mpmath.isinf(x):
        return mpf(1) if x > 0 else mpf(0)
    th, sech2, sig = _mish_parts(x)
    return _sum(th, x * sech2 * sig)  # zero near x = -1.19


def _hard_swish_f(x):
    if x <= -3:
        return mpf(0)
    if x >= 3:
        return +x
    return x * (x + 3) / 6


def _hard_swish_d(x):
    if x <= -3:
        return mpf(0)
    if x >= 3:
        return mpf(1)
    return (2 * x + 3) / 6


def _hard_mish_f(x):
    if x <= -2:
        return mpf(0)
    if x >= 0:
        return +x
    return x * (x + 2) / 2


def _hard_mish_d(x):
    if x < -2:
        return mpf(0)
    if x > 0:
        return mpf(1)
    return x + 1


def _softplus_f(x, beta, threshold):
    z = beta * x
    if z > threshold:
        return +x
    return _softplus0(z) / beta


def _softplus_d(x, beta, threshold):
    z = beta * x
    if z > threshold:
        return mpf(1)
    return _sig_pair(z)[0]


def _squareplus_f(x, b):
    if mpmath.isinf(x):
        return _INF if x > 0 else mpf(0)
    r = mpmath.sqrt(x * x + b)
    if x >= 0:
        return (x + r) / 2
    if not b:
        return mpf(0)
    return b / (2 * (r - x))  # (x + r)/2 rationalised: r - x has no cancellation for x < 0


def _squareplus_d(x, b):
    if mpmath.isinf(x):
        return mpf(1) if x > 0 else mpf(0)
    r = mpmath.sqrt(x * x + b)
    if not r:
        return mpf(0.5)
    if x >= 0:
        return (1 + x / r) / 2
    return b / (2 * r * (r - x))  # (1 + x/r)/2 = b / (2 r (r - x))


def _sparse_plus_f(x):
    if x <= -1:
        return mpf(0)
    if x >= 1:
        return +x
    return (x + 1) ** 2 / 4


def _sparse_plus_d(x):
    if x <= -1:
        return mpf(0)
    if x >= 1:
        return mpf(1)
    return (x + 1) / 2


def _relu2_f(x):
    return x * x if x > 0 else mpf(0)


def _relu2_d(x):
    return 2 * x if x > 0 else mpf(0)


def _hard_shrink_f(x, lambd):
    return +x if abs(x) > lambd else mpf(0)


def _hard_shrink_d(x, lambd):
    return mpf(1) if abs(x) > lambd else mpf(0)


def _soft_shrink_f(x, lambd):
    if x > lambd:
        return x - lambd
    if x < -lambd:
        return x + lambd
    return mpf(0)


def _soft_shrink_d(x, lambd):
    return mpf(1) if abs(x) > lambd else mpf(0)


def _tanh_shrink_f(x):
    # ~x^3/3 for tiny x: _sum (and the initial 2*log2(1/|x|) extra bits) handle it
    return _sum(+x, -mpmath.tanh(x))


def _tanh_shrink_d(x):
    return mpmath.tanh(x) ** 2


def _exponential_f(x):
    return mpmath.exp(x)


def _exponential_d(x):
    return mpmath.exp(x)


# --------------------------------------------------------------------------- registry


class _Spec:
    """Registry entry (a plain class: the module must also load outside ``sys.modules``)."""

    __slots__ = ("defaults", "derivative", "forward", "growth", "growth_cap", "partials", "tiny")

    def __init__(
        self,
        forward: Callable[..., mpf],
        derivative: Callable[..., mpf],
        defaults: dict[str, float] | None = None,
        *,
        growth: int = 0,  # degree of a *rounded* exponent argument: extra bits growth*log2|x|
        growth_cap: int | None = None,  # log2|x| beyond which the growth bits are not needed
        tiny: int = 0,  # extra bits tiny*log2(1/|x|) for |x| < 1
        partials: dict[str, Callable[..., mpf]] | None = None,
    ) -> None:
        self.forward = forward
        self.derivative = derivative
        self.defaults = dict(defaults or {})
        self.growth = growth
        self.growth_cap = growth_cap
        self.tiny = tiny
        self.partials = dict(partials or {})


_SPECS: dict[str, _Spec] = {
    "identity": _Spec(_identity_f, _identity_d),
    "sigmoid": _Spec(_sigmoid_f, _sigmoid_d),
    "hard_sigmoid": _Spec(_hard_sigmoid_f, _hard_sigmoid_d),
    "hard_sigmoid_keras2": _Spec(_hard_sigmoid_keras2_f, _hard_sigmoid_keras2_d),
    "sparse_sigmoid": _Spec(_sparse_sigmoid_f, _sparse_sigmoid_d),
    "log_sigmoid": _Spec(_log_sigmoid_f, _log_sigmoid_d),
    "tanh": _Spec(_tanh_f, _tanh_d),
    "hard_tanh": _Spec(_hard_tanh_f, _hard_tanh_d, {"min_val": -1.0, "max_val": 1.0}),
    "softsign": _Spec(_softsign_f, _softsign_d),
    "relu": _Spec(_relu_f, _relu_d),
    "relu6": _Spec(_relu6_f, _relu6_d),
    "leaky_relu": _Spec(_leaky_relu_f, _leaky_relu_d, {"negative_slope": 0.01}),
    "prelu": _Spec(_prelu_f, _prelu_d, {"weight": 0.25}, partials={"weight": _prelu_dweight}),
    "rrelu": _Spec(_rrelu_f, _rrelu_d, {"lower": 0.125, "upper": 1.0 / 3.0}),
    "threshold": _Spec(_threshold_f, _threshold_d, {"threshold": 0.0, "value": 0.0}),
    "elu": _Spec(_elu_f, _elu_d, {"alpha": 1.0}),
    "celu": _Spec(_celu_f, _celu_d, {"alpha": 1.0}, growth=1),
    "selu": _Spec(_selu_f, _selu_d),
    "gelu": _Spec(_gelu_f, _gelu_d, growth=2, growth_cap=_MILLS_MAG),
    "gelu_tanh": _Spec(_gelu_tanh_f, _gelu_tanh_d, growth=3),
    "quick_gelu": _Spec(_quick_gelu_f, _quick_gelu_d, growth=1),
    "silu": _Spec(_silu_f, _silu_d),
    "swish": _Spec(_swish_f, _swish_d, {"beta": 1.0},
                   partials={"beta": _swish_dbeta}),
    "hard_swish": _Spec(_hard_swish_f, _hard_swish_d),
    "mish": _Spec(_mish_f, _mish_d),
    "hard_mish": _Spec(_hard_mish_f, _hard_mish_d),
    "softplus": _Spec(_softplus_f, _softplus_d, {"beta": 1.0, "threshold": 20.0}),
    "squareplus": _Spec(_squareplus_f, _squareplus_d, {"b": 4.0}),
    "sparse_plus": _Spec(_sparse_plus_f, _sparse_plus_d),
    "relu2": _Spec(_relu2_f, _relu2_d),
    "hard_shrink": _Spec(_hard_shrink_f, _hard_shrink_d, {"lambd": 0.5}),
    "soft_shrink": _Spec(_soft_shrink_f, _soft_shrink_d, {"lambd": 0.5}),
    "tanh_shrink": _Spec(_tanh_shrink_f, _tanh_shrink_d, tiny=2),
    "exponential": _Spec(_exponential_f, _exponential_d),
}

#: elementwise activation names.
NAMES: tuple[str, ...] = tuple(_SPECS)
#: names accepted by :func:`vector_forward`.
VECTOR_NAMES: tuple[str, ...] = (
    "softmax", "log_softmax", "softmin", "sparsemax", "glu", "swiglu", "geglu",
)


# --------------------------------------------------------------------------- driver


def _spec(name: str) -> _Spec:
    try:
        return _SPECS[name]
    except KeyError:
        raise KeyError(name) from None


def _to_mpf(v: Any) -> mpf:
    """Exact conversion of a Python/numpy number (or mpf) to mpf."""
    if isinstance(v, mpf):
        return v
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        with mpmath.workprec(max(64, int(v).bit_length() + 8)):
            return mpf(int(v))
    return mpf(float(v))  # binary floats of <= 53 bits are exact


def _prepare(spec: _Spec, name: str, params: dict[str, Any]):
    unknown = sorted(set(params) - set(spec.defaults))
    if unknown:
        raise TypeError(f"{name}: unexpected parameter(s) {unknown}")
    merged = {**spec.defaults, **params}
    conv = {k: _to_mpf(v) for k, v in merged.items()}
    # parameters scale the exponent arguments (beta*x, x/alpha): count their magnitudes too
    pscale = sum(abs(int(mpmath.mag(p))) for p in conv.values() if p and mpmath.isfinite(p))
    return conv, pscale


def _select(spec: _Spec, name: str, wrt: str) -> Callable[..., mpf]:
    if wrt == "x":
        return spec.derivative
    try:
        return spec.partials[wrt]
    except KeyError:
        raise ValueError(f"{name}: no derivative with respect to {wrt!r}") from None


def _evaluate(fn: Callable[..., mpf], spec: _Spec, x: mpf, params: dict[str, mpf],
              pscale: int, target: int = TARGET_BITS) -> mpf:
    if mpmath.isnan(x):
        return mpf("nan")
    m = int(mpmath.mag(x)) if x and mpmath.isfinite(x) else 0
    big = max(m, 0) if spec.growth_cap is None else min(max(m, 0), spec.growth_cap)
    prec = target + _GUARD_BITS + spec.growth * (big + pscale) + spec.tiny * max(-m, 0)
    token = _target.set(target)
    try:
        while True:
            with mpmath.workprec(prec):
                try:
                    return fn(x, **params)
                except _NeedMorePrecision as exc:
                    prec = min(max(exc.prec, prec + 32), _MAX_PREC)
    finally:
        _target.reset(token)


def _to_float(y: mpf) -> float:
    """Correctly rounded mpf -> float64 (subnormals included; overflow gives inf)."""
    sign, man, exp, bc = y._mpf_
    if not man:
        if mpmath.isnan(y):
            return math.nan
        if mpmath.isinf(y):
            return -math.inf if y < 0 else math.inf
        return 0.0
    top = exp + bc  # 2**(top-1) <= |y| < 2**top
    if top > 1024:
        v = math.inf
    elif top < -1075:
        v = 0.0
    else:
        try:
            v = float(man << exp) if exp >= 0 else man / (1 << -exp)  # int division: exact RN
        except OverflowError:
            v = math.inf
    return -v if sign else v


def _array_apply(fn, spec: _Spec, x, params, pscale) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind == "c":
        raise TypeError("complex input is not supported")
    out = np.empty(arr.shape, dtype=np.float64)
    flat = out.reshape(-1)
    for i, v in enumerate(arr.reshape(-1).tolist()):
        flat[i] = _to_float(_evaluate(fn, spec, _to_mpf(v), params, pscale))
    return out


def forward(name: str, x, **params) -> np.ndarray:
    """Reference values of activation ``name`` at every element of ``x`` (float64 array)."""
    spec = _spec(name)
    conv, pscale = _prepare(spec, name, params)
    return _array_apply(spec.forward, spec, x, conv, pscale)


def derivative(name: str, x, wrt: str = "x", **params) -> np.ndarray:
    """Reference derivative (w.r.t. ``x``, or a parameter via ``wrt``) as a float64 array."""
    spec = _spec(name)
    fn = _select(spec, name, wrt)
    conv, pscale = _prepare(spec, name, params)
    return _array_apply(fn, spec, x, conv, pscale)


def forward_mp(name: str, x, **params) -> mpf:
    """Full-precision reference value at one point (``x`` is taken as exact)."""
    spec = _spec(name)
    conv, pscale = _prepare(spec, name, params)
    return _evaluate(spec.forward, spec, _to_mpf(x), conv, pscale)


def derivative_mp(name: str, x, wrt: str = "x", **params) -> mpf:
    """Full-precision reference derivative at one point (``x`` is taken as exact)."""
    spec = _spec(name)
    fn = _select(spec, name, wrt)
    conv, pscale = _prepare(spec, name, params)
    return _evaluate(fn, spec, _to_mpf(x), conv, pscale)


def _forward_mp_at(name: str, x, target: int, wrt: str | None = None, **params) -> mpf:
    """Like forward_mp / derivative_mp (``wrt`` given) but aiming at ``target`` bits (tests)."""
    spec = _spec(name)
    fn = spec.forward if wrt is None else _select(spec, name, wrt)
    conv, pscale = _prepare(spec, name, params)
    return _evaluate(fn, spec, _to_mpf(x), conv, pscale, target)


# --------------------------------------------------------------------------- vector functions


def _softmax_family(vals: list[float], kind: str) -> list[float]:
    n = len(vals)
    if any(math.isnan(v) for v in vals):
        return [math.nan] * n
    n_pinf = sum(1 for v in vals if v == math.inf)
    if n_pinf:  # limit with the +inf entries tied
        if kind == "log_softmax":
            return [-math.log(n_pinf) if v == math.inf else -math.inf for v in vals]
        return [1.0 / n_pinf if v == math.inf else 0.0 for v in vals]
    finite = [v for v in vals if math.isfinite(v)]
    if not finite:
        return [math.nan] * n
    m = max(finite)
    imax = vals.index(m)
    big = max(abs(v) for v in finite)
    prec = TARGET_BITS + _GUARD_BITS + (max(0, int(mpmath.mag(big))) + 1 if big else 0)
    with mpmath.workprec(prec):
        mm = mpf(m)
        d = [mpf(v) - mm for v in vals]  # <= 0, correctly rounded; -inf stays -inf
        e = [mpmath.exp(t) for t in d]
        rest = mpf(0)
        for j, t in enumerate(e):  # positive terms only
            if j != imax:
                rest += t
        if kind == "log_softmax":
            lse = mpmath.log1p(rest)
            # (x_i - m) - log1p(rest): both <= 0, no cancellation
            return [_to_float(t - lse) for t in d]
        denom = 1 + rest
        return [_to_float(t / denom) for t in e]


def _sparsemax(vals: list[float]) -> list[float]:
    n = len(vals)
    if any(math.isnan(v) for v in vals):
        return [math.nan] * n
    n_pinf = sum(1 for v in vals if v == math.inf)
    if n_pinf:
        return [1.0 / n_pinf if v == math.inf else 0.0 for v in vals]
    if not any(math.isfinite(v) for v in vals):
        return [math.nan] * n
    fr = [Fraction(v) for v in vals if math.isfinite(v)]  # exact
    z = sorted(fr, reverse=True)
    cum = Fraction(0)
    k_best, cum_best = 1, z[0]
    for k, zk in enumerate(z, start=1):
        cum += zk
        if 1 + k * zk > cum:
            k_best, cum_best = k, cum
    tau = (cum_best - 1) / k_best
    out = []
    for v in vals:
        if not math.isfinite(v):  # -inf
            out.append(0.0)
            continue
        t = Fraction(v) - tau
        out.append(float(t) if t > 0 else 0.0)  # Fraction -> float is correctly rounded
    return out


_GLU_GATES = {"glu": "sigmoid", "swiglu": "silu", "geglu": "gelu"}


def _glu_family(vals: list[float], kind: str) -> list[float]:
    n = len(vals)
    if n % 2:
        raise ValueError(f"{kind}: input length {n} is not even")
    h = n // 2
    gate = _GLU_GATES[kind]
    out = []
    for a, b in zip(vals[:h], vals[h:]):
        g = forward_mp(gate, b)
        if math.isnan(a) or mpmath.isnan(g):
            out.append(math.nan)
        elif a == 0 or not g:  # exact zero factor: limit is 0 even against inf
            out.append(0.0)
        else:
            with mpmath.workprec(TARGET_BITS + _GUARD_BITS):
                out.append(_to_float(mpf(a) * g))
    return out


def vector_forward(name: str, x, **params) -> np.ndarray:
    """Reference value of a vector activation applied along the single axis of ``x``.

    ``softmax``, ``log_softmax``, ``softmin``, ``sparsemax``: same length as ``x``.
    ``glu``, ``swiglu``, ``geglu``: ``x`` is split into halves ``a, b`` (``a`` first) and
    the result ``a * gate(b)`` has half the length; an odd length raises ValueError.
    The only accepted parameter is ``dim`` (0, -1 or None), which is ignored.
    """
    unknown = sorted(set(params) - {"dim"})
    if unknown:
        raise TypeError(f"{name}: unexpected parameter(s) {unknown}")
    if params.get("dim", -1) not in (0, -1, None):
        raise ValueError(f"{name}: only a 1-D input (dim 0 or -1) is supported")
    if name not in VECTOR_NAMES:
        raise KeyError(name)
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D input, got shape {arr.shape}")
    vals = [float(v) for v in arr.tolist()]
    if name in _GLU_GATES:
        res = _glu_family(vals, name)
    elif not vals:
        res = []
    elif name == "sparsemax":
        res = _sparsemax(vals)
    elif name == "softmin":
        res = _softmax_family([-v for v in vals], "softmax")
    else:
        res = _softmax_family(vals, name)
    return np.asarray(res, dtype=np.float64)


def vector_vjp(name: str, x, g) -> np.ndarray:
    """Reference vector-Jacobian product ``g @ J(x)`` of a vector activation on a 1-D ``x``.

    Evaluated at 256 bits from the definitions (softmax y = e^(x - max) / sum, then
    y * (g - <g, y>); sparsemax on its exact support; GLUs through the gates'
    reference derivatives), so the sums that cancel are carried far beyond float64.
    Finite inputs only.
    """
    if name not in VECTOR_NAMES:
        raise KeyError(name)
    xs = [float(v) for v in np.asarray(x).tolist()]
    gs = [float(v) for v in np.asarray(g).tolist()]
    with mpmath.workprec(256):
        X = [mpf(v) for v in xs]
        G = [mpf(v) for v in gs]
        if name in _GLU_GATES:
            h = len(X) // 2
            gate = _GLU_GATES[name]
            a, b = X[:h], X[h:]
            out = [G[i] * forward_mp(gate, b[i]) for i in range(h)]
            out += [G[i] * a[i] * derivative_mp(gate, b[i]) for i in range(h)]
        elif name == "sparsemax":
            support = [v > 0 for v in _sparsemax(xs)]
            k = sum(support)
            mean = sum(gi for gi, s in zip(G, support) if s) / k
            out = [gi - mean if s else mpf(0) for gi, s in zip(G, support)]
        else:
            z = [-v for v in X] if name == "softmin" else X
            m = max(z)
            e = [mpmath.exp(v - m) for v in z]
            total = sum(e)
            y = [t / total for t in e]
            if name == "log_softmax":
                sg = sum(G)
                out = [gi - yi * sg for gi, yi in zip(G, y)]
            else:
                dot = sum(gi * yi for gi, yi in zip(G, y))
                out = [yi * (gi - dot) for gi, yi in zip(G, y)]
                if name == "softmin":
                    out = [-v for v in out]
        return np.asarray([_to_float(v) for v in out], dtype=np.float64)
