"""Property tests of the catalogue's claims with hypothesis, on NumPy and torch arrays."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import actlab

NAMES = actlab.names()
ELEMENTWISE = [n for n in NAMES if actlab.get(n).kind == "elementwise"]
VECTOR = [n for n in NAMES if actlab.get(n).kind == "vector"]
MONOTONIC = [n for n in ELEMENTWISE if actlab.get(n).monotonic is True]
BOUNDED = [
    n
    for n in ELEMENTWISE
    if actlab.get(n).output_range is not None
    and (actlab.get(n).bounded_below or actlab.get(n).bounded_above)
]
ODD = ["tanh", "softsign", "hard_tanh", "identity", "hard_shrink", "soft_shrink", "tanh_shrink"]

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NP_DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
TORCH_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}
WIDTH = {"float16": 16, "float32": 32, "float64": 64, "bfloat16": 32}
BF16_MAX = float(torch.finfo(torch.bfloat16).max)  # about 3.39e38


def _special(dtype_name: str) -> list[float]:
    """+-inf, +-0, the smallest subnormal, the largest finite values and their neighbours."""
    if dtype_name == "bfloat16":
        fi = torch.finfo(torch.bfloat16)
        big, tiny, sub = float(fi.max), float(fi.tiny), float(fi.smallest_normal) * 2.0**-7
    else:
        fi = np.finfo(NP_DTYPES[dtype_name])
        big, tiny, sub = float(fi.max), float(fi.tiny), float(fi.smallest_subnormal)
    return [math.inf, -math.inf, 0.0, -0.0, sub, -sub, tiny, -tiny, big, -big,
            1.0, -1.0, 0.5, -0.5, 3.0, -3.0, 6.0, 20.0, 40.0, -40.0, 1e4, -1e4]


def _floats(dtype_name: str, *, nan: bool = False, inf: bool = True) -> st.SearchStrategy:
    return st.floats(width=WIDTH[dtype_name], allow_nan=nan, allow_infinity=inf,
                     allow_subnormal=True)


def _values(dtype_name: str, *, nan: bool = False, inf: bool = True) -> st.SearchStrategy:
    """Lists of floats representable in ``dtype_name``, mixed with the special values."""
    special = [v for v in _special(dtype_name) if inf or math.isfinite(v)]
    return st.lists(
        st.one_of(_floats(dtype_name, nan=nan, inf=inf), st.sampled_from(special)),
        min_size=1,
        max_size=40,
    )


def _np(vals: list[float], dtype_name: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # float16 overflow of a float64 value
        return np.asarray(vals, dtype=np.float64).astype(NP_DTYPES[dtype_name])


def _torch(vals: list[float], dtype_name: str) -> torch.Tensor:
    return torch.tensor(vals, dtype=torch.float64).to(TORCH_DTYPES[dtype_name])


def _to64(y) -> np.ndarray:
    if isinstance(y, torch.Tensor):
        return y.detach().double().numpy()
    return np.asarray(y, dtype=np.float64)


def _eval_strict(fn, *args, **kwargs):
    """Call with every warning an error (RuntimeWarning is an error in pytest already)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


