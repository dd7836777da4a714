"""The fast paths (actlab.torch.fast and its kernels) against the mpmath reference, and fallbacks.

Every variant (compiled kernel, PyTorch's native op where listed, the exact path)
of every activation with a fast path, forward and backward, in float32, bfloat16
and float16, on the audit grid, random inputs and edge values (0, -0, +-inf, NaN,
subnormals, the largest values of each dtype), within the catalogue's bounds.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import actlab
from actlab import functional as AF
from actlab.analysis import numerics, reference
from actlab.analysis.bench import native_op, saved_bytes
from actlab.torch import fast as _fast
from actlab.torch import kernels as _kernels

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
NAMES = sorted(_fast.SPECS)
# non-default parameters, so that the kernels' arguments are exercised as well
PARAMS: dict[str, list[dict]] = {
    "leaky_relu": [{"negative_slope": 0.2}],
    "prelu": [{"weight": -0.5}],
    "rrelu": [{"lower": 0.1, "upper": 0.3}],
    "elu": [{"alpha": 0.5}],
    # the float32 kernels form beta x and x / alpha as pairs: both sides of 1, and far out
    "celu": [{"alpha": 2.0}, {"alpha": 1e-3}],
    "softplus": [{"beta": 2.0, "threshold": 10.0}, {"beta": 0.3, "threshold": math.inf}],
    # 0.1 and 0.7 are not exact in any of the three dtypes: x = 0.1f lies above 0.1
    "hard_tanh": [{"min_val": -2.0, "max_val": 3.0}, {"min_val": 0.1, "max_val": 0.7}],
    "threshold": [{"threshold": 0.5, "value": -1.0}, {"threshold": 0.1, "value": 0.7}],
    "swish": [{"beta": 1.5}, {"beta": -0.5}, {"beta": 1e-11}],
    "squareplus": [{"b": 2.0}],
    "hard_shrink": [{"lambd": 1.0}, {"lambd": 0.1}],
    "soft_shrink": [{"lambd": 1.0}, {"lambd": 0.1}],
}
CASES = [(n, {}) for n in NAMES] + [(n, p) for n, ps in PARAMS.items() for p in ps]
KERNELS_BUILT = _kernels.load() is not None


def _id(case: tuple[str, dict]) -> str:
    name, p = case
    return name + "".join(f"-{k}={v}" for k, v in p.items())


def _variants(name: str, dtype: torch.dtype, p: dict) -> list[tuple[str, str]]:
    """(forward, backward) variant pairs in which every available variant appears."""
    act = actlab.get(name)
    fwds, bwds = _fast.candidates(act, dtype, act.resolve(p))
    pairs = [(v, v) for v in fwds if v in bwds]
    pairs += [(v, "exact") for v in fwds if v not in bwds]
    return pairs + [("exact", v) for v in bwds if v not in fwds]


def _plan(name: str, dtype: torch.dtype, p: dict, fv: str, bv: str) -> _fast.Plan:
    act = actlab.get(name)
    params = act.resolve(p)
    fwds, bwds = _fast.candidates(act, dtype, params)
    return _fast.Plan(act, params, (fv, fwds[fv]), (bv, bwds[bv]), act.grad_from_output is not None)


def _random() -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.concatenate([rng.standard_normal(256) * s for s in (0.1, 1.0, 4.0, 30.0)])


def test_every_catalogue_entry_but_identity_has_a_fast_path() -> None:
    elementwise = {n for n in actlab.names() if actlab.get(n).kind == "elementwise"}
    assert elementwise - set(_fast.SPECS) == {"identity"}  # identity returns a view already
    if KERNELS_BUILT:  # every kernel kernels.c exports belongs to an entry, both directions
        kernels = {spec.kernel for spec in _fast.SPECS.values()}
        assert set(_kernels.NAMES) <= kernels
        for name in _kernels.NAMES:
            assert _kernels.function(name, "bwd", "f32") is not None, name


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_every_variant_within_bounds(case: tuple[str, dict], dtype: str) -> None:
    """Grid and random inputs: forward and backward of every variant, against mpmath."""
    name, p = case
    act = actlab.get(name)
    params = act.resolve(p)
    tdt = DTYPES[dtype]
    base = np.concatenate([numerics.grid(600).astype(np.float64), _random()])
    x64 = np.unique(numerics._as_f64(numerics._round_to(base, dtype)))
    x64 = x64[np.isfinite(x64)]
    ref_f, ref_d = numerics._reference(name, tuple(sorted(params.items())), x64.tobytes())
    variants = _variants(name, tdt, p)
    if KERNELS_BUILT and _fast.SPECS[name].kernel in _kernels.NAMES:
        assert ("compiled", "compiled") in variants
    for fv, bv in variants:
        pl = _plan(name, tdt, p, fv, bv)
        row = numerics._measure(
            name, dtype, f"{fv}/{bv}", x64, ref_f, ref_d, lambda t, pl=pl: _fast.FastFn.apply(t, pl)
        )
        assert row.fwd_max <= numerics.FORWARD_BOUND, row
        assert row.deriv_max is not None and row.deriv_max <= numerics.DERIVATIVE_BOUND, row
        assert row.bad == 0, row


@pytest.mark.parametrize("dtype", list(DTYPES.values()), ids=str)
def test_thresholds_compare_with_the_parameter_itself(dtype: torch.dtype) -> None:
    """x = 0.1 rounded up lies above a threshold of 0.1: every path must see it so (and
    soft_shrink must subtract 0.1 itself, not 0.1 rounded to the dtype)."""
    x = torch.tensor([0.1, -0.1], dtype=torch.float64).to(dtype)
    above = float(x[0]) > 0.1  # 0.1 rounds up in float32 and bfloat16, down in float16
    cases = {
        "threshold": ({"threshold": 0.1, "value": -1.0}, [x[0] if above else -1.0, -1.0]),
        "hard_shrink": ({"lambd": 0.1}, [x[0] if above else 0.0, -x[0] if above else 0.0]),
        # x -/+ 0.1 is exact in float64 (Sterbenz), then rounded once: about 1.5e-9
        "soft_shrink": (
            {"lambd": 0.1},
            [float(x[0]) - 0.1 if above else 0.0, 0.1 - float(x[0]) if above else 0.0],
        ),
    }
    for name, (p, expected) in cases.items():
        act = actlab.get(name)
        fwds, _ = _fast.candidates(act, dtype, act.resolve(p))
        assert "native" not in fwds  # PyTorch's op compares with the rounded 0.1
        want = torch.tensor([float(e) for e in expected], dtype=dtype)
        for v, f in fwds.items():
            assert torch.equal(f(x), want), (name, v)
        assert torch.equal(act.forward(x, **p), want)  # NumPy-free reference path too
    d = actlab.get("hard_tanh").derivative(x, min_val=0.1, max_val=1.0)
    assert d.tolist() == [1.0 if above else 0.0, 0.0]


@pytest.mark.skipif(not KERNELS_BUILT, reason="no C compiler: no kernels")
@pytest.mark.parametrize(
    "name, p",
    [
        ("swish", {"beta": 1e13}),
        ("swish", {"beta": 0.0}),
        ("celu", {"alpha": 1e-13}),
        ("softplus", {"beta": 1e-13}),
    ],
)
def test_scaled_float32_kernels_fall_back_outside_their_range(name: str, p: dict) -> None:
    """beta x and x / alpha are formed as float pairs for factors within [2^-40, 2^40] only;
    beyond, the float32 export runs the double loops: bit for bit the compiled variant."""
    act = actlab.get(name)
    fwds, bwds = _fast.candidates(act, torch.float32, act.resolve(p))
    x = torch.cat([torch.linspace(-3e13, 3e13, 4001), torch.linspace(-30, 30, 4001)])
    assert torch.equal(fwds["compiled32"](x), fwds["compiled"](x))
    g = torch.ones_like(x)
    if "compiled32" in bwds:
        assert torch.equal(bwds["compiled32"](x, g), bwds["compiled"](x, g))


def _edges(dtype: torch.dtype) -> torch.Tensor:
    fi = torch.finfo(dtype)
    sub = fi.smallest_normal * fi.eps  # the smallest subnormal
    vals = [math.nan, math.inf, -math.inf, 0.0, -0.0, sub, -sub, fi.smallest_normal,
            -fi.smallest_normal, fi.max, -fi.max, 65504.0, -65504.0, 1e4, -1e4,
            88.72, -87.33, -103.9, 20.0, 20.5, 40.0, 41.0, -40.0, 709.0, -745.0,
            -3.0, 3.0, -2.5, 2.5, -2.0, -1.0, 1.0, 0.5, -0.5, 6.0, 1e-3, -1e-3]  # fmt: skip
    return torch.tensor(vals, dtype=torch.float64).to(dtype)


def _check_edge(y: torch.Tensor, ref: np.ndarray, dtype: str, bound: float, what: str) -> None:
    yf = y.detach().double().numpy()
    fi = torch.finfo(DTYPES[dtype])
    with np.errstate(over="ignore"):
        # the reference rounded to the dtype: an overflow is an infinity there too
        ref_r = torch.from_numpy(ref).to(DTYPES[dtype]).double().numpy()
    assert np.array_equal(np.isnan(yf), np.isnan(ref)), (what, yf, ref)
    inf = np.isinf(ref_r)
    assert np.array_equal(yf[inf], ref_r[inf]), (what, yf[inf], ref_r[inf])
    fin = np.isfinite(ref_r)
    assert np.all(np.isfinite(yf[fin])), (what, yf, ref)
    normal = fin & (np.abs(ref) >= fi.smallest_normal)
    err = numerics.ulp_error(yf[normal], ref[normal], dtype)
    assert np.all(err <= bound), (what, yf[normal][err > bound], ref[normal][err > bound])
    tiny = fin & ~normal  # a subnormal or zero result: within a subnormal step or two
    assert np.all(np.abs(yf[tiny] - ref[tiny]) <= 2 * fi.smallest_normal * fi.eps + 1e-300), (
        what,
        yf[tiny],
        ref[tiny],
    )


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_every_variant_on_edge_values(case: tuple[str, dict], dtype: str) -> None:
    name, p = case
    act = actlab.get(name)
    params = act.resolve(p)
    tdt = DTYPES[dtype]
    x = _edges(tdt)
    x64 = x.double().numpy()
    # the mpmath reference, or (an entry without one) the definition in float64
    ref_f, ref_d = numerics._reference(name, tuple(sorted(params.items())), x64.tobytes())
    for fv, bv in _variants(name, tdt, p):
        pl = _plan(name, tdt, p, fv, bv)
        xg = x.clone().requires_grad_(True)
        y = _fast.FastFn.apply(xg, pl)
        (d,) = torch.autograd.grad(y, xg, torch.ones_like(y))
        assert y.dtype == d.dtype == tdt
        _check_edge(y, ref_f, dtype, numerics.FORWARD_BOUND, f"{name} {fv} forward")
        _check_edge(d, ref_d, dtype, numerics.DERIVATIVE_BOUND, f"{name} {bv} backward")


FUSED_CASES = [(n, p) for n, p in CASES if (_fast.SPECS[n].kernel or "") in _kernels.FUSED]


@pytest.mark.skipif(not KERNELS_BUILT, reason="no C compiler: no fused kernels")
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("case", FUSED_CASES, ids=_id)
def test_fused_kernel_gives_the_forward_and_the_derivative(case: tuple[str, dict], dtype: str):
    """Plan.fused: f bit for bit the compiled forward's, f' within the derivative bound of
    mpmath on the grid, random and edge inputs, and g f' within an ULP of the backward kernel."""
    name, p = case
    act = actlab.get(name)
    params = act.resolve(p)
    tdt = DTYPES[dtype]
    pl = _fast.plan(act, torch.zeros(1, dtype=tdt), params)
    assert pl is not None and pl.fused is not None
    fwds, bwds = _fast.candidates(act, tdt, params)
    base = np.concatenate([numerics.grid(600).astype(np.float64), _random()])
    x64 = np.unique(numerics._as_f64(numerics._round_to(base, dtype)))
    x = torch.cat([torch.from_numpy(x64[np.isfinite(x64)]).to(tdt), _edges(tdt)])
    y, d = pl.fused(x)
    assert y.dtype == d.dtype == tdt
    y_fwd = fwds["compiled"](x)
    nan = torch.isnan(y_fwd)
    assert torch.equal(torch.isnan(y), nan)  # (a NaN's sign bit may differ)
    bits = torch.int32 if tdt == torch.float32 else torch.int16
    assert torch.equal(y[~nan].view(bits), y_fwd[~nan].view(bits))  # -0 stays -0
    xd = x.double().numpy()
    _check_edge(d, reference.derivative(name, xd, **params), dtype, numerics.DERIVATIVE_BOUND,
                f"{name} fused derivative")  # fmt: skip
    g = torch.linspace(-2, 3, x.numel()).to(tdt)
    want, got = bwds["compiled"](x, g).double(), (g * d).double()
    fin = torch.isfinite(want)
    assert torch.equal(torch.isnan(got), torch.isnan(want))
    ulp = torch.finfo(tdt).eps * want[fin].abs().clamp_min(torch.finfo(tdt).smallest_normal)
    assert bool(((got[fin] - want[fin]).abs() <= ulp).all()), name


