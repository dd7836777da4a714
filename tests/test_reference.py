"""Checks of the mpmath reference oracle in ``actlab.analysis.reference`` itself."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest
from mpmath import mpf
from scipy import special

import actlab

_PATH = Path(__file__).resolve().parents[1] / "src" / "actlab" / "analysis" / "reference.py"
# Loaded by path so that the test does not depend on the rest of the package.
_spec = importlib.util.spec_from_file_location("_actlab_reference_under_test", _PATH)
ref = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = ref
_spec.loader.exec_module(ref)

SELU_ALPHA = "1.6732632423543772848170429916717"
SELU_SCALE = "1.0507009873554804934193349852946"

# --------------------------------------------------------------------------- naive formulas
# Textbook definitions evaluated at 1500 bits: at moderate |x| the cancellation they suffer
# costs far fewer bits than that, so they are an independent check of the formulations.


def _sig(z):
    return 1 / (1 + mpmath.exp(-z))


def _naive_gelu(x):
    return x * (1 + mpmath.erf(x / mpmath.sqrt(2))) / 2


def _naive_mish(x):
    return x * mpmath.tanh(mpmath.log(1 + mpmath.exp(x)))


def _clip(v, lo, hi):
    return min(max(v, lo), hi)


NAIVE = {
    "identity": lambda x: x,
    "sigmoid": _sig,
    "hard_sigmoid": lambda x: _clip(x + 3, 0, 6) / mpf(6),
    "hard_sigmoid_keras2": lambda x: _clip(x / 5 + mpf(1) / 2, 0, 1),
    "sparse_sigmoid": lambda x: _clip(x + 1, 0, 2) / mpf(2),
    "log_sigmoid": lambda x: -mpmath.log(1 + mpmath.exp(-x)),
    "tanh": mpmath.tanh,
    "hard_tanh": lambda x: _clip(x, -1, 1),
    "softsign": lambda x: x / (1 + abs(x)),
    "relu": lambda x: max(x, 0),
    "relu6": lambda x: _clip(x, 0, 6),
    "leaky_relu": lambda x: x if x > 0 else mpf(0.01) * x,
    "prelu": lambda x: x if x > 0 else x / 4,
    "rrelu": lambda x: x if x > 0 else (mpf(0.125) + mpf(1.0 / 3.0)) / 2 * x,
    "threshold": lambda x: x if x > 0 else mpf(0),
    "elu": lambda x: x if x > 0 else mpmath.exp(x) - 1,
    "celu": lambda x: x if x > 0 else mpmath.exp(x) - 1,
    "selu": lambda x: mpf(SELU_SCALE) * (x if x > 0 else mpf(SELU_ALPHA) * (mpmath.exp(x) - 1)),
    "gelu": _naive_gelu,
    "gelu_tanh": lambda x: x / 2 * (1 + mpmath.tanh(
        mpmath.sqrt(2 / mpmath.pi) * (x + mpf("0.044715") * x**3))),
    "quick_gelu": lambda x: x * _sig(mpf("1.702") * x),
    "silu": lambda x: x * _sig(x),
    "swish": lambda x: x * _sig(x),
    "hard_swish": lambda x: x * _clip(x + 3, 0, 6) / 6,
    "mish": _naive_mish,
    "hard_mish": lambda x: x * _clip(x + 2, 0, 2) / 2,
    "softplus": lambda x: x if x > 20 else mpmath.log(1 + mpmath.exp(x)),
    "squareplus": lambda x: (x + mpmath.sqrt(x * x + 4)) / 2,
    "sparse_plus": lambda x: mpf(0) if x <= -1 else (x if x >= 1 else (x + 1) ** 2 / 4),
    "relu2": lambda x: max(x, 0) ** 2,
    "hard_shrink": lambda x: x if abs(x) > 0.5 else mpf(0),
    "soft_shrink": lambda x: x - mpf(0.5) if x > 0.5 else (x + mpf(0.5) if x < -0.5 else mpf(0)),
    "tanh_shrink": lambda x: x - mpmath.tanh(x),
    "exponential": mpmath.exp,
}

# Points where the (PyTorch-convention) function or its derivative is not smooth.
KINKS = {
    "hard_sigmoid": (-3, 3), "hard_sigmoid_keras2": (-2.5, 2.5), "sparse_sigmoid": (-1, 1),
    "hard_tanh": (-1, 1), "relu": (0,), "relu6": (0, 6), "leaky_relu": (0,), "prelu": (0,),
    "rrelu": (0,), "threshold": (0,), "elu": (0,), "celu": (0,), "selu": (0,),
    "hard_swish": (-3, 3), "hard_mish": (-2, 0), "softplus": (20,), "sparse_plus": (-1, 1),
    "relu2": (0,), "hard_shrink": (-0.5, 0.5), "soft_shrink": (-0.5, 0.5),
}

POINTS = (-31.5, -7.3, -2.9, -2.2, -1.7, -1.2, -0.8, -0.3, -0.02, 0.1, 0.45, 0.93, 1.6,
          2.4, 3.7, 6.1, 14.5, 27.0)


def _smooth_points(name):
    return [p for p in POINTS if all(abs(p - k) > 1e-2 for k in KINKS.get(name, ()))]


def _close(a, b, rtol, atol=0.0):
    return abs(a - b) <= max(rtol * max(abs(a), abs(b)), atol)


# --------------------------------------------------------------------------- API


def test_names_cover_the_brief():
    # a reference is optional for a new entry; each one has its naive twin below, and
    # every elementwise entry the seed texts name has one
    assert len(ref.NAMES) == len(set(ref.NAMES))
    assert set(ref.NAMES) == set(NAIVE)
    elementwise = {n for n in actlab.names() if actlab.get(n).kind == "elementwise"}
    assert set(ref.NAMES) <= elementwise
    assert {"sigmoid", "tanh", "relu", "relu6", "leaky_relu", "prelu", "rrelu", "elu",
            "softplus", "silu", "swish", "mish", "gelu"} <= set(ref.NAMES)  # fmt: skip
    assert set(ref.VECTOR_NAMES) == {"softmax", "log_softmax", "softmin", "sparsemax",
                                     "glu", "swiglu", "geglu"}


def test_errors():
    with pytest.raises(KeyError, match="nope"):
        ref.forward("nope", np.zeros(2))
    with pytest.raises(KeyError):
        ref.derivative_mp("nope", mpf(1))
    with pytest.raises(KeyError):
        ref.vector_forward("nope", [1.0, 2.0])
    with pytest.raises(TypeError):
        ref.forward("elu", np.zeros(2), alpah=1.0)
    with pytest.raises(ValueError):
        ref.derivative("gelu", np.zeros(2), wrt="beta")
    with pytest.raises(ValueError):
        ref.vector_forward("glu", [1.0, 2.0, 3.0])


def test_array_shapes_dtypes_and_global_state():
    prec = mpmath.mp.prec
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    for fn in (ref.forward, ref.derivative):
        y = fn("gelu", x)
        assert y.shape == (3, 4) and y.dtype == np.float64
    assert ref.forward("sigmoid", 0.0).shape == ()
    assert ref.forward("relu", [1.0, -1.0]).tolist() == [1.0, 0.0]
    assert isinstance(ref.forward_mp("tanh", 0.5), mpf)
    assert mpmath.mp.prec == prec


def test_float_rounding_is_correct_at_the_edges():
    to_float = ref._to_float
    with mpmath.workprec(2000):
        tiny = mpf(2) ** -1074
        assert to_float(tiny / 2) == 0.0  # tie -> even (0)
        assert to_float(tiny / 2 * (1 + mpf(2) ** -100)) == 5e-324
        assert to_float(3 * tiny / 2) == 1e-323  # tie -> even (2 * tiny)
        assert to_float(-tiny / 3) == 0.0
        big = mpf(2) ** 1024
        assert to_float(big) == math.inf
        assert to_float(-big) == -math.inf
        assert to_float(big - mpf(2) ** 970) == math.inf  # tie with max float -> even
        assert to_float(big - mpf(2) ** 970 - 1) == np.finfo(np.float64).max
        assert to_float(mpf(1) / 3) == 1.0 / 3.0
        assert to_float(mpf(2) ** -1022 * (1 - mpf(2) ** -60)) == 2.0**-1022


# --------------------------------------------------------------------------- known values


def test_known_values():
    assert ref.forward("sigmoid", 0.0) == 0.5
    assert ref.derivative("sigmoid", 0.0) == 0.25
    assert ref.derivative("tanh", 0.0) == 1.0
    assert ref.forward("softplus", 0.0) == math.log(2)
    assert ref.forward("hard_sigmoid_keras2", 1.0) == 0.7
    assert ref.forward("selu", 1.0) == float(mpf(SELU_SCALE))
    assert ref.derivative("mish", 0.0) == pytest.approx(0.6, rel=1e-15)
    g = ref.forward("gelu", -6.0)
    assert g == pytest.approx(-6.0 * special.ndtr(-6.0), rel=1e-12)
    assert g == pytest.approx(-5.9e-9, rel=0.01)
    # hard_sigmoid_keras2 uses the exact 1/5: (x + 2.5)/5 for x just above -2.5
    x = np.nextafter(-2.5, 0.0)
    assert ref.forward("hard_sigmoid_keras2", x) == (x + 2.5) / 5  # exact in float64


def test_against_scipy_and_numpy():
    x = np.concatenate([np.linspace(-30, 30, 241), [-700.0, -100.0, 100.0, 700.0]])
    with np.errstate(over="ignore", under="ignore"):
        checks = {
            "sigmoid": (special.expit(x), special.expit(x) * special.expit(-x)),
            "log_sigmoid": (special.log_expit(x), special.expit(-x)),
            "tanh": (np.tanh(x), 1 / np.cosh(x) ** 2),
            "softplus": (np.where(x > 20, x, np.logaddexp(0, x)),
                         np.where(x > 20, 1.0, special.expit(x))),
            "gelu": (x * special.ndtr(x),
                     special.ndtr(x) + x * np.exp(-x * x / 2) / np.sqrt(2 * np.pi)),
            "silu": (x * special.expit(x), None),
            "elu": (np.where(x > 0, x, np.expm1(x)), np.where(x > 0, 1.0, np.exp(x))),
            "exponential": (np.exp(x), np.exp(x)),
        }
        for name, (f, d) in checks.items():
            np.testing.assert_allclose(ref.forward(name, x), f, rtol=2e-13, atol=1e-300,
                                       err_msg=name)
            if d is not None:
                # scipy's gelu' cancels near its zero: absolute slack there
                np.testing.assert_allclose(ref.derivative(name, x), d, rtol=2e-13,
                                           atol=1e-15 if name == "gelu" else 1e-300,
                                           err_msg=name)


@pytest.mark.parametrize("name", sorted(NAIVE))
def test_forward_matches_naive_definition(name):
    for p in POINTS:
        got = ref.forward_mp(name, p)
        with mpmath.workprec(1500):
            want = NAIVE[name](mpf(p))
        assert _close(got, want, 1e-33, 1e-300), (name, p, got, want)


def test_derivative_zeros():
    with mpmath.workprec(200):
        def root(name, x0):
            return mpmath.findroot(lambda t: ref._forward_mp_at(name, t, 250, wrt="x"), x0)

        silu = root("silu", -1.28)
        assert abs(silu - (-1 - mpmath.lambertw(mpmath.exp(-1)).real)) < 1e-50
        assert silu == pytest.approx(-1.27846454276, abs=1e-11)
        gelu = root("gelu", -0.75)
        assert gelu == pytest.approx(-0.75179, abs=1e-5)
        # independent check of the gelu root: Phi(r) = -r phi(r)
        assert abs(mpmath.ncdf(gelu) + gelu * mpmath.npdf(gelu)) < 1e-50
        assert root("mish", -1.2) == pytest.approx(-1.19, abs=5e-3)
        assert root("swish", -1.28) == pytest.approx(float(silu), abs=1e-15)
    # silu is minimal there
    assert ref.forward("silu", float(silu)) < ref.forward("silu", float(silu) + 1e-3)


# --------------------------------------------------------------------------- derivatives

DIFF_CASES = [(name, {}) for name in NAIVE] + [
    ("swish", {"beta": 1.7}), ("swish", {"beta": -0.6}), ("softplus", {"beta": 2.0}),
    ("softplus", {"beta": 0.5, "threshold": 3.0}), ("elu", {"alpha": 1.3}),
    ("celu", {"alpha": 0.7}), ("leaky_relu", {"negative_slope": 0.2}),
    ("squareplus", {"b": 1.5}), ("hard_tanh", {"min_val": -2.0, "max_val": 0.5}),
    ("threshold", {"threshold": 0.25, "value": -3.0}), ("prelu", {"weight": -0.1}),
    ("hard_shrink", {"lambd": 0.2}), ("soft_shrink", {"lambd": 1.1}),
    ("rrelu", {"lower": 0.1, "upper": 0.3}),
]


def _kinks(name, params):
    if name == "hard_tanh":
        return (params.get("min_val", -1.0), params.get("max_val", 1.0))
    if name == "threshold":
        return (params.get("threshold", 0.0),)
    if name in ("hard_shrink", "soft_shrink"):
        lam = params.get("lambd", 0.5)
        return (-lam, lam)
    if name == "softplus":
        return (params.get("threshold", 20.0) / params.get("beta", 1.0),)
    return KINKS.get(name, ())


@pytest.mark.parametrize(("name", "params"), DIFF_CASES, ids=lambda v: str(v))
def test_derivative_matches_numerical_differentiation(name, params):
    points = [p for p in POINTS if all(abs(p - k) > 1e-2 for k in _kinks(name, params))]
    for p in points:
        with mpmath.workprec(140):
            num = mpmath.diff(lambda t: ref._forward_mp_at(name, t, 320, **params), mpf(p))
        got = ref.derivative_mp(name, p, **params)
        scale = abs(ref.forward_mp(name, p, **params)) + abs(num) + 1
        assert abs(got - num) <= 1e-33 * scale, (name, params, p, got, num)


@pytest.mark.parametrize(("name", "wrt", "params"), [
    ("swish", "beta", {"beta": 1.0}), ("swish", "beta", {"beta": -2.5}),
    ("prelu", "weight", {"weight": 0.25}),
])
def test_parameter_derivatives(name, wrt, params):
    for p in (-3.3, -0.7, 0.4, 2.9):
        with mpmath.workprec(140):
            num = mpmath.diff(
                lambda w, p=p: ref._forward_mp_at(name, p, 320, **{**params, wrt: w}),
                mpf(params[wrt]))
        got = ref.derivative_mp(name, p, wrt=wrt, **params)
        assert abs(got - num) <= 1e-33 * (abs(num) + 1), (name, wrt, p)
    x = np.array([-2.0, 0.0, 3.0])
    if name == "prelu":
        assert ref.derivative("prelu", x, wrt="weight").tolist() == [-2.0, 0.0, 0.0]


def test_kink_conventions():
    d = ref.derivative
    assert d("relu", [0.0]).tolist() == [0.0]
    assert d("relu6", [0.0, 6.0, 5.9]).tolist() == [0.0, 0.0, 1.0]
    assert d("hard_sigmoid", [-3.0, 3.0, 2.9]).tolist() == [0.0, 0.0, 1 / 6]
    assert d("hard_sigmoid_keras2", [-2.5, 2.5, 0.0]).tolist() == [0.0, 0.0, 0.2]
    assert d("sparse_sigmoid", [-1.0, 1.0]).tolist() == [0.0, 0.0]
    assert d("hard_tanh", [-1.0, 1.0]).tolist() == [0.0, 0.0]
    assert d("leaky_relu", [0.0]).tolist() == [0.01]
    assert d("threshold", [0.0]).tolist() == [0.0]
    assert d("elu", [0.0], alpha=2.0).tolist() == [2.0]
    assert d("hard_swish", [-3.0, 3.0, -3.5, 3.5]).tolist() == [0.0, 1.0, 0.0, 1.0]
    assert d("hard_mish", [-2.0, 0.0, -2.5, 0.5]).tolist() == [-1.0, 1.0, 0.0, 1.0]
    assert d("sparse_plus", [-1.0, 1.0]).tolist() == [0.0, 1.0]
    assert d("hard_shrink", [0.5, -0.5]).tolist() == [0.0, 0.0]
    assert d("soft_shrink", [0.5, 0.6]).tolist() == [0.0, 1.0]
    assert d("softplus", [20.0, 20.5]).tolist() == pytest.approx([special.expit(20.0), 1.0])
    assert ref.forward("softplus", [20.5]).tolist() == [20.5]
    assert ref.forward("rrelu", [-1.0]).tolist() == [-(0.125 + 1 / 3) / 2]


# --------------------------------------------------------------------------- special values

INF = math.inf
# name: (f(+inf), f(-inf), f'(+inf), f'(-inf))
LIMITS = {
    "identity": (INF, -INF, 1, 1), "sigmoid": (1, 0, 0, 0), "hard_sigmoid": (1, 0, 0, 0),
    "hard_sigmoid_keras2": (1, 0, 0, 0), "sparse_sigmoid": (1, 0, 0, 0),
    "log_sigmoid": (0, -INF, 0, 1), "tanh": (1, -1, 0, 0), "hard_tanh": (1, -1, 0, 0),
    "softsign": (1, -1, 0, 0), "relu": (INF, 0, 1, 0), "relu6": (6, 0, 0, 0),
    "leaky_relu": (INF, -INF, 1, 0.01), "prelu": (INF, -INF, 1, 0.25),
    "rrelu": (INF, -INF, 1, (0.125 + 1 / 3) / 2), "threshold": (INF, 0, 1, 0),
    "elu": (INF, -1, 1, 0), "celu": (INF, -1, 1, 0),
    "selu": (INF, -float(mpf(SELU_ALPHA) * mpf(SELU_SCALE)), float(mpf(SELU_SCALE)), 0),
    "gelu": (INF, 0, 1, 0), "gelu_tanh": (INF, 0, 1, 0), "quick_gelu": (INF, 0, 1, 0),
    "silu": (INF, 0, 1, 0), "swish": (INF, 0, 1, 0), "hard_swish": (INF, 0, 1, 0),
    "mish": (INF, 0, 1, 0), "hard_mish": (INF, 0, 1, 0), "softplus": (INF, 0, 1, 0),
    "squareplus": (INF, 0, 1, 0), "sparse_plus": (INF, 0, 1, 0), "relu2": (INF, 0, INF, 0),
    "hard_shrink": (INF, -INF, 1, 1), "soft_shrink": (INF, -INF, 1, 1),
    "tanh_shrink": (INF, -INF, 1, 1), "exponential": (INF, 0, INF, 0),
}


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_limits_and_nan(name):
    x = np.array([INF, -INF, math.nan])
    fp, fm, dp, dm = LIMITS[name]
    f = ref.forward(name, x)
    d = ref.derivative(name, x)
    assert f[:2].tolist() == pytest.approx([fp, fm], rel=1e-15)
    assert d[:2].tolist() == pytest.approx([dp, dm], rel=1e-15)
    assert math.isnan(f[2]) and math.isnan(d[2])
    assert mpmath.isnan(ref.forward_mp(name, mpf("nan")))


def test_parameter_dependent_limits():
    x = np.array([INF, -INF])
    assert ref.forward("swish", x, beta=-1.0).tolist() == [0.0, -INF]
    assert ref.derivative("swish", x, beta=-1.0).tolist() == [0.0, 1.0]
    assert ref.forward("swish", x, beta=0.0).tolist() == [INF, -INF]
    assert ref.derivative("swish", x, beta=0.0).tolist() == [0.5, 0.5]
    assert ref.derivative("swish", x, wrt="beta").tolist() == [0.0, 0.0]
    assert ref.forward("leaky_relu", x, negative_slope=0.0).tolist() == [INF, 0.0]
    assert ref.forward("leaky_relu", x, negative_slope=-0.5).tolist() == [INF, INF]
    assert ref.forward("threshold", x, threshold=1.0, value=7.0).tolist() == [INF, 7.0]
    assert ref.derivative("prelu", x, wrt="weight").tolist() == [0.0, -INF]


# --------------------------------------------------------------------------- extremes


HARD_POINTS = [5e-324, -5e-324, 1e-45, -1e-45, 2.0**-60, -3e-9, 0.3, -3.0, -9.0, 12.0, -20.0,
               38.5, -38.5, 70.0, -70.0, 700.5, -700.5, 3.4e38, -3.4e38, 1e200, -1e200,
               1.7e308, -1.7e308, -(2.0**16), -(2.0**16) + 1e-11, 2.0**16]
STABILITY_CASES = [(name, {}) for name in sorted(NAIVE)] + [
    ("celu", {"alpha": 0.3}), ("elu", {"alpha": 1.3}), ("swish", {"beta": 1.7}),
    ("softplus", {"beta": 0.3}), ("squareplus", {"b": 0.5}),
]


def _root_points():
    """Float64/float32 neighbours of the derivative zeros, and points 2**-80 away (mpf)."""
    with mpmath.workprec(200):
        pts = []
        for name, x0 in (("silu", -1.28), ("gelu", -0.75), ("mish", -1.19),
                         ("gelu_tanh", -0.75), ("quick_gelu", -0.75)):
            r = mpmath.findroot(lambda t, n=name: ref._forward_mp_at(n, t, 250, wrt="x"), x0)
            v = float(r)
            pts += [np.nextafter(v, -INF), v, np.nextafter(v, INF), float(np.float32(r))]
            pts += [r + mpf(2) ** -80, r - mpf(2) ** -80]
        return pts


_ROOTS = _root_points()


@pytest.mark.parametrize(("name", "params"), STABILITY_CASES, ids=lambda v: str(v))
def test_precision_is_stable_over_the_whole_range(name, params):
    """The default evaluation agrees with one aiming at 320 bits to 1e-36 relative.

    Rounding errors and cancellations scale with the working precision, so this exposes
    any place where the 120-bit target is missed (huge/tiny arguments, derivative zeros).
    """
    for p in HARD_POINTS + _ROOTS:
        for wrt in (None, "x"):
            lo = ref._forward_mp_at(name, p, ref.TARGET_BITS, wrt=wrt, **params)
            hi = ref._forward_mp_at(name, p, 320, wrt=wrt, **params)
            if not hi:
                assert not lo, (name, p, wrt)
                continue
            with mpmath.workprec(400):
                assert abs(lo - hi) <= mpf("1e-36") * abs(hi), (name, p, wrt, lo, hi)


def test_extreme_arguments():
    e70 = ref.derivative("sigmoid", 70.0)[()]
    assert e70 == pytest.approx(math.exp(-70.0) / (1 + math.exp(-70.0)) ** 2, rel=1e-15)
    assert ref.derivative("sigmoid", -3e38)[()] == 0.0
    d = ref.derivative_mp("sigmoid", -3e38)
    assert d > 0 and _close(mpmath.log(d), mpf(-3e38), 1e-30)
    assert ref.derivative("tanh", 100.0)[()] == pytest.approx(4 * math.exp(-200.0), rel=1e-15)
    assert ref.derivative("tanh", -3.4e38)[()] == 0.0
    # gelu(-40) = -40 Phi(-40) ~ -1.5e-348 (below float64): compare logarithms with scipy
    g = ref.forward_mp("gelu", -40.0)
    assert ref.forward("gelu", -40.0)[()] == 0.0 and g < 0
    assert float(mpmath.log(-g / 40)) == pytest.approx(special.log_ndtr(-40.0), rel=1e-15)
    for x in (-1e3, -1e10):
        assert float(mpmath.log(ref.forward_mp("gelu", x) / x)) == pytest.approx(
            special.log_ndtr(x), rel=1e-15)
    assert ref.forward("gelu", [-3.4e38, 3.4e38]).tolist() == [0.0, 3.4e38]
    assert ref.forward("softplus", 3e38)[()] == 3e38
    assert ref.forward("softplus", -3e38)[()] == 0.0
    assert ref.forward("log_sigmoid", -3e38)[()] == -3e38
    assert ref.forward("log_sigmoid", 50.0)[()] == pytest.approx(-math.exp(-50.0), rel=1e-15)
    assert ref.forward("elu", -3e38)[()] == -1.0
    assert ref.forward("exponential", [710.0, -746.0, -745.0]).tolist() == [INF, 0.0, 5e-324]
    assert ref.forward("squareplus", -1e200)[()] == pytest.approx(1e-200, rel=1e-15)
    assert ref.derivative("squareplus", -1e100)[()] == pytest.approx(1e-200, rel=1e-15)
    assert ref.forward("tanh_shrink", 1e-10)[()] == pytest.approx(1e-30 / 3, rel=1e-15)
    assert ref.forward("tanh_shrink", 1e-100)[()] == pytest.approx(1e-300 / 3, rel=1e-15)
    assert ref.forward("relu2", 1e200)[()] == INF
    assert ref.forward("softsign", 1.7e308)[()] == 1.0
    assert ref.derivative("mish", -3.4e38)[()] == 0.0
    assert ref.forward("mish", -50.0)[()] == pytest.approx(-50 * math.exp(-50.0), rel=1e-14)
    assert ref.derivative("gelu_tanh", -1e19)[()] == 0.0
    # float32 extremes (finite, correctly tiny / saturated) for every function
    x32 = np.array([3.4028235e38, -3.4028235e38, 1e-45, -1e-45], dtype=np.float32)
    for name in ref.NAMES:
        for fn in (ref.forward, ref.derivative):
            y = fn(name, x32)
            assert not np.isnan(y).any(), name


def test_mills_series_matches_erfc_at_the_switch():
    with mpmath.workprec(400):
        for x in (-(2.0**16), 2.0**16, -(2.0**16) * 1.5, -1e7):
            got = ref.forward_mp("gelu", x)
            want = x * mpmath.erfc(-mpf(x) / mpmath.sqrt(2)) / 2
            assert _close(got, want, 1e-33), x
            got = ref.derivative_mp("gelu", x)
            want = mpmath.erfc(-mpf(x) / mpmath.sqrt(2)) / 2 + x * mpmath.npdf(x)
            assert _close(got, want, 1e-33), x


# --------------------------------------------------------------------------- vector functions


def test_softmax_family():
    x = np.array([0.3, -1.2, 4.0, 4.0, -30.0, 2.5])
    s = ref.vector_forward("softmax", x)
    np.testing.assert_allclose(s, special.softmax(x), rtol=1e-14)
    np.testing.assert_allclose(ref.vector_forward("log_softmax", x), special.log_softmax(x),
                               rtol=1e-14)
    np.testing.assert_allclose(ref.vector_forward("softmin", x), special.softmax(-x),
                               rtol=1e-14)
    assert math.fsum(s) == pytest.approx(1.0, abs=1e-15)
    # dominant entry: log_softmax = -log1p(e^-100) without cancellation
    ls = ref.vector_forward("log_softmax", [100.0, 0.0])
    assert ls[0] == pytest.approx(-math.exp(-100.0), rel=1e-15)
    assert ls[1] == -100.0
    assert ref.vector_forward("softmax", [3e38, -3e38]).tolist() == [1.0, 0.0]
    assert ref.vector_forward("softmax", [INF, 1.0, INF]).tolist() == [0.5, 0.0, 0.5]
    assert ref.vector_forward("log_softmax", [-INF, 0.0]).tolist() == [-INF, 0.0]
    assert np.isnan(ref.vector_forward("softmax", [math.nan, 1.0])).all()
    assert ref.vector_forward("softmax", [], dim=-1).shape == (0,)


def test_sparsemax():
    assert ref.vector_forward("sparsemax", [1.0, 2.0, 3.0]).tolist() == [0.0, 0.0, 1.0]
    out = ref.vector_forward("sparsemax", [0.5, 0.3, 0.1])
    np.testing.assert_allclose(out, [0.5 + 1 / 30, 0.3 + 1 / 30, 0.1 + 1 / 30], rtol=1e-15)
    rng = np.random.default_rng(1)
    for _ in range(20):
        z = rng.normal(size=7) * rng.choice([0.1, 1.0, 10.0])
        p = ref.vector_forward("sparsemax", z)
        assert (p >= 0).all() and math.fsum(p) == pytest.approx(1.0, abs=1e-15)
        # KKT: p_i = z_i - tau on the support, z_i <= tau off it
        tau = (z[p > 0] - p[p > 0]).mean()
        np.testing.assert_allclose(z[p > 0] - p[p > 0], tau, atol=1e-13)
        assert (z[p == 0] <= tau + 1e-13).all()
    assert ref.vector_forward("sparsemax", [INF, 0.0]).tolist() == [1.0, 0.0]
    assert ref.vector_forward("sparsemax", [-INF, 0.0]).tolist() == [0.0, 1.0]


def test_glu_family():
    a = np.array([1.5, -2.0, 0.0])
    b = np.array([0.7, -3.1, INF])
    x = np.concatenate([a, b])
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(ref.vector_forward("glu", x), a * special.expit(b),
                                   rtol=1e-15)
    np.testing.assert_allclose(ref.vector_forward("swiglu", x[[0, 1, 3, 4]]),
                               a[:2] * b[:2] * special.expit(b[:2]), rtol=1e-15)
    np.testing.assert_allclose(ref.vector_forward("geglu", x[[0, 1, 3, 4]]),
                               a[:2] * b[:2] * special.ndtr(b[:2]), rtol=1e-14)
    assert ref.vector_forward("swiglu", x)[2] == 0.0
    with pytest.raises(ValueError):
        ref.vector_forward("geglu", np.zeros(5))
    with pytest.raises(ValueError):
        ref.vector_forward("softmax", np.zeros((2, 2)))
