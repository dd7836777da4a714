"""The PyTorch backend: gradients, agreement with torch built-ins, modules, transforms, dtypes."""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import gradcheck, gradgradcheck

import actlab
from actlab import functional as AF

NAMES = actlab.names()
ELEMENTWISE = [n for n in NAMES if actlab.get(n).kind == "elementwise"]
VECTOR = [n for n in NAMES if actlab.get(n).kind == "vector"]
F64 = torch.float64


def _away_from(x: torch.Tensor, points, gap: float = 1e-3, shift: float = 0.01) -> torch.Tensor:
    """Move every element within ``gap`` of one of ``points`` by ``shift``."""
    x = x.clone()
    for k in points:
        x = torch.where((x - k).abs() < gap, x + shift, x)
    for k in points:
        assert float((x - k).abs().min()) >= gap
    return x


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------------------
# gradcheck and gradgradcheck of every entry, through its module
def _module_and_inputs(name: str) -> tuple[Callable, tuple]:
    act = actlab.get(name)
    g = _gen(hash(name) % 2**31)
    if name == "prelu":
        m = actlab.create("prelu(num_parameters=3)").double()
        x = torch.randn(2, 3, 5, dtype=F64, generator=g) * 3
        x = _away_from(x, act.kinks)
        w = torch.tensor([0.1, 0.25, 0.4], dtype=F64, requires_grad=True)
        return (lambda x, w: torch.func.functional_call(m, {"weight": w}, (x,))), (x, w)
    if name == "swish":
        m = actlab.create("swish(beta=1.3, learnable=True)").double()
        assert isinstance(m.beta, nn.Parameter)
        x = torch.randn(3, 4, dtype=F64, generator=g) * 3
        b = torch.tensor(1.3, dtype=F64, requires_grad=True)
        return (lambda x, b: torch.func.functional_call(m, {"beta": b}, (x,))), (x, b)
    m = actlab.create(name).double()
    if name == "rrelu":
        m.eval()
    x = torch.randn(3, 4, dtype=F64, generator=g) * 3  # last dim even for the GLUs
    # discontinuous (threshold, hard_shrink) and kinked entries: stay off the kinks; 0 and
    # +/-1 too, where sparse_plus, relu2, elu and hard_mish have kinks in f''
    x = _away_from(x, (*act.kinks, 0.0, -1.0, 1.0))
    return m, (x,)


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_and_gradgradcheck(name: str) -> None:
    f, args = _module_and_inputs(name)
    args = tuple(a.detach().requires_grad_(True) for a in args)
    assert gradcheck(f, args, eps=1e-6, atol=1e-8, rtol=1e-6)
    assert gradgradcheck(f, args, eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize(
    "spec",
    [
        "leaky_relu(negative_slope=0.2)",
        "elu(alpha=0.5)",
        "celu(alpha=0.5)",
        "softplus(beta=2.0, threshold=3.0)",
        "squareplus(b=1.0)",
        "hard_tanh(min_val=-2.0, max_val=0.5)",
        "soft_shrink(lambd=1.0)",
        "threshold(threshold=0.5, value=-2.0)",
        "swish(beta=-0.7)",
        "softmax(dim=0)",
        "log_softmax(dim=0)",
        "sparsemax(dim=0)",
        "glu(dim=0)",
        "swiglu(dim=0)",
        "geglu(dim=0)",
    ],
)
def test_gradcheck_non_default_parameters(spec: str) -> None:
    m = actlab.create(spec).double()
    x = torch.randn(4, 6, dtype=F64, generator=_gen(7)) * 2
    x = _away_from(x, (-2.0, -1.0, 0.0, 0.5, 1.0, 1.5, -0.5, 3 / 2))
    x.requires_grad_(True)
    assert gradcheck(m, (x,))
    assert gradgradcheck(m, (x,))


# --------------------------------------------------------------------------------------
# agreement with the torch built-ins
def _x64(*extra: float) -> torch.Tensor:
    base = torch.cat(
        [
            torch.linspace(-20.0, 20.0, 801, dtype=F64),
            torch.randn(1000, dtype=F64, generator=_gen(1)) * 4,
            torch.tensor([0.0, -0.0, 1e-300, -1e-300, 1e-8, -1e-8, 6.0, -3.0, 3.0, 40.0, -40.0],
                         dtype=F64),
            torch.tensor(extra, dtype=F64),
        ]
    )
    return base


def _w(x: torch.Tensor) -> torch.Tensor:
    return torch.tensor([0.3], dtype=x.dtype)


# name: (actlab, torch, kinks (asserted equal there), float32 ulp bound or None)
BUILTINS: dict[str, tuple[Callable, Callable, tuple, int | None]] = {
    "sigmoid": (AF.sigmoid, torch.sigmoid, (), 2),
    "tanh": (AF.tanh, torch.tanh, (), 2),
    "relu": (AF.relu, F.relu, (0.0,), 0),
    "relu6": (AF.relu6, F.relu6, (0.0, 6.0), 0),
    "leaky_relu": (
        lambda x: AF.leaky_relu(x, negative_slope=0.2),
        lambda x: F.leaky_relu(x, 0.2),
        (0.0,),
        1,
    ),
    "prelu": (lambda x: AF.prelu(x, weight=_w(x)), lambda x: F.prelu(x, _w(x)), (0.0,), 1),
    "rrelu": (lambda x: AF.rrelu(x, 0.1, 0.3), lambda x: F.rrelu(x, 0.1, 0.3), (0.0,), 1),
    "elu": (lambda x: AF.elu(x, alpha=0.7), lambda x: F.elu(x, 0.7), (0.0,), 2),
    # torch's celu backward takes 1/alpha in float32: alpha = 0.5 keeps that exact
    "celu": (lambda x: AF.celu(x, alpha=0.5), lambda x: F.celu(x, 0.5), (0.0,), 2),
    "selu": (AF.selu, F.selu, (0.0,), 2),
    "gelu": (AF.gelu, F.gelu, (), None),
    "gelu_tanh": (AF.gelu_tanh, lambda x: F.gelu(x, approximate="tanh"), (), None),
    "silu": (AF.silu, F.silu, (), 2),
    "mish": (AF.mish, F.mish, (), 4),
    "hard_swish": (AF.hard_swish, F.hardswish, (), 2),
    "hard_sigmoid": (AF.hard_sigmoid, F.hardsigmoid, (-3.0, 3.0), 1),
    "hard_tanh": (
        lambda x: AF.hard_tanh(x, min_val=-2.0, max_val=1.5),
        lambda x: F.hardtanh(x, -2.0, 1.5),
        (-2.0, 1.5),
        0,
    ),
    "hard_tanh_default": (AF.hard_tanh, F.hardtanh, (-1.0, 1.0), 0),
    "softplus": (
        lambda x: AF.softplus(x, beta=2.0, threshold=5.0),
        lambda x: F.softplus(x, 2.0, 5.0),
        (2.5,),
        2,
    ),
    "softplus_default": (AF.softplus, F.softplus, (20.0,), 2),
    "softsign": (AF.softsign, F.softsign, (), 1),
    "tanh_shrink": (AF.tanh_shrink, F.tanhshrink, (), None),
    "hard_shrink": (AF.hard_shrink, F.hardshrink, (-0.5, 0.5), 0),
    "soft_shrink": (
        lambda x: AF.soft_shrink(x, lambd=0.25),
        lambda x: F.softshrink(x, 0.25),
        (-0.25, 0.25),
        0,
    ),
    "threshold": (
        lambda x: AF.threshold(x, threshold=0.5, value=-3.0),
        lambda x: F.threshold(x, 0.5, -3.0),
        (0.5,),
        0,
    ),
    "log_sigmoid": (AF.log_sigmoid, F.logsigmoid, (), 2),
}


def _value_and_grad(f: Callable, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().clone().requires_grad_(True)
    y = f(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), g


def _ulp32(a: torch.Tensor, b: torch.Tensor) -> int:
    """Largest distance in float32 units in the last place (+0 and -0 are the same)."""

    def key(t: torch.Tensor) -> np.ndarray:
        i = t.detach().float().numpy().view(np.int32).astype(np.int64)
        return np.where(i < 0, -(2**31) - i, i)

    return int(np.abs(key(a) - key(b)).max())


@pytest.mark.parametrize("case", sorted(BUILTINS))
def test_agrees_with_torch_float64(case: str) -> None:
    fa, ft, kinks, _ = BUILTINS[case]
    x = _x64(*kinks)
    if case in ("gelu", "gelu_tanh"):
        # torch computes x/2 (1 + erf(x/sqrt2)) and x/2 (1 + tanh(u)), which cancel for
        # x < -3 even in float64 (actlab uses erfc and sigmoid(2u))
        x = x[x >= -3.0]
    ya, ga = _value_and_grad(fa, x)
    yt, gt = _value_and_grad(ft, x)
    assert ya.dtype == yt.dtype == F64
    # 1e-12 relative; the 1e-15 absolute floor covers torch's own cancellation near 0
    # (tanhshrink's x - tanh x, the gelu_tanh tail, sigmoid's y (1 - y) gradient)
    torch.testing.assert_close(ya, yt, rtol=1e-12, atol=1e-15)
    if case == "hard_sigmoid":
        # torch's float64 kernel multiplies by the float32 constant 1/6 (relative 3e-8 off);
        # actlab uses the float64 1/6
        inside = (x > -3) & (x < 3)
        assert torch.all(ga[inside] == 1.0 / 6.0)
        assert torch.all(gt[inside] == float(np.float32(1.0 / 6.0)))
        assert torch.equal(ga[~inside], gt[~inside])
    else:
        torch.testing.assert_close(ga, gt, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", sorted(BUILTINS))
def test_kink_values_and_gradients_equal_torch(case: str) -> None:
    fa, ft, kinks, _ = BUILTINS[case]
    pts = [*kinks, 0.0, -0.0]
    for dtype in (torch.float32, F64):
        x = torch.tensor(pts, dtype=dtype)
        ya, ga = _value_and_grad(fa, x)
        yt, gt = _value_and_grad(ft, x)
        assert torch.equal(ya, yt), (dtype, ya, yt)
        if case == "hard_sigmoid" and dtype == F64:
            continue  # the float32-constant 1/6 above; at the kinks both are 0
        torch.testing.assert_close(ga, gt, rtol=2e-16, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_hard_swish_kinks_follow_torch(dtype: torch.dtype) -> None:
    x = torch.tensor([-3.0, 3.0], dtype=dtype)
    _, ga = _value_and_grad(AF.hard_swish, x)
    _, gt = _value_and_grad(F.hardswish, x)
    assert gt.tolist() == [0.0, 1.0]
    assert ga.tolist() == gt.tolist()


@pytest.mark.parametrize("case", sorted(c for c in BUILTINS if BUILTINS[c][3] is not None))
def test_agrees_with_torch_float32(case: str) -> None:
    fa, ft, kinks, ulps = BUILTINS[case]
    x = _x64(*kinks).float()
    ya, ga = _value_and_grad(fa, x)
    yt, gt = _value_and_grad(ft, x)
    assert ya.dtype == yt.dtype == ga.dtype == torch.float32
    assert _ulp32(ya, yt) <= ulps
    # gradients: torch's float32 backward formulas (y (1 - y), 1 - y^2, ...) are less
    # accurate than actlab's; compare against float32 tolerance with a small floor
    torch.testing.assert_close(ga, gt, rtol=2e-6, atol=2e-7)


def test_float32_gelu_keeps_its_negative_tail() -> None:
    """Where PyTorch 2.13's float32 gelu underflows to 0 or is percents off (x = -6, -5;
    pytorch#187806), actlab's is within half an ULP of the exact value."""
    x = torch.tensor([-6.0, -5.0, -8.0])
    exact = actlab.get("gelu").forward(x.double())
    assert float(exact[0]) == pytest.approx(-5.9e-9, rel=0.01)  # not 0: the tail is real
    assert _ulp32(AF.gelu(x), exact.float()) <= 0


VECTOR_BUILTINS = {
    "softmax": (AF.softmax, lambda x, dim: F.softmax(x, dim=dim)),
    "log_softmax": (AF.log_softmax, lambda x, dim: F.log_softmax(x, dim=dim)),
    "softmin": (AF.softmin, lambda x, dim: F.softmin(x, dim=dim)),
    "glu": (AF.glu, lambda x, dim: F.glu(x, dim=dim)),
}


@pytest.mark.parametrize("dim", [0, -1, 1])
@pytest.mark.parametrize("name", sorted(VECTOR_BUILTINS))
def test_vector_agrees_with_torch(name: str, dim: int) -> None:
    fa, ft = VECTOR_BUILTINS[name]
    x = torch.randn(4, 6, 2, dtype=F64, generator=_gen(3)) * 5
    x[0, 0, 0] = 300.0  # exp overflows without the max shift
    # float32: torch rounds in float32 at every step (absolute error ~ eps * |x - max|)
    for dtype, rtol, atol in ((F64, 1e-12, 1e-15), (torch.float32, 1e-6, 2e-6)):
        xd = x.to(dtype)
        xa = xd.clone().requires_grad_(True)
        xt = xd.clone().requires_grad_(True)
        ya, yt = fa(xa, dim=dim), ft(xt, dim)
        assert ya.shape == yt.shape and ya.dtype == dtype
        torch.testing.assert_close(ya, yt, rtol=rtol, atol=atol)
        up = torch.randn(ya.shape, dtype=dtype, generator=_gen(4))
        (ga,) = torch.autograd.grad(ya, xa, up)
        (gt,) = torch.autograd.grad(yt, xt, up)
        torch.testing.assert_close(ga, gt, rtol=rtol * 10, atol=atol * 10)


@pytest.mark.parametrize("name", VECTOR)
def test_vector_dim_out_of_range(name: str) -> None:
    act = actlab.get(name)
    for x in (np.zeros((2, 4)), torch.zeros(2, 4)):
        for dim in (2, -3):
            with pytest.raises(IndexError, match="out of range"):
                act.forward(x, dim=dim)
        y = act.forward(x, dim=-2)  # in range: a 2-row dimension
        assert tuple(y.shape) == ((1, 4) if "glu" in name else (2, 4))


def test_prelu_per_channel_agrees_with_torch() -> None:
    x = torch.randn(5, 3, 7, dtype=F64, generator=_gen(5))
    x[0, :, 0] = 0.0
    ours, theirs = actlab.nn.PReLU(3).double(), nn.PReLU(3).double()
    with torch.no_grad():
        w = torch.tensor([0.1, -0.2, 0.7], dtype=F64)
        ours.weight.copy_(w)
        theirs.weight.copy_(w)
    xa, xt = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ya, yt = ours(xa), theirs(xt)
    assert torch.equal(ya, yt)
    up = torch.randn(ya.shape, dtype=F64, generator=_gen(6))
    ga = torch.autograd.grad(ya, (xa, ours.weight), up)
    gt = torch.autograd.grad(yt, (xt, theirs.weight), up)
    assert torch.equal(ga[0], gt[0])
    torch.testing.assert_close(ga[1], gt[1], rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match="channel dimension"):
        ours(torch.randn(2, 4, dtype=F64))


# --------------------------------------------------------------------------------------
# modules: drop-in for torch.nn
DROP_IN = [
    (lambda: actlab.nn.LeakyReLU(0.2), lambda: nn.LeakyReLU(0.2)),
    (lambda: actlab.nn.ELU(0.5, True), lambda: nn.ELU(0.5, True)),
    (lambda: actlab.nn.ELU(alpha=0.5), lambda: nn.ELU(alpha=0.5)),
    (lambda: actlab.nn.CELU(0.5), lambda: nn.CELU(0.5)),
    (lambda: actlab.nn.Hardtanh(-2.0, 2.0, True), lambda: nn.Hardtanh(-2.0, 2.0, True)),
    (lambda: actlab.nn.Softplus(2.0, 10.0), lambda: nn.Softplus(2.0, 10.0)),
    (lambda: actlab.nn.Threshold(0.1, 20.0), lambda: nn.Threshold(0.1, 20.0)),
    (lambda: actlab.nn.RReLU(0.1, 0.3).eval(), lambda: nn.RReLU(0.1, 0.3).eval()),
    (lambda: actlab.nn.Hardshrink(0.3), lambda: nn.Hardshrink(0.3)),
    (lambda: actlab.nn.Softshrink(0.3), lambda: nn.Softshrink(0.3)),
    (lambda: actlab.nn.Softmax(1), lambda: nn.Softmax(1)),
    (lambda: actlab.nn.LogSoftmax(dim=0), lambda: nn.LogSoftmax(dim=0)),
    (lambda: actlab.nn.Softmin(-1), lambda: nn.Softmin(-1)),
    (lambda: actlab.nn.GLU(), lambda: nn.GLU()),
    (lambda: actlab.nn.GLU(1), lambda: nn.GLU(1)),
    (lambda: actlab.nn.ReLU(True), lambda: nn.ReLU(True)),
    (lambda: actlab.nn.ReLU6(), lambda: nn.ReLU6()),
    (lambda: actlab.nn.SELU(), lambda: nn.SELU()),
    (lambda: actlab.nn.SiLU(), lambda: nn.SiLU()),
    (lambda: actlab.nn.Mish(), lambda: nn.Mish()),
    (lambda: actlab.nn.Hardswish(), lambda: nn.Hardswish()),
    (lambda: actlab.nn.Hardsigmoid(), lambda: nn.Hardsigmoid()),
    (lambda: actlab.nn.Sigmoid(), lambda: nn.Sigmoid()),
    (lambda: actlab.nn.Tanh(), lambda: nn.Tanh()),
    (lambda: actlab.nn.Softsign(), lambda: nn.Softsign()),
    (lambda: actlab.nn.Tanhshrink(), lambda: nn.Tanhshrink()),
    (lambda: actlab.nn.LogSigmoid(), lambda: nn.LogSigmoid()),
    (lambda: actlab.nn.GELU(), lambda: nn.GELU()),
    (lambda: actlab.create("gelu_tanh"), lambda: nn.GELU(approximate="tanh")),
    (lambda: actlab.nn.Identity(), lambda: nn.Identity()),
    (lambda: actlab.nn.PReLU(), lambda: nn.PReLU()),
    (lambda: actlab.nn.PReLU(4, 0.1), lambda: nn.PReLU(4, 0.1)),
]


@pytest.mark.parametrize("i", range(len(DROP_IN)))
def test_drop_in_equivalence(i: int) -> None:
    ours, theirs = DROP_IN[i][0](), DROP_IN[i][1]()
    assert type(ours).__name__ == type(theirs).__name__ or isinstance(ours, actlab.nn.GELUTanh)
    x = torch.randn(3, 4, 6, dtype=F64, generator=_gen(i)) * 3
    x[0, 0, :4] = torch.tensor([0.0, 0.1, 0.3, -0.3], dtype=F64)
    if "gelu" in type(theirs).__name__.lower():
        x = x.clamp_min(-3.0)  # torch's erf form cancels below -3 (see above)
    ya = ours.double()(x.clone())
    yt = theirs.double()(x.clone())
    torch.testing.assert_close(ya, yt, rtol=1e-12, atol=1e-15)
    assert ours.training == theirs.training
    assert getattr(ours, "inplace", False) == getattr(theirs, "inplace", False)


@pytest.mark.parametrize(
    ("ours", "expected"),
    [
        (lambda: actlab.nn.LeakyReLU(0.2), "LeakyReLU(negative_slope=0.2)"),
        (lambda: actlab.nn.ReLU(inplace=True), "ReLU(inplace=True)"),
        (lambda: actlab.nn.ReLU(), "ReLU()"),
        (lambda: actlab.nn.ELU(0.5, True), "ELU(alpha=0.5, inplace=True)"),
        (lambda: actlab.nn.Hardtanh(), "Hardtanh(min_val=-1.0, max_val=1.0)"),
        (lambda: actlab.nn.Softplus(), "Softplus(beta=1.0, threshold=20.0)"),
        (lambda: actlab.nn.Threshold(0.1, 20.0), "Threshold(threshold=0.1, value=20.0)"),
        (lambda: actlab.nn.RReLU(), "RReLU(lower=0.125, upper=0.3333333333333333)"),
        (lambda: actlab.nn.Softmax(), "Softmax(dim=-1)"),
        (lambda: actlab.nn.GLU(), "GLU(dim=-1)"),
        (lambda: actlab.nn.PReLU(3), "PReLU(num_parameters=3)"),
        (lambda: actlab.nn.SELU(True), "SELU(inplace=True)"),
        (lambda: actlab.nn.Mish(), "Mish()"),
        (lambda: actlab.nn.CELU(0.5, True), "CELU(alpha=0.5, inplace=True)"),
    ],
)
def test_extra_repr_like_pytorch(ours: Callable, expected: str) -> None:
    m = ours()
    assert repr(m) == expected
    twin = getattr(nn, type(m).__name__)
    assert repr(twin(*_ctor_args(m))) == expected


def _ctor_args(m: nn.Module) -> tuple:
    """The constructor arguments of an actlab module, in PyTorch's positional order."""
    if isinstance(m, actlab.nn.PReLU):
        return (m.num_parameters,)
    args = [getattr(m, p.name) for p in m.activation.params]
    if m.activation.inplace:
        args.append(m.inplace)
    return tuple(args)


def test_repr_where_pytorch_differs() -> None:
    # deliberate: actlab names the argument; PyTorch prints Hardshrink(0.5)
    assert repr(actlab.nn.Hardshrink()) == "Hardshrink(lambd=0.5)"
    assert repr(nn.Hardshrink()) == "Hardshrink(0.5)"
    assert repr(actlab.create("swish(beta=1.5, learnable=True)")) == "Swish(learnable=True)"
    assert repr(actlab.create("swish(beta=1.5)")) == "Swish(beta=1.5)"


INPLACE = [n for n in ELEMENTWISE if actlab.get(n).inplace]


def test_inplace_catalogue() -> None:
    assert INPLACE == [
        "celu", "elu", "hard_sigmoid", "hard_swish", "hard_tanh", "leaky_relu", "mish",
        "relu", "relu6", "rrelu", "selu", "silu", "threshold",
    ]  # fmt: skip


@pytest.mark.parametrize("name", INPLACE)
def test_inplace(name: str) -> None:
    m_in = actlab.create(f"{name}(inplace=True)").eval()
    m_out = actlab.create(name).eval()
    assert m_in.inplace and not m_out.inplace
    x0 = torch.randn(4, 5, dtype=F64, generator=_gen(11)) * 4
    expected = m_out(x0)
    # no grad: the input tensor itself is overwritten and returned
    x = x0.clone()
    ptr = x.data_ptr()
    y = m_in(x)
    assert y is x and x.data_ptr() == ptr
    assert torch.equal(x, expected)
    assert not torch.equal(x, x0)
    # non-leaf input: same values and same gradient as out of place
    a = x0.clone().requires_grad_(True)
    b = a * 1.0
    y = m_in(b)
    assert y is b
    torch.testing.assert_close(y, expected, rtol=0, atol=0)
    up = torch.randn(4, 5, dtype=F64, generator=_gen(12))
    (g_in,) = torch.autograd.grad(y, a, up)
    a2 = x0.clone().requires_grad_(True)
    (g_out,) = torch.autograd.grad(m_out(a2 * 1.0), a2, up)
    assert torch.equal(g_in, g_out)
    assert not torch.equal(g_out, up)  # the test is not vacuous: the derivative is not 1
    # a leaf that requires grad cannot be overwritten, as in PyTorch
    with pytest.raises(RuntimeError, match="leaf Variable"):
        m_in(x0.clone().requires_grad_(True))


def test_inplace_functional_and_rejection() -> None:
    x = torch.tensor([-1.0, 2.0])
    out = AF.relu(x, inplace=True)
    assert out is x and x.tolist() == [0.0, 2.0]
    x = torch.tensor([-1.0, 2.0])
    assert AF.rrelu(x, 0.1, 0.3, inplace=True) is x
    torch.testing.assert_close(x, torch.tensor([-0.2, 2.0]))
    for name in ("softplus", "gelu", "tanh", "softmax", "hard_shrink"):
        x = torch.tensor([-1.0, 2.0])
        with pytest.raises(ValueError, match="no in-place form"):
            getattr(AF, name)(x, inplace=True)
        assert x.tolist() == [-1.0, 2.0]
        with pytest.raises(TypeError, match="has no in-place form"):
            actlab.create(name, inplace=True)


def test_state_dict_round_trip_prelu() -> None:
    m = actlab.create("prelu(num_parameters=3)")
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    x = -torch.rand(8, 3, 5, generator=_gen(13)) - 0.1
    target = torch.zeros_like(x)
    for _ in range(3):
        opt.zero_grad()
        F.mse_loss(m(x), target).backward()
        opt.step()
    learned = m.weight.detach().clone()
    assert not torch.allclose(learned, torch.full((3,), 0.25))
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    fresh = actlab.create("prelu(num_parameters=3)")
    assert list(fresh.state_dict()) == ["weight"]
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    assert torch.equal(fresh.weight.detach(), learned)
    assert torch.equal(fresh(x), m(x))
    # the same keys as torch.nn.PReLU: checkpoints move between the two
    twin = nn.PReLU(3)
    twin.load_state_dict(m.state_dict())
    assert torch.equal(twin(x), m(x))


def test_state_dict_round_trip_learnable_swish() -> None:
    m = actlab.create("swish(beta=1.5, learnable=True)")
    assert [n for n, _ in m.named_parameters()] == ["beta"]
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    x = torch.randn(64, generator=_gen(14))
    for _ in range(3):
        opt.zero_grad()
        F.mse_loss(m(x), F.relu(x)).backward()
        opt.step()
    learned = m.beta.item()
    assert learned != 1.5
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    fresh = actlab.create("swish(beta=1.5, learnable=True)")
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    assert fresh.beta.item() == learned
    assert torch.equal(fresh(x), m(x))
    # beta's gradient is the analytic d/dbeta = x^2 sigma'(beta x)
    b = torch.tensor(0.8, dtype=F64, requires_grad=True)
    xx = torch.linspace(-4, 4, 9, dtype=F64)
    (gb,) = torch.autograd.grad(AF.swish(xx, beta=b).sum(), b)
    s = torch.sigmoid(0.8 * xx)
    torch.testing.assert_close(gb, (xx * xx * s * (1 - s)).sum(), rtol=1e-13, atol=0)
    # a fixed beta is no parameter and not in the state dict
    assert dict(actlab.create("swish(beta=1.5)").state_dict()) == {}


def test_rrelu_training_draws_slopes() -> None:
    m = actlab.create("rrelu(lower=0.1, upper=0.3)")
    assert m.training
    torch.manual_seed(0)
    x = torch.cat([-torch.rand(20000) - 0.5, torch.rand(100) + 0.5]).double()
    x.requires_grad_(True)
    y = m(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    neg = x.detach() < 0
    slopes = (y.detach() / x.detach())[neg]
    assert float(slopes.min()) >= 0.1 and float(slopes.max()) <= 0.3
    assert abs(float(slopes.mean()) - 0.2) < 0.003
    assert float(slopes.std()) == pytest.approx(0.2 / 12**0.5, rel=0.05)  # U(0.1, 0.3)
    torch.testing.assert_close(g[neg], slopes, rtol=1e-15, atol=0)  # the drawn slope
    assert torch.equal(y.detach()[~neg], x.detach()[~neg])
    assert torch.all(g[~neg] == 1.0)
    # a fresh call draws new slopes
    assert not torch.equal(m(x.detach())[neg], y.detach()[neg])
    # evaluation: the mean slope, deterministic, equal to torch
    m.eval()
    ye = m(x.detach())
    torch.testing.assert_close(ye[neg], 0.2 * x.detach()[neg], rtol=1e-15, atol=0)
    assert torch.equal(ye, F.rrelu(x.detach(), 0.1, 0.3, training=False))
    # a generator makes training draws reproducible
    a = AF.rrelu(x.detach(), 0.1, 0.3, training=True, generator=_gen(3))
    b = AF.rrelu(x.detach(), 0.1, 0.3, training=True, generator=_gen(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize("spec", ["mish", "leaky_relu(negative_slope=0.2)", "softmax", "glu",
                                  "sparsemax", "gelu", "swish(beta=1.5)"])
def test_vmap_and_func_grad(spec: str) -> None:
    m = actlab.create(spec).double()
    xb = torch.randn(5, 3, 4, dtype=F64, generator=_gen(15)) * 2
    batched = torch.func.vmap(m)(xb)
    looped = torch.stack([m(xi) for xi in xb])
    torch.testing.assert_close(batched, looped, rtol=1e-15, atol=0)
    torch.testing.assert_close(batched, m(xb), rtol=1e-15, atol=0)

    def loss(x: torch.Tensor) -> torch.Tensor:
        return (m(x) * torch.arange(x.numel() // (2 if "glu" in spec else 1),
                                    dtype=F64).reshape(m(x).shape)).sum()

    g = torch.func.grad(loss)(xb[0])
    x0 = xb[0].clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(loss(x0), x0)
    torch.testing.assert_close(g, ref, rtol=1e-15, atol=0)
    # per-sample gradients: vmap of grad
    per = torch.func.vmap(torch.func.grad(loss))(xb)
    torch.testing.assert_close(per[2], torch.func.grad(loss)(xb[2]), rtol=1e-15, atol=0)


def test_vmap_elementwise_derivative_matches_analytic() -> None:
    x = torch.linspace(-5, 5, 21, dtype=F64)
    d = torch.func.vmap(torch.func.grad(AF.mish))(x)
    torch.testing.assert_close(d, actlab.get("mish").derivative(x), rtol=1e-15, atol=0)
    # and the second derivative by grad of grad matches finite differences
    d2 = torch.func.vmap(torch.func.grad(torch.func.grad(AF.mish)))(x)
    h = 1e-5
    fd = (actlab.get("mish").derivative(x + h) - actlab.get("mish").derivative(x - h)) / (2 * h)
    torch.testing.assert_close(d2, fd, rtol=1e-7, atol=1e-9)


def _small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), actlab.create("mish"), nn.Linear(8, 3))


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_torch_compile_eager_backend() -> None:
    torch._dynamo.reset()
    model = _small_model()
    x = torch.randn(6, 4, generator=_gen(16))
    ref = model(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dynamo notes about lru_cache
        compiled = torch.compile(model, backend="eager")
        out = compiled(x)
        torch.testing.assert_close(out, ref, rtol=0, atol=0)
        out.sum().backward()
    assert model[0].weight.grad is not None
    g_compiled = model[0].weight.grad.clone()
    model.zero_grad()
    ref.sum().backward()
    torch.testing.assert_close(g_compiled, model[0].weight.grad, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_torch_compile_inductor() -> None:  # about 30 s on 2 cores
    torch._dynamo.reset()
    model = _small_model()
    x = torch.randn(6, 4, generator=_gen(17))
    ref = model(x)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = torch.compile(model)(x)
    assert time.perf_counter() - t < 300
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


def test_torch_export() -> None:
    model = _small_model().eval()
    x = torch.randn(6, 4, generator=_gen(18))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ep = torch.export.export(model, (x,))
    out = ep.module()(x)
    torch.testing.assert_close(out, model(x), rtol=1e-6, atol=1e-7)
    x2 = torch.randn(6, 4, generator=_gen(19))
    torch.testing.assert_close(ep.module()(x2), model(x2), rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------------------
# half precision
HALF = {torch.float16: 2.0**-10, torch.bfloat16: 2.0**-7}


@pytest.mark.parametrize("dtype", list(HALF), ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_half_dtypes(name: str, dtype: torch.dtype) -> None:
    eps = HALF[dtype]
    m = actlab.create(name).eval()
    if name == "prelu":
        m = m.to(dtype)
    x = (torch.randn(6, 8, generator=_gen(20)) * 3).to(dtype)
    y = m(x)
    assert y.dtype == dtype and isinstance(y, torch.Tensor)
    m32 = m.float() if name == "prelu" else m
    y32 = m32(x.float())
    rounded = y32.to(dtype)
    # computed in float32 and rounded once: at most one unit of the half format apart
    # from the float32 result rounded (double rounding), and usually equal
    diff = (y.float() - rounded.float()).abs()
    tol = eps * rounded.float().abs() + 1e-30
    assert torch.all(diff <= tol), (x[diff > tol], y[diff > tol], rounded[diff > tol])
    assert float((y == rounded).float().mean()) > 0.95
    # gradients keep the dtype too
    xg = x.clone().requires_grad_(True)
    if name == "prelu":
        xg = xg.reshape(6, 1, 8).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(m(xg).float().sum(), xg)
    assert g.dtype == dtype
    assert torch.isfinite(g).all()


def test_functional_takes_pytorchs_positional_parameters_and_inplace_names() -> None:
    """leaky_relu(x, 0.2), elu(x, 0.5, True) and elu_(x) as in torch.nn.functional."""
    import inspect

    x = torch.tensor([-2.0, -0.5, 0.0, 3.0])
    for ours, theirs in [
        (AF.leaky_relu(x, 0.2), F.leaky_relu(x, 0.2)),
        (AF.hard_tanh(x, -1.0, 2.0), F.hardtanh(x, -1.0, 2.0)),
        (AF.threshold(x, 0.5, -1.0), F.threshold(x, 0.5, -1.0)),
        (AF.softplus(x, 2.0, 10.0), F.softplus(x, 2.0, 10.0)),
        (AF.softmax(x[None], 0), torch.softmax(x[None], 0)),
    ]:
        torch.testing.assert_close(ours, theirs, rtol=2e-6, atol=0)
    y = x.clone()
    assert AF.elu(y, 0.5, True) is y and AF.elu_(x.clone(), 0.5).equal(y)
    z = x.clone()
    assert AF.relu_(z) is z and torch.equal(z, torch.relu(x))
    sig = inspect.signature(AF.elu)
    assert list(sig.parameters) == ["x", "alpha", "inplace"]
    assert list(inspect.signature(AF.mish_).parameters) == ["x"]
    assert not hasattr(AF, "gelu_") and not hasattr(AF, "tanh_shrink_")  # no in-place form
    with pytest.raises(TypeError, match=r"at most 2 positional arguments after x"):
        AF.leaky_relu(x, 0.2, False, 1.0)
    with pytest.raises(TypeError, match="multiple values for 'negative_slope'"):
        AF.leaky_relu(x, 0.2, negative_slope=0.3)


def test_functional_gelu_takes_torchs_approximate() -> None:
    x = torch.linspace(-6, 6, 101)
    for approximate in ("none", "tanh"):
        want = F.gelu(x.double(), approximate=approximate).float()
        torch.testing.assert_close(AF.gelu(x, approximate=approximate), want, rtol=2e-6, atol=1e-7)
    assert torch.equal(AF.gelu(x, "tanh"), AF.gelu_tanh(x))
    with pytest.raises(actlab.InvalidParameterError, match="'none' or 'tanh'"):
        AF.gelu(x, approximate="fast")