@pytest.mark.skipif(not KERNELS_BUILT, reason="no C compiler: no gelu kernels")
def test_gelu_kernels_round_the_subnormal_ties_as_the_exact_value() -> None:
    """gelu(x) = x / 2 + x^2 / sqrt(2 pi): for x = k 2^-149, k odd, x / 2 lies halfway between
    two floats and the tiny x^2 term decides: up in magnitude for x > 0, down for x < 0."""
    k = torch.tensor([1, 3, 5, 7, 2**23 - 1, 2, 4], dtype=torch.float64)
    x = torch.cat([k, -k]) * 2.0**-149
    up = torch.where(k % 2 == 1, (k + 1) / 2, k / 2)
    down = torch.where(k % 2 == 1, (k - 1) / 2, k / 2)
    want = (torch.cat([up, -down]) * 2.0**-149).float()
    pl = _fast.plan(actlab.get("gelu"), x.float(), {})
    assert pl is not None and pl.fused is not None
    fwds, _ = _fast.candidates(actlab.get("gelu"), torch.float32, {})
    assert "compiled32" in fwds  # the shorter Phi: the same correction
    kernels = (fwds["compiled"], fwds["compiled32"], lambda t: pl.fused(t)[0])
    for y in (f(x.float()) for f in kernels):
        assert torch.equal(y, want)
        assert torch.equal(torch.signbit(y), torch.signbit(want))  # -0 for x = -2^-149