# --------------------------------------------------------------------------------------
# monotonicity
def _with_neighbours(x: np.ndarray) -> np.ndarray:
    """x, and the next representable value on either side of each element."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        up = np.nextafter(x, np.asarray(np.inf, x.dtype))
        down = np.nextafter(x, np.asarray(-np.inf, x.dtype))
    return np.sort(np.concatenate([x, up, down]))


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("name", MONOTONIC)
@FAST
@given(data=st.data())
def test_monotonic(name: str, dtype_name: str, data: st.DataObject) -> None:
    act = actlab.get(name)
    params = {}
    if name == "softplus" and dtype_name == "float64":
        params = {"threshold": math.inf}  # the default threshold jumps down by 2e-9 at x = 20
    vals = data.draw(_values(dtype_name))
    x = _with_neighbours(_np(vals, dtype_name))
    for arr in (x, torch.from_numpy(x)):
        out = _eval_strict(act.forward, arr, **params)
        y = _to64(out)
        # float32 is computed in float64 and rounded once, and rounding is monotonic: exact.
        # float64 formulas round several times (exp, log1p, a division): one ulp (of the
        # larger of the two values) of slack.
        with np.errstate(over="ignore", invalid="ignore"):  # spacing of the largest float
            big = np.maximum(np.abs(y[:-1]), np.abs(y[1:]))
            slack = 0.0 if dtype_name == "float32" else np.spacing(big)
        bad = y[1:] < y[:-1] - slack
        assert not bad.any(), (x[:-1][bad], x[1:][bad], y[:-1][bad], y[1:][bad])
        d = _to64(_eval_strict(act.derivative, arr, **params))
        assert np.all(d >= 0), x[~(d >= 0)]


def test_float64_monotonic_only_to_one_ulp() -> None:
    """Adjacent float64 inputs can come out one ulp the wrong way round (documented here)."""
    x = np.array([2.0**52 - 0.5, 2.0**52])  # 1 + |x| rounds in softsign's x / (1 + |x|)
    y = actlab.get("softsign").forward(x)
    assert y[0] - y[1] == np.spacing(y[1])
    x = np.array([-(2.0**53) - 2, -(2.0**53)])
    y = actlab.get("softsign").forward(x)
    assert y[0] - y[1] == np.spacing(1.0)  # two ulps of y just above -1, one of 1.0
    y32 = actlab.get("softsign").forward(x.astype(np.float32))
    assert y32[0] <= y32[1]


def test_softplus_float64_jump_at_threshold() -> None:
    """PyTorch's softplus switches to x above beta x > threshold: not monotonic by 2e-9."""
    sp = actlab.get("softplus")
    x = np.array([20.0, np.nextafter(20.0, 21.0)])
    y = sp.forward(x)
    assert y[0] - y[1] == pytest.approx(math.log1p(math.exp(-20.0)) - (x[1] - x[0]), rel=1e-6)
    assert y[1] == x[1] and y[0] > y[1]
    # equal to torch, which makes the same switch
    torch.testing.assert_close(sp.forward(torch.from_numpy(x)),
                               torch.nn.functional.softplus(torch.from_numpy(x)),
                               rtol=1e-15, atol=0)
    # invisible in float32, and gone with threshold=inf
    y32 = sp.forward(x.astype(np.float32))
    assert y32[0] <= y32[1]
    yi = sp.forward(x, threshold=math.inf)
    assert yi[0] <= yi[1]


# --------------------------------------------------------------------------------------
# output range
def _bounds(name: str, dtype) -> tuple[float, float]:
    """The declared bounds, rounded to the dtype: rounding cannot cross a rounded bound."""
    lo, hi = actlab.get(name).output_range

    def r(v: float) -> float:
        if isinstance(dtype, torch.dtype):
            return float(torch.tensor(v, dtype=torch.float64).to(dtype))
        return float(np.asarray(v, dtype=np.float64).astype(dtype))

    return r(lo), r(hi)


