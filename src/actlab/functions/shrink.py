"""Shrinkage functions: zero a band around 0 (hard, soft) or keep only what tanh misses."""

from __future__ import annotations

from typing import Any

from ._array import nan_like_input
from ._registry import Param, TorchTwin, define
from ._validation import Interval

INF = float("inf")

# x - tanh(x) = sum_k c_k x^(2k+1) for |x| < pi/2; below 0.1 the series (to x^17) is
# exact in float64, where x - tanh(x) would lose up to all its digits to cancellation.
_TANH_SHRINK_SERIES = (
    1 / 3,
    -2 / 15,
    17 / 315,
    -62 / 2835,
    1382 / 155925,
    -21844 / 6081075,
    929569 / 638512875,
    -6404582 / 10854718875,
)


def hard_shrink(xp: Any, x: Any, lambd: float = 0.5) -> Any:
    return xp.where((x >= -lambd) & (x <= lambd), 0.0, x)


def hard_shrink_grad(xp: Any, x: Any, lambd: float = 0.5) -> Any:
    inside = (x >= -lambd) & (x <= lambd)
    return nan_like_input(xp, x, xp.where(inside, 0.0, xp.ones_like(x)))


def soft_shrink(xp: Any, x: Any, lambd: float = 0.5) -> Any:
    # x * 0 rather than 0 in the middle band keeps a NaN input NaN.
    return xp.where(x > lambd, x - lambd, xp.where(x < -lambd, x + lambd, x * 0.0))


def soft_shrink_grad(xp: Any, x: Any, lambd: float = 0.5) -> Any:
    outside = (x > lambd) | (x < -lambd)
    return nan_like_input(xp, x, xp.where(outside, xp.ones_like(x), 0.0))


def tanh_shrink(xp: Any, x: Any) -> Any:
    x2 = x * x
    series = 0.0 * x
    for c in reversed(_TANH_SHRINK_SERIES):
        series = series * x2 + c
    series = series * x2 * x
    return xp.where(xp.abs(x) < 0.1, series, x - xp.tanh(x))


def tanh_shrink_grad(xp: Any, x: Any) -> Any:
    t = xp.tanh(x)  # 1 - sech^2 = tanh^2: no cancellation
    return t * t


_LAMBD = Param("lambd", 0.5, (Interval(left=0.0, closed="left"),), "half-width of the zero band")

define(
    name="hard_shrink",
    fn=hard_shrink,
    grad=hard_shrink_grad,
    # |x| <= lambd exactly where f(x) = 0, that is |f(x)| <= lambd (lambd >= 0). Not so for
    # soft_shrink, whose x - lambd can round to 0, nor hard_tanh, whose bounds round in
    # float32: those keep the input, as PyTorch's do.
    grad_from_output=hard_shrink_grad,
    # not exact=True: x <= 0.1 computed in float32 compares with 0.1f, which moves the
    # kink (x = 0.1f is above 0.1); the wider compute dtype compares with 0.1 itself
    params=(_LAMBD,),
    summary="Zero inside [-lambd, lambd], identity outside.",
    formula="f(x) = x if |x| > lambd else 0",
    latex=r"f(x) = \begin{cases} x & |x| > \lambda \\ 0 & |x| \le \lambda \end{cases}",
    output_range=(-INF, INF),
    monotonic=True,
    smoothness="discontinuous",
    zero_centred=True,
    kinks=(-0.5, 0.5),
    origin="Donoho and Johnstone (1994), Ideal spatial adaptation by wavelet shrinkage",
    aliases=("Hardshrink",),
    class_name="Hardshrink",
    torch_twin=TorchTwin(
        "nn.functional.hardshrink",
        "Hardshrink",
        aten="hardshrink",
        audited="exact",
        exact_params=("lambd",),
    ),
    frameworks="PyTorch nn.Hardshrink(lambd=0.5); Keras 3 hard_shrink(threshold=0.5).",
)

define(
    name="soft_shrink",
    fn=soft_shrink,
    grad=soft_shrink_grad,
    params=(_LAMBD,),
    summary="Soft thresholding: move x towards 0 by lambd, zero inside the band.",
    formula="f(x) = x - lambd if x > lambd; x + lambd if x < -lambd; else 0",
    latex=r"f(x) = \operatorname{sign}(x)\max(|x| - \lambda, 0)",
    output_range=(-INF, INF),
    monotonic=True,
    smoothness="C0",
    zero_centred=True,
    kinks=(-0.5, 0.5),
    origin="Donoho and Johnstone (1994), Ideal spatial adaptation by wavelet shrinkage",
    aliases=("Softshrink",),
    class_name="Softshrink",
    torch_twin=TorchTwin("nn.functional.softshrink", "Softshrink", aten="softshrink"),
    frameworks="PyTorch nn.Softshrink(lambd=0.5); Keras 3 soft_shrink(threshold=0.5).",
)

define(
    name="tanh_shrink",
    fn=tanh_shrink,
    grad=tanh_shrink_grad,
    summary="x - tanh(x): what remains of x after tanh.",
    formula="f(x) = x - tanh(x)",
    latex=r"f(x) = x - \tanh x",
    output_range=(-INF, INF),
    monotonic=True,
    smoothness="Cinf",
    zero_centred=True,
    origin="PyTorch nn.Tanhshrink (from Lua Torch)",
    aliases=("Tanhshrink",),
    class_name="Tanhshrink",
    torch_twin=TorchTwin("nn.functional.tanhshrink", "Tanhshrink"),
    frameworks="PyTorch nn.Tanhshrink; Keras 3 tanh_shrink. Computed by series near 0, where "
    "x - tanh(x) in float32 loses every digit below |x| = 3e-4.",
)