@pytest.mark.skipif(not KERNELS_BUILT, reason="no C compiler: no gelu kernels")
def test_gelu_derivative_kernels_round_correctly_at_its_zero() -> None:
    """gelu' = Phi + x phi cancels at x0 = -0.7518: 4096 float32 inputs around it, through the
    backward kernels (both Phis) and the fused one, within 0.5 ULP (+ double rounding) of
    mpmath."""
    x0 = np.float32(-0.7517915)
    bits = x0.view(np.int32) + np.arange(-2048, 2048, dtype=np.int32)
    x = torch.from_numpy(bits.view(np.float32).copy())
    act = actlab.get("gelu")
    pl = _fast.plan(act, x, {})
    _, bwds = _fast.candidates(act, torch.float32, {})
    ref = reference.derivative("gelu", x.double().numpy())
    g = torch.ones_like(x)
    for d in (bwds["compiled"](x, g), bwds["compiled32"](x, g), pl.fused(x)[1]):
        err = numerics.ulp_error(d.double().numpy(), ref, "float32")
        assert err.max() <= 0.5 + 2.0**-20, (err.max(), float(x[int(err.argmax())]))


def test_fused_is_offered_only_with_the_kernels(monkeypatch) -> None:
    monkeypatch.setenv("ACTLAB_FAST", "native")
    _fast.reset()
    try:
        pl = _fast.plan(actlab.get("mish"), torch.zeros(1), {})
        assert pl is None or pl.fused is None
    finally:
        monkeypatch.delenv("ACTLAB_FAST")
        _fast.reset()
    pl = _fast.plan(actlab.get("relu"), torch.zeros(1), {})
    assert pl is not None and pl.fused is None  # no fused kernel: forward and backward