@pytest.mark.parametrize("dtype_name", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("name", BOUNDED)
@FAST
@given(data=st.data())
def test_output_range(name: str, dtype_name: str, data: st.DataObject) -> None:
    act = actlab.get(name)
    vals = data.draw(_values(dtype_name, inf=False))
    arrays = [_torch(vals, dtype_name)]
    if dtype_name != "bfloat16":
        arrays.append(_np(vals, dtype_name))
    for arr in arrays:
        lo, hi = _bounds(name, arr.dtype)
        y = _to64(_eval_strict(act.forward, arr))
        finite_in = np.isfinite(_to64(arr))
        assert np.all(y[finite_in] >= lo), (_to64(arr)[y < lo], y[y < lo], lo)
        assert np.all(y[finite_in] <= hi), (_to64(arr)[y > hi], y[y > hi], hi)


@pytest.mark.parametrize("name", BOUNDED)
def test_output_range_dense_grid(name: str) -> None:
    """Minima of the non-monotonic gated functions are interior: sample densely around them."""
    x = np.concatenate([np.linspace(-5.0, 1.0, 60001), np.linspace(-1e4, 1e4, 2001)])
    for dtype in (np.float32, np.float64):
        xd = x.astype(dtype)
        lo, hi = _bounds(name, np.dtype(dtype))
        y = actlab.get(name).forward(xd).astype(np.float64)
        assert y.min() >= lo and y.max() <= hi
        if actlab.get(name).monotonic is False and np.isfinite(lo):
            # and the bound is the minimum, not just a bound: attained within 1e-6
            assert y.min() - lo < 1e-6


# --------------------------------------------------------------------------------------
# symmetries
@pytest.mark.parametrize("dtype_name", ["float16", "float32", "float64"])
@pytest.mark.parametrize("name", ODD)
@FAST
@given(data=st.data())
def test_odd_symmetry(name: str, dtype_name: str, data: st.DataObject) -> None:
    act = actlab.get(name)
    x = _np(data.draw(_values(dtype_name)), dtype_name)
    for arr, neg in ((x, -x), (torch.from_numpy(x), torch.from_numpy(-x))):
        a = _to64(act.forward(neg))
        b = _to64(act.forward(arr))
        assert np.array_equal(a, -b), (x[a != -b], a[a != -b], b[a != -b])


def test_odd_list_matches_zero_centred_metadata() -> None:
    for n in ODD:
        assert actlab.get(n).zero_centred is True


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@FAST
@given(data=st.data())
def test_sigmoid_complement(dtype_name: str, data: st.DataObject) -> None:
    sig = actlab.get("sigmoid")
    x = _np(data.draw(_values(dtype_name)), dtype_name)
    eps = float(np.finfo(x.dtype).eps)
    a = sig.forward(-x).astype(np.float64)
    b = 1.0 - sig.forward(x).astype(np.float64)
    # 1 - sigma(x) is exact in float64 from a float32 sigma; sigma(x) in [1/2, 1] has
    # spacing eps/2, so the two agree within eps (and exactly where sigma(-x) is tiny)
    assert np.all(np.abs(a - b) <= eps), (x, a, b)
    # the derivative is even
    assert np.array_equal(sig.derivative(-x), sig.derivative(x))


# --------------------------------------------------------------------------------------
# NaN, dtype and type
BACKEND_DTYPES = [
    (backend, dtype_name)
    for backend in ("numpy", "torch")
    for dtype_name in ("float16", "bfloat16", "float32", "float64")
    if not (backend == "numpy" and dtype_name == "bfloat16")  # NumPy has no bfloat16
]


@pytest.mark.parametrize(("backend", "dtype_name"), BACKEND_DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_nan_and_types(name: str, dtype_name: str, backend: str, data: st.DataObject) -> None:
    act = actlab.get(name)
    vals = data.draw(_values(dtype_name)) + _special(dtype_name)
    arr = _np(vals, dtype_name) if backend == "numpy" else _torch(vals, dtype_name)
    y = _eval_strict(act.forward, arr)
    d = _eval_strict(act.derivative, arr)
    for out in (y, d):
        assert type(out) is type(arr)
        assert out.dtype == arr.dtype and out.shape == arr.shape
        bad = np.isnan(_to64(out))
        assert not bad.any(), (_to64(arr)[bad], _to64(out)[bad])
    # NaN in, NaN out, in the same place, without disturbing the rest
    with_nan = list(vals)
    with_nan[len(vals) // 2] = math.nan
    arr_n = _np(with_nan, dtype_name) if backend == "numpy" else _torch(with_nan, dtype_name)
    yn = _to64(_eval_strict(act.forward, arr_n))
    dn = _to64(_eval_strict(act.derivative, arr_n))
    is_nan = np.isnan(_to64(arr_n))
    assert np.array_equal(np.isnan(yn), is_nan)
    assert np.array_equal(np.isnan(dn), is_nan)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_scalar_and_zero_dim_inputs(name: str) -> None:
    act = actlab.get(name)
    # a number or a 0-d array gives a NumPy scalar of the same dtype, as NumPy's ufuncs do
    for x, dt in ((0.75, np.float64), (np.float64(0.75), np.float64),
                  (np.asarray(0.75, dtype=np.float32), np.float32)):
        y = act.forward(x)
        assert isinstance(y, (np.ndarray, np.generic)) and y.shape == () and y.dtype == dt
        assert float(y) == float(act.forward(np.array([0.75], dtype=dt))[0])
    t = act.forward(torch.tensor(0.75, dtype=torch.bfloat16))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.bfloat16 and t.shape == ()
    # Python ints are computed as float64; integer arrays and bools are rejected
    y = act.forward([1, 2])
    assert isinstance(y, np.ndarray) and y.dtype == np.float64
    with pytest.raises(TypeError, match="real floating-point"):
        act.forward(np.array([1, 2]))
    with pytest.raises(TypeError, match="floating-point array or number, got bool"):
        act.forward(True)
    with pytest.raises(TypeError, match="real floating-point"):
        act.forward(torch.tensor([1, 2]))


# --------------------------------------------------------------------------------------
# vector kinds
def _matrix(dtype, rows: int = 4, cols: int = 6, lo: float = -1e3, hi: float = 1e3):
    return hnp.arrays(
        dtype,
        (rows, cols),
        elements=st.floats(lo, hi, width=np.dtype(dtype).itemsize * 8),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["softmax", "softmin"])
@FAST
@given(data=st.data())
def test_softmax_is_a_distribution(name: str, dtype, data: st.DataObject) -> None:
    x = data.draw(_matrix(dtype))
    dim = data.draw(st.sampled_from([0, 1, -1]))
    y = _eval_strict(actlab.get(name).forward, x, dim=dim)
    assert y.dtype == x.dtype and y.shape == x.shape
    assert np.all((y >= 0) & (y <= 1))
    n = x.shape[dim]
    np.testing.assert_allclose(y.astype(np.float64).sum(axis=dim), 1.0,
                               atol=n * np.finfo(dtype).eps, rtol=0)
    # the largest (softmax) / smallest (softmin) input gets the largest probability
    pick = np.argmax(x, axis=dim) if name == "softmax" else np.argmin(x, axis=dim)
    best = np.take_along_axis(y, np.expand_dims(pick, dim), axis=dim)
    assert np.all(best == y.max(axis=dim, keepdims=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@FAST
@given(data=st.data())
def test_sparsemax_on_simplex_with_exact_zeros(dtype, data: st.DataObject) -> None:
    x = data.draw(_matrix(dtype, lo=-10, hi=10))
    dim = data.draw(st.sampled_from([0, 1, -1]))
    y = _eval_strict(actlab.get("sparsemax").forward, x, dim=dim)
    assert y.dtype == x.dtype and y.shape == x.shape
    assert np.all(y >= 0)
    n = x.shape[dim]
    np.testing.assert_allclose(y.astype(np.float64).sum(axis=dim), 1.0,
                               atol=4 * n * np.finfo(dtype).eps, rtol=0)
    # every entry at least 1 below the row maximum is exactly 0
    far = x <= x.max(axis=dim, keepdims=True) - 1
    assert np.all(y[far] == 0.0)
    # order preserved: x_i >= x_j implies y_i >= y_j
    xs = np.moveaxis(x, dim, -1)
    ys = np.moveaxis(y, dim, -1)
    order = np.argsort(xs, axis=-1, kind="stable")
    ysort = np.take_along_axis(ys, order, axis=-1)
    assert np.all(ysort[..., 1:] >= ysort[..., :-1])


def test_sparsemax_known_values() -> None:
    sm = actlab.get("sparsemax")
    np.testing.assert_allclose(sm.forward(np.array([0.0, 0.5, 3.0])), [0.0, 0.0, 1.0])
    np.testing.assert_allclose(sm.forward(np.array([0.2, 0.4, 0.0])), [1 / 3, 8 / 15, 2 / 15],
                               rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(sm.forward(np.array([1.0, 0.5, -1.0])), [0.75, 0.25, 0.0],
                               rtol=1e-15, atol=0)
    assert sm.forward(np.array([1.0, 0.5, -1.0]))[2] == 0.0
    np.testing.assert_allclose(sm.forward(np.array([1.0, 1.0])), [0.5, 0.5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@FAST
@given(data=st.data())
def test_log_softmax_is_log_of_softmax(dtype, data: st.DataObject) -> None:
    x = data.draw(_matrix(dtype, lo=-50, hi=50))
    dim = data.draw(st.sampled_from([0, -1]))
    ls = _eval_strict(actlab.get("log_softmax").forward, x, dim=dim)
    sm = _eval_strict(actlab.get("softmax").forward, x.astype(np.float64), dim=dim)
    assert ls.dtype == x.dtype and np.all(ls <= 0)
    ok = sm > 1e-300
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(ls.astype(np.float64)[ok], np.log(sm[ok]),
                               rtol=4 * eps, atol=4 * eps)
    np.testing.assert_allclose(np.exp(ls.astype(np.float64)).sum(axis=dim), 1.0,
                               atol=x.shape[dim] * 4 * eps)


GLU_GATES = {
    "glu": lambda b: torch.sigmoid(b),
    "swiglu": lambda b: torch.nn.functional.silu(b),
    "geglu": lambda b: torch.nn.functional.gelu(b),
}


@pytest.mark.parametrize("name", sorted(GLU_GATES))
@FAST
@given(data=st.data())
def test_glu_family_halves(name: str, data: st.DataObject) -> None:
    x = data.draw(_matrix(np.float64, rows=4, cols=6, lo=-3, hi=20))
    dim = data.draw(st.sampled_from([0, 1, -1]))
    y = _eval_strict(actlab.get(name).forward, x, dim=dim)
    shape = list(x.shape)
    shape[dim] //= 2
    assert list(y.shape) == shape and y.dtype == x.dtype
    t = torch.from_numpy(x)
    a, b = t.chunk(2, dim=dim)
    np.testing.assert_allclose(y, (a * GLU_GATES[name](b)).numpy(), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="odd"):
        actlab.get(name).forward(np.zeros((3, 5)), dim=-1)


# vjp: the analytic vjp against torch autograd through the forward formula itself (not the
# custom Function, whose backward *is* the vjp), against the functional and the built-in
BUILTIN_VECTOR = {
    "softmax": lambda x, dim: torch.softmax(x, dim),
    "log_softmax": lambda x, dim: torch.log_softmax(x, dim),
    "softmin": lambda x, dim: torch.nn.functional.softmin(x, dim),
    "glu": lambda x, dim: torch.nn.functional.glu(x, dim),
    "swiglu": lambda x, dim: (lambda a, b: a * torch.nn.functional.silu(b))(*x.chunk(2, dim)),
    "geglu": lambda x, dim: (lambda a, b: a * torch.nn.functional.gelu(b))(*x.chunk(2, dim)),
}


@pytest.mark.parametrize("name", VECTOR)
@FAST
@given(data=st.data())
def test_vjp_matches_torch_autograd(name: str, data: st.DataObject) -> None:
    act = actlab.get(name)
    x = data.draw(_matrix(np.float64, rows=4, cols=6, lo=-3, hi=3))
    dim = data.draw(st.sampled_from([0, -1]))
    out_shape = act.forward(x, dim=dim).shape
    g = data.draw(hnp.arrays(np.float64, out_shape, elements=st.floats(-2, 2)))
    v = act.vjp(x, g, dim=dim)
    assert isinstance(v, np.ndarray) and v.shape == x.shape and v.dtype == np.float64

    def autograd(fn) -> np.ndarray:
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        (gx,) = torch.autograd.grad(fn(xt), xt, torch.from_numpy(g))
        return gx.numpy()

    if name == "sparsemax":
        # away from the support's edges, where the Jacobian jumps
        y = act.forward(x, dim=dim)
        xs = np.moveaxis(x, dim, -1)
        tau = np.moveaxis(x - y, dim, -1).max(axis=-1, keepdims=True)  # x_i - y_i on support
        assume(np.all(np.abs(xs - tau) > 1e-6))
    # autograd of the formula splits max()'s gradient between tied maxima, where the
    # formulas single out one argmax: compare only without ties
    top = np.sort(x, axis=dim)
    if np.all(np.take(top, -1, axis=dim) > np.take(top, -2, axis=dim)):
        plain = autograd(lambda t: act._eval(act.fn, t, {"dim": dim}))
        np.testing.assert_allclose(v, plain, rtol=1e-12, atol=1e-14)
    func = autograd(lambda t: getattr(actlab.functional, name)(t, dim=dim))
    # the same vjp formulas, evaluated by torch instead of NumPy (their exp/log1p differ)
    np.testing.assert_allclose(v, func, rtol=1e-12, atol=1e-14)
    if name in BUILTIN_VECTOR:
        ref = autograd(lambda t: BUILTIN_VECTOR[name](t, dim))
        np.testing.assert_allclose(v, ref, rtol=1e-11, atol=1e-14)
    # the torch vjp of a float32 tensor stays float32 and agrees
    v32 = act.vjp(torch.from_numpy(x).float(), torch.from_numpy(g).float(), dim=dim)
    assert v32.dtype == torch.float32
    np.testing.assert_allclose(v32.double().numpy(), v, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_vjp_is_grad_times_derivative(name: str) -> None:
    act = actlab.get(name)
    x = np.linspace(-4.1, 4.1, 17)
    g = np.cos(x)
    np.testing.assert_array_equal(act.vjp(x, g), g * act.derivative(x))
    with pytest.raises(TypeError, match="not elementwise"):
        actlab.get("softmax").derivative(x)