@pytest.mark.parametrize("name", NAMES)
def test_functional_takes_the_plan_and_agrees_with_the_exact_path(name: str) -> None:
    """Through AF.apply (as the audit and every user goes): same values as the exact path."""
    x = (torch.randn(3000, generator=torch.Generator().manual_seed(1)) * 4).requires_grad_(True)
    act = actlab.get(name)
    pl = _fast.plan(act, x.detach(), act.resolve({}))
    assert pl is not None and pl.fwd_variant in ("compiled", "compiled32", "native", "exact")
    y = AF.apply(act, x)
    (g,) = torch.autograd.grad(y, x, torch.ones_like(y))
    assert y.grad_fn is not None and type(y.grad_fn).__name__ == "FastFnBackward"
    x64 = x.detach().double()
    torch.testing.assert_close(y, act.forward(x64).float(), rtol=2.4e-7, atol=1e-30)
    torch.testing.assert_close(g, act.derivative(x64).float(), rtol=4.8e-7, atol=1e-30)


def test_double_backward_uses_the_differentiable_derivative() -> None:
    """create_graph=True: the backward itself is differentiable (second derivatives)."""
    for name in ("mish", "gelu", "softplus", "relu2", "elu"):
        x = torch.linspace(-4, 4, 33).requires_grad_(True)
        (g,) = torch.autograd.grad(AF.apply(name, x).sum(), x, create_graph=True)
        (h,) = torch.autograd.grad(g.sum(), x)
        x64 = x.detach().double().requires_grad_(True)
        (g64,) = torch.autograd.grad(AF.apply(name, x64).sum(), x64, create_graph=True)
        (h64,) = torch.autograd.grad(g64.sum(), x64)
        torch.testing.assert_close(h, h64.float(), rtol=1e-5, atol=1e-6)


def test_traced_and_wrapped_tensors_take_the_exact_path() -> None:
    act = actlab.get("mish")
    x = torch.randn(5, 7)
    assert _fast.plan(act, x, {}) is not None
    seen = []

    def probe(t: torch.Tensor) -> torch.Tensor:
        seen.append(_fast.plan(act, t, {}))
        return AF.mish(t)

    out = torch.func.vmap(probe)(x)
    assert seen == [None]  # vmap's batched tensor is not read through data_ptr
    torch.testing.assert_close(out, AF.mish(x), rtol=2.4e-7, atol=0)
    assert _fast.plan(act, x.double(), {}) is None  # float64: the exact path is the reference
    # a learnable (tensor) parameter: the reference path, which also differentiates it
    beta = torch.tensor(1.5, requires_grad=True)
    y = AF.swish(x, beta=beta)
    assert type(y.grad_fn).__name__ == "ElementwiseFnBackward"


RELU_FAMILY = ["relu", "relu6", "leaky_relu", "rrelu", "hard_shrink"]


def test_which_entries_read_the_derivative_from_the_output() -> None:
    with_output = sorted(n for n in actlab.names() if actlab.get(n).grad_from_output)
    assert with_output == sorted([*RELU_FAMILY, "exponential"])


@pytest.mark.parametrize("name", RELU_FAMILY)
def test_relu_family_saves_the_output_not_the_input(name: str) -> None:
    x = torch.randn(1000) * 3
    act = actlab.get(name)
    assert act.grad_from_output is not None
    ours = saved_bytes(lambda t: AF.apply(name, t), x)
    assert ours == x.numel() * x.element_size()  # one tensor, the output
    op = native_op(name)
    if op is not None:
        assert ours <= saved_bytes(op, x)
    saved = []
    xr = x.clone().requires_grad_(True)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        y = AF.apply(name, xr)
    assert len(saved) == 1 and saved[0].data_ptr() == y.data_ptr()  # the output itself
    # the same on the reference path (float64)
    x64 = x.double()
    assert saved_bytes(lambda t: AF.apply(name, t), x64) == x64.numel() * 8


@pytest.mark.parametrize("name", ["hard_tanh", "soft_shrink", "threshold", "prelu"])
def test_others_save_no_more_than_pytorch(name: str) -> None:
    """hard_tanh's bounds and soft_shrink's x - lambd round in the dtype: they keep the input."""
    x = torch.randn(1000) * 3
    ours = saved_bytes(lambda t: AF.apply(name, t), x)
    assert ours == x.numel() * x.element_size()
    op = native_op(name)
    assert op is None or ours <= saved_bytes(op, x)


GRAD_FROM_OUTPUT_PARAMS = {
    "leaky_relu": [{"negative_slope": 0.1}, {"negative_slope": 0.0}],
    "rrelu": [{"lower": 0.1, "upper": 0.3}],
    "hard_shrink": [{"lambd": 0.3}, {"lambd": 0.0}],
}


@pytest.mark.parametrize("name", sorted(n for n in NAMES if actlab.get(n).grad_from_output))
def test_grad_from_output_equals_grad(name: str) -> None:
    """The promise behind saving the output: f'(x) == h(f(x)), after rounding f(x) too.

    In float64 (NumPy) and in each fast dtype, with parameters that the dtype cannot
    represent exactly (0.1, 0.3).
    """
    act = actlab.get(name)
    x64 = np.concatenate([numerics.grid(2000).astype(np.float64), [np.nan, np.inf, -np.inf]])
    for p in [{}, *GRAD_FROM_OUTPUT_PARAMS.get(name, [])]:
        params = act.resolve(p)
        # leaky_relu(-inf) with slope 0 is 0 * inf = NaN in the forward itself (as in
        # PyTorch; the reference takes the limit 0): a NaN output has nothing to read
        y = act.forward(x64, **params)
        ok = ~np.isnan(y) | np.isnan(x64)
        np.testing.assert_array_equal(
            act._eval(act.grad_from_output, y, params)[ok], act.derivative(x64, **params)[ok]
        )
        for tdt in DTYPES.values():
            xt = torch.from_numpy(x64).to(tdt)
            yt = act.forward(xt, **params)
            d_out = act._eval(act.grad_from_output, yt, params)
            d_in = act.derivative(xt, **params)
            okt = ~yt.isnan() | xt.isnan()  # -1e10 is -inf in float16
            torch.testing.assert_close(d_out[okt], d_in[okt], rtol=0, atol=0, equal_nan=True)


def test_inplace_relu_needs_no_clone() -> None:
    """An in-place ReLU keeps its output for backward, so it no longer clones the input."""
    a = (torch.randn(1000) * 3).requires_grad_(True)
    b = a * 1.0
    ours = saved_bytes(lambda t: AF.relu(t * 1.0, inplace=True), a.detach())
    assert ours <= saved_bytes(lambda t: F.relu(t * 1.0, inplace=True), a.detach())
    y = AF.relu(b, inplace=True)
    assert y is b
    (g,) = torch.autograd.grad(y.sum(), a)
    assert torch.equal(g, (a > 0).float())


@pytest.mark.skipif(not KERNELS_BUILT, reason="no C compiler: no kernels")
@pytest.mark.parametrize("name", sorted(n for n in _fast.SPECS if actlab.get(n).inplace))
def test_inplace_is_one_kernel_pass_over_x_itself(name: str) -> None:
    """An in-place call without autograd writes f(x) over x's own memory (no copy back):
    the out-of-place values bit for bit, and x's version moved, as torch's in-place ops."""
    act = actlab.get(name)
    x = torch.randn(4096) * 4
    ref = AF.apply(act, x)
    assert _fast.plan(act, x, act.resolve({})).inplace is not None
    w = x.clone()
    ptr, version = w.data_ptr(), w._version
    y = AF.apply(act, w, inplace=True)
    assert y is w and w.data_ptr() == ptr and w._version > version
    assert torch.equal(y, ref)


def test_inplace_with_autograd_saves_the_output_and_is_checked() -> None:
    a = (torch.randn(1000) * 3).requires_grad_(True)
    h = a * 2.0
    y = AF.leaky_relu(h, negative_slope=0.1, inplace=True)
    assert y is h
    if KERNELS_BUILT:
        assert type(y.grad_fn).__name__ == "FastInplaceFnBackward"
    (g,) = torch.autograd.grad(y.sum(), a)
    assert torch.equal(g, torch.where(a > 0, 2.0, 0.2))
    # a tensor saved by another node, then overwritten in place: autograd notices
    h = a * 1.0
    s = h * h
    AF.relu(h, inplace=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.sum().backward()
    # a strided view: the copy-back path, the same values, written through to the base
    base = torch.randn(8, 8) * 3
    ref = AF.elu(base[:, ::2].clone())
    assert torch.equal(AF.elu(base[:, ::2], inplace=True), ref)
    assert torch.equal(base[:, ::2], ref)


@pytest.mark.skipif(not KERNELS_BUILT, reason="one candidate only: nothing to time")
def test_choice_is_measured_and_remembered(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ACTLAB_CACHE", str(tmp_path))
    _fast.reset()
    try:
        act = actlab.get("relu")  # forward: the kernel and PyTorch's (exact) relu
        pl = _fast.plan(act, torch.randn(100), {})
        ch = _fast.choices()
        fwd = "relu/f32/fwd/compiled+native"
        assert set(ch) == {fwd} and ch[fwd] in ("compiled", "native")
        assert (pl.fwd_variant, pl.bwd_variant) == (ch[fwd], "compiled")
        assert (tmp_path / f"choices-{_kernels.machine_key()}.json").exists()
        _fast.reset()  # a new process reads the file instead of timing again
        assert _fast.choices() == ch
        # one fast candidate (gelu_tanh: the kernel; celu without its float32 kernel:
        # PyTorch's op is not correctly rounded, so only the fallback): nothing timed or
        # remembered
        gt = actlab.get("gelu_tanh")
        assert _fast.plan(gt, torch.randn(100), {}).fwd_variant == "compiled"
        monkeypatch.setenv("ACTLAB_FAST", "rounded")
        _fast.reset()
        ce = actlab.get("celu")
        assert _fast.plan(ce, torch.randn(100), ce.resolve({})).fwd_variant == "compiled"
        assert set(_fast.choices()) == {fwd}
    finally:
        _fast.reset()


def test_bounds_mode_lets_inexact_natives_compete(tmp_path, monkeypatch) -> None:
    """ACTLAB_FAST=bounds: PyTorch's celu (1 ULP-ish) competes with the kernels; auto: not."""
    monkeypatch.setenv("ACTLAB_CACHE", str(tmp_path))  # no choices remembered yet
    x = torch.randn(64)
    celu = actlab.get("celu")  # a native op, a double kernel and a float32 one
    try:
        _fast.reset()
        auto = _fast.plan(celu, x, celu.resolve({})).fwd_variant
        assert auto in (("compiled", "compiled32") if KERNELS_BUILT else ("native",))
        assert not any("native" in k for k in _fast.choices() if k.startswith("celu/"))
        monkeypatch.setenv("ACTLAB_FAST", "bounds")
        _fast.reset()
        assert _fast.plan(celu, x, celu.resolve({})).fwd_variant in (
            "compiled", "compiled32", "native"
        )
        if KERNELS_BUILT:
            key = "celu/f32/fwd/compiled+compiled32+native"
            assert any(k.startswith(key) for k in _fast.choices())
    finally:
        _fast.reset()


@pytest.mark.skipif(not KERNELS_BUILT, reason="no C compiler: no kernels")
def test_float32_kernels_are_offered_and_rounded_mode_leaves_them_out(monkeypatch) -> None:
    """compiled32 is a candidate exactly for the entries of FLOAT32 (and tested above with
    the others); ACTLAB_FAST=rounded offers only the correctly rounded kernels;
    ACTLAB_FAST=compiled32 falls back to compiled where there is no float32 kernel."""
    for name, spec in _fast.SPECS.items():
        act = actlab.get(name)
        fwds, bwds = _fast.candidates(act, torch.float32, act.resolve({}))
        want = _kernels.FLOAT32.get(spec.kernel or "", ())
        assert ("compiled32" in fwds) == ("fwd32" in want), name
        assert ("compiled32" in bwds) == ("bwd32" in want), name
    x = torch.randn(64)
    try:
        monkeypatch.setenv("ACTLAB_FAST", "rounded")
        _fast.reset()
        fwds, bwds = _fast.candidates(actlab.get("sigmoid"), torch.float32, {})
        assert "compiled32" not in fwds and "compiled32" not in bwds
        assert _fast.plan(actlab.get("sigmoid"), x, {}).fwd_variant == "compiled"
        monkeypatch.setenv("ACTLAB_FAST", "compiled32")
        _fast.reset()
        pl = _fast.plan(actlab.get("silu"), x, {})  # silu: a float32 forward only
        assert (pl.fwd_variant, pl.bwd_variant) == ("compiled32", "compiled")
    finally:
        _fast.reset()


@pytest.mark.parametrize("raw", ["compield", "fast", "1"])
def test_unknown_mode_is_an_error_naming_the_settings(raw: str, monkeypatch) -> None:
    monkeypatch.setenv("ACTLAB_FAST", raw)
    _fast.reset()
    try:
        with pytest.raises(ValueError, match=rf"ACTLAB_FAST='{raw}'.*auto, rounded, bounds, off"):
            _fast.mode()
    finally:
        monkeypatch.delenv("ACTLAB_FAST")
        _fast.reset()
    assert _fast.mode() == "auto"


@pytest.mark.parametrize("forced", [" Native ", "NO"])
def test_mode_spellings(forced: str, monkeypatch) -> None:
    monkeypatch.setenv("ACTLAB_FAST", forced)
    _fast.reset()
    try:
        assert _fast.mode() == {" Native ": "native", "NO": "off"}[forced]
    finally:
        _fast.reset()


@pytest.mark.parametrize("forced", ["exact", "native", "compiled", "off"])
def test_mode_override(forced: str, monkeypatch) -> None:
    """ACTLAB_FAST forces a variant where it exists (else exact), or turns fast paths off."""
    monkeypatch.setenv("ACTLAB_FAST", forced)
    _fast.reset()
    try:
        x = torch.randn(64)
        elu, mish = actlab.get("elu"), actlab.get("mish")  # mish has no native variant
        pe, pm = _fast.plan(elu, x, elu.resolve({})), _fast.plan(mish, x, {})
        if forced == "off":
            assert pe is None and pm is None
            y = AF.elu(x.requires_grad_(True))
            assert type(y.grad_fn).__name__ == "ElementwiseFnBackward"
            return
        expect = "exact" if forced == "compiled" and not KERNELS_BUILT else forced
        assert pe.fwd_variant == expect
        assert pm.fwd_variant == ("exact" if forced == "native" else expect)
    finally:
        _fast.reset()


def test_fallback_when_the_compiler_is_missing(tmp_path, monkeypatch) -> None:
    """No compiler and an empty cache: said once, and every activation still works."""
    monkeypatch.setenv("ACTLAB_CACHE", str(tmp_path))
    monkeypatch.setenv("ACTLAB_CC", str(tmp_path / "no-such-cc"))
    _kernels.reset()
    _fast.reset()
    try:
        x = (torch.randn(500) * 3).requires_grad_(True)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            y = AF.mish(x)
            AF.elu(x)
        said = [str(m.message) for m in w if issubclass(m.category, _kernels.KernelWarning)]
        assert len(said) == 1 and "unavailable" in said[0] and "no C compiler" in said[0]
        assert _kernels.status()["state"] == "unavailable"
        assert "no C compiler" in _kernels.status()["reason"]
        assert _kernels.function("mish", "fwd", "f32") is None
        pm = _fast.plan(actlab.get("mish"), x.detach(), {})
        pe = _fast.plan(actlab.get("elu"), x.detach(), actlab.get("elu").resolve({}))
        assert pm.fwd_variant == pm.bwd_variant == "exact"
        assert pe.fwd_variant in ("native", "exact") and pe.bwd_variant == "exact"
        (g,) = torch.autograd.grad(y.sum(), x)
        x64 = x.detach().double()
        torch.testing.assert_close(y, actlab.get("mish").forward(x64).float(), rtol=0, atol=0)
        torch.testing.assert_close(g, actlab.get("mish").derivative(x64).float(), rtol=0, atol=0)
        with warnings.catch_warnings(record=True) as w:  # said once, not at every call
            warnings.simplefilter("always")
            AF.softplus(x)
        assert not [m for m in w if issubclass(m.category, _kernels.KernelWarning)]
    finally:
        _kernels.reset()
        _fast.reset()


def test_disabled_kernels_and_warm_cache(monkeypatch) -> None:
    monkeypatch.setenv("ACTLAB_KERNELS", "0")
    _kernels.reset()
    _fast.reset()
    try:
        assert _kernels.load() is None and _kernels.status()["state"] == "unavailable"
        pl = _fast.plan(actlab.get("gelu"), torch.randn(8), {})
        assert pl.fwd_variant == "exact"
    finally:
        _kernels.reset()
        _fast.reset()
    if not KERNELS_BUILT:
        pytest.skip("no kernels on this machine")
    # a warm cache loads without compiling, even with no compiler at all
    monkeypatch.delenv("ACTLAB_KERNELS")
    monkeypatch.setenv("ACTLAB_CC", "/nonexistent/cc")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", _kernels.KernelWarning)
            assert _kernels.load() is not None
        st = _kernels.status()
        assert st["state"] == "ready" and not st.get("built") and st["load_seconds"] < 1.0
    finally:
        _kernels.reset()
        _fast.reset()


@pytest.mark.skipif(not KERNELS_BUILT, reason="no kernels on this machine")
def test_a_damaged_kernel_cache_is_never_loaded(tmp_path) -> None:
    """A cached library cut short (dlopen of it dies of SIGBUS) is caught by its manifest:
    rebuilt, or with no compiler the eager paths, said once, in a process that lives."""
    import shutil
    import subprocess
    import sys

    assert _kernels.load() is not None  # a test before may have reset it
    src = Path(_kernels.status()["path"])
    dst = tmp_path / "kernels" / src.name
    dst.parent.mkdir()
    shutil.copyfile(src, dst)
    dst.with_suffix(".json").write_text(json.dumps(_kernels._fingerprint(dst)))
    code = (
        "import warnings, torch, actlab\n"
        "from actlab.torch import kernels\n"
        "warnings.simplefilter('always')\n"
        "y = actlab.functional.elu(torch.linspace(-3, 3, 1000))\n"
        "print(kernels.status()['state'], kernels.status().get('built', False))\n"
    )
    env = {**os.environ, "ACTLAB_CACHE": str(tmp_path), "ACTLAB_CC": "/nonexistent/cc"}

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    intact = run()  # the manifest matches: loaded as it is, nothing built
    assert intact.returncode == 0 and intact.stdout.split() == ["ready", "False"], intact.stderr
    with open(dst, "r+b") as f:
        f.truncate(100_000)
    cut = run()
    assert cut.returncode == 0, cut.stderr  # not -7 (SIGBUS)
    assert "damaged or incomplete" in cut.stderr and "no C compiler" in cut.stderr
    assert cut.stdout.split() == ["unavailable", "False"]


@pytest.mark.slow
@pytest.mark.skipif(not KERNELS_BUILT, reason="no kernels on this machine")
def test_a_damaged_kernel_cache_is_rebuilt(tmp_path) -> None:
    """With a compiler, the damaged file is replaced by a fresh build (a minute or so)."""
    import subprocess
    import sys

    assert _kernels.load() is not None
    name = Path(_kernels.status()["path"]).name
    dst = tmp_path / "kernels" / name
    dst.parent.mkdir()
    dst.write_bytes(b"\x7fELF" + bytes(100_000))  # a header and nothing behind it
    dst.with_suffix(".json").write_text('{"size": 1, "sha256": "0"}')
    code = (
        "import torch, actlab\nfrom actlab.torch import kernels\n"
        "actlab.functional.elu(torch.linspace(-3, 3, 1000))\n"
        "print(kernels.status()['state'], kernels.status().get('built', False))\n"
    )
    env = {**os.environ, "ACTLAB_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=900)  # fmt: skip
    assert out.returncode == 0 and out.stdout.split() == ["ready", "True"], out.stderr
    assert _kernels._intact(dst)


@pytest.mark.skipif(not KERNELS_BUILT, reason="no kernels on this machine")
def test_kernels_handle_strided_and_expanded_tensors() -> None:
    x = (torch.randn(64, 48) * 3).t()  # not contiguous
    xr = x.clone().requires_grad_(True)
    y = AF.gelu(xr)
    assert y.shape == x.shape
    torch.testing.assert_close(y, actlab.get("gelu").forward(x.double()).float(), rtol=0, atol=0)
    y.sum().backward()  # an expanded (stride 0) gradient
    d = actlab.get("gelu").derivative(x.double()).float()
    torch.testing.assert_close(xr.grad, d, rtol=0, atol=0)
    empty = AF.mish(torch.empty(0, 3))
    assert empty.shape == (0, 3)


@pytest.mark.skipif(not KERNELS_BUILT, reason="no kernels on this machine")
def test_kernels_keep_channels_last() -> None:
    """As PyTorch's ops do: a channels-last input gives a channels-last output and gradient."""
    x = (torch.randn(2, 3, 4, 5) * 3).to(memory_format=torch.channels_last).requires_grad_(True)
    y = AF.mish(x)
    assert y.is_contiguous(memory_format=torch.channels_last)
    # the same values, element for element, as from the contiguous layout
    xc = x.detach().contiguous().requires_grad_(True)
    yc = AF.mish(xc)
    torch.testing.assert_close(y, yc, rtol=0, atol=0)
    g = torch.randn(2, 3, 4, 5)  # a contiguous gradient for a channels-last output
    (gx,) = torch.autograd.grad(y, x, g)
    (gxc,) = torch.autograd.grad(yc, xc, g)
    assert gx.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(gx, gxc, rtol=0, atol=0)


def test_jit_trace_records_the_activation() -> None:
    """A ctypes call would be invisible to torch.jit.trace: tracing takes the torch ops."""
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(4, 4), actlab.create("mish")).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(m, torch.randn(3, 4))
        z = torch.randn(3, 4)
        torch.testing.assert_close(traced(z), m(z), rtol=2.4e-7, atol=0)
    # the reference path's autograd Function, which the trace records and calls back
    assert "ElementwiseFn" in str(traced.inlined_graph)


# (input shape, slope shape): the layouts a tensor slope comes in
SLOPE_LAYOUTS = [
    ((4, 6, 5), (4, 1, 1)),  # one slope per model of the trainer's stack
    ((3, 4, 5, 2), (1, 4, 1, 1)),  # one per channel (actlab.nn.PReLU(num_parameters=4))
    ((7, 5), (5,)),  # one per feature of the last dimension
    ((6, 5), (6, 5)),  # one per element (RReLU's draws in training)
    ((6, 5), ()),  # one for all (actlab.nn.PReLU())
]


def _prelu_reference_grads(x, w, g):
    """The slope's gradient in float64: sum of g * (x > 0 ? 0 : x) over the broadcast."""
    from actlab.torch.autograd import _sum_to

    x64 = x.double()
    return _sum_to(g.double() * torch.where(x64 > 0, 0.0, x64), w.shape)


@pytest.mark.skipif(not KERNELS_BUILT, reason="no C compiler: the reference path runs")
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize(("xs", "ws"), SLOPE_LAYOUTS, ids=str)
def test_prelu_with_a_tensor_slope_runs_the_kernel_and_equals_the_reference(xs, ws, dtype):
    from actlab.torch.autograd import ElementwiseFn

    tdt = DTYPES[dtype]
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(xs, generator=gen) * 3).to(tdt)
    edges = _edges(tdt)
    k = min(edges.numel(), x.numel() // 2)
    x.view(-1)[1 : 1 + k] = edges[:k]  # NaN, infinities, signed zeros, subnormals...
    w = (torch.rand(ws, generator=gen) * 1.5 - 0.5).to(tdt)  # negative slopes too
    g = torch.randn(xs, generator=gen).to(tdt)
    act = actlab.get("prelu")
    assert _fast.slope_plan(act, x, {"weight": w}) is not None
    xa, wa = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    y = AF.dispatch(act, xa, {"weight": wa})
    assert type(y.grad_fn).__name__ == "SlopeFnBackward"
    gx, gw = torch.autograd.grad(y, (xa, wa), g)
    xr = x.clone().requires_grad_(True)
    yr = ElementwiseFn.apply(xr, act, (), ("weight",), w)
    (gxr,) = torch.autograd.grad(yr, xr, g)
    for got, want in ((y, yr), (gx, gxr)):  # a product rounded once, or a selection: exact
        torch.testing.assert_close(got, want, rtol=0, atol=0, equal_nan=True)
        num = ~torch.isnan(want)  # signed zeros keep their sign (a NaN's sign is no value)
        assert torch.equal(torch.signbit(got)[num], torch.signbit(want)[num])
    want_w = _prelu_reference_grads(x, w, g)
    assert gw.dtype == tdt and gw.shape == w.shape
    torch.testing.assert_close(gw.double(), want_w.to(tdt).double(), equal_nan=True)


@pytest.mark.skipif(not KERNELS_BUILT, reason="no C compiler: the reference path runs")
def test_prelu_tensor_slope_fallbacks() -> None:
    act = actlab.get("prelu")
    x = torch.randn(4, 6, 5)
    # slopes that vary over dimensions 0 and 2 but not 1: not one block per slope
    w = torch.rand(4, 1, 5)
    assert _fast.slope_plan(act, x, {"weight": w}) is None
    y = AF.dispatch(act, x.requires_grad_(True), {"weight": w})
    assert type(y.grad_fn).__name__ == "ElementwiseFnBackward"
    assert _fast.slope_plan(act, x.double(), {"weight": w.double()}) is None
    assert _fast.slope_plan(act, x.transpose(0, 1), {"weight": torch.rand(6, 1, 1)}) is None
    # double backward: the catalogue's derivative through torch operations
    w = torch.full((4, 1, 1), 0.3, requires_grad=True)
    xg = torch.randn(4, 6, 5, requires_grad=True)
    y = AF.dispatch(act, xg, {"weight": w})
    assert type(y.grad_fn).__name__ == "SlopeFnBackward"
    _, gw = torch.autograd.grad((y * y).sum(), (xg, w), create_graph=True)
    (hw,) = torch.autograd.grad(gw.sum(), w)  # d/dw of sum(2 y dy/dw) = 2 sum(min(x,0)^2)
    want = 2 * (xg.detach().clamp_max(0) ** 2).sum((1, 2), keepdim=True)
    torch.testing.assert_close(hw, want)


def test_rrelu_training_draws_through_the_slope_kernel() -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(50, 40, requires_grad=True)
    y = AF.rrelu(x, 0.1, 0.3, training=True, generator=gen)
    if KERNELS_BUILT:
        assert type(y.grad_fn).__name__ == "SlopeFnBackward"
    slope = torch.where(x > 0, 1.0, y / x).detach()
    neg = x.detach() < 0
    assert bool(((slope[neg] >= 0.1) & (slope[neg] <= 0.3)).all())
    (gx,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(gx, slope)


@pytest.mark.skipif(not KERNELS_BUILT, reason="no kernels on this machine")
def test_a_kernel_an_entry_does_not_have_is_none() -> None:
    assert _kernels.function("gelu_tanh", "fwd32", "f32") is None  # in double only
    assert _kernels.function("relu", "fwdd", "f32") is None  # not in FUSED
    assert _kernels.function("celu", "fwd", "f32") is not None
