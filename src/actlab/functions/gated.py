"""Self-gated functions x * g(x): GELU, SiLU/Swish, Mish and their hard versions.

These are the smooth, non-monotonic, bounded-below, unbounded-above functions
of claim C12. Their derivatives have a zero (SiLU near -1.278, GELU near
-0.752, Mish near -1.19) where two terms cancel; computing in the wider
compute dtype keeps the float32 result within a few ULP there.
"""

from __future__ import annotations

import math
from typing import Any

from ._array import INV_SQRT_2PI, SQRT_HALF, erfc, zero_at_inf
from ._registry import Param, TorchTwin, define
from ._validation import Interval
from .sigmoidal import clip, sigmoid, sigmoid_grad, softplus0

INF = float("inf")
GELU_TANH_C = math.sqrt(2.0 / math.pi)
GELU_TANH_K = 0.044715
QUICK_GELU_BETA = 1.702


def _phi_cdf(xp: Any, x: Any) -> Any:
    # erfc(-x/sqrt2)/2, not (1 + erf(x/sqrt2))/2: the latter cancels for x < -3,
    # which is how PyTorch's float32 gelu loses its negative tail.
    return 0.5 * erfc(xp, -x * SQRT_HALF)


def gelu(xp: Any, x: Any) -> Any:
    return zero_at_inf(xp, x, x * _phi_cdf(xp, x))


def gelu_grad(xp: Any, x: Any) -> Any:
    pdf = INV_SQRT_2PI * xp.exp(-0.5 * x * x)
    return _phi_cdf(xp, x) + zero_at_inf(xp, x, x * pdf)


def _gelu_tanh_arg(xp: Any, x: Any) -> Any:
    return 2.0 * GELU_TANH_C * (x + GELU_TANH_K * x * x * x)


def gelu_tanh(xp: Any, x: Any) -> Any:
    # 0.5 (1 + tanh u) = sigmoid(2u): the same function without the 1 + tanh cancellation.
    return zero_at_inf(xp, x, x * sigmoid(xp, _gelu_tanh_arg(xp, x)))


def gelu_tanh_grad(xp: Any, x: Any) -> Any:
    v = _gelu_tanh_arg(xp, x)
    # Beyond |x| = 100 the second term is below e^-600; clamping keeps x * x^2 * 0 from
    # overflowing to inf * 0 when the compute dtype is float32 (bfloat16 input).
    xc = xp.clip(x, -100.0, 100.0)
    vc = _gelu_tanh_arg(xp, xc)
    dv = 2.0 * GELU_TANH_C * (1.0 + 3.0 * GELU_TANH_K * xc * xc)
    return sigmoid(xp, v) + xc * dv * sigmoid_grad(xp, vc)


def swish(xp: Any, x: Any, beta: Any = 1.0) -> Any:
    return zero_at_inf(xp, x, x * sigmoid(xp, beta * x))


def swish_grad(xp: Any, x: Any, beta: Any = 1.0) -> Any:
    bx = beta * x  # may overflow to inf for a finite x; the product's limit is still 0
    return sigmoid(xp, bx) + zero_at_inf(xp, bx, bx * sigmoid_grad(xp, bx))


def swish_dbeta(xp: Any, x: Any, beta: Any = 1.0) -> Any:
    return zero_at_inf(xp, x, x * x * sigmoid_grad(xp, beta * x))


def silu(xp: Any, x: Any) -> Any:
    return swish(xp, x, 1.0)


def silu_grad(xp: Any, x: Any) -> Any:
    return swish_grad(xp, x, 1.0)


def quick_gelu(xp: Any, x: Any) -> Any:
    return swish(xp, x, QUICK_GELU_BETA)


def quick_gelu_grad(xp: Any, x: Any) -> Any:
    return swish_grad(xp, x, QUICK_GELU_BETA)


def mish(xp: Any, x: Any) -> Any:
    return zero_at_inf(xp, x, x * xp.tanh(softplus0(xp, x)))


def mish_grad(xp: Any, x: Any) -> Any:
    # With n = e^x and w = (1 + n)^2: tanh(softplus x) = n(n+2) / (n(n+2) + 2) and
    # sech^2(softplus x) = 4w / (w + 1)^2, both free of the 1 - tanh^2 cancellation.
    # Above x = 40 the derivative is 1 to far below float64 precision.
    n = xp.exp(xp.minimum(x, 40.0))
    a = n * (n + 2.0)
    t = a / (a + 2.0)
    sech2 = 4.0 * (1.0 + n) * (1.0 + n) / ((a + 2.0) * (a + 2.0))
    d = t + zero_at_inf(xp, x, x * sech2 * sigmoid(xp, x))
    return xp.where(x > 40.0, 1.0, d)


def hard_swish(xp: Any, x: Any) -> Any:
    # x * (gate / 6), not (x * gate) / 6: the latter overflows for x near the float max.
    return zero_at_inf(xp, x, x * (clip(xp, x + 3.0, 0.0, 6.0) / 6.0))


def hard_swish_grad(xp: Any, x: Any) -> Any:
    # PyTorch's choice at the kinks (since pytorch#148049): the outer pieces' slopes,
    # f'(-3) = 0 and f'(3) = 1; older PyTorch took the middle piece's (-0.5 and 1.5).
    mid = (2.0 * x + 3.0) / 6.0
    return xp.where(x <= -3.0, xp.zeros_like(x), xp.where(x >= 3.0, xp.ones_like(x), mid))


def hard_mish(xp: Any, x: Any) -> Any:
    return zero_at_inf(xp, x, 0.5 * x * clip(xp, x + 2.0, 0.0, 2.0))


def hard_mish_grad(xp: Any, x: Any) -> Any:
    # timm's choice: x + 1 on the closed interval [-2, 0].
    return xp.where(x < -2.0, xp.zeros_like(x), xp.where(x > 0.0, xp.ones_like(x), x + 1.0))


_SILU_MIN = "about -0.27846 at x = -1.27846"

define(
    name="gelu",
    fn=gelu,
    grad=gelu_grad,
    summary="Gaussian error linear unit x * Phi(x), exact (through erfc).",
    formula="f(x) = x * Phi(x) = x / 2 * erfc(-x / sqrt(2))",
    latex=r"f(x) = x\,\Phi(x) = \frac{x}{2}\operatorname{erfc}\!\left(-\frac{x}{\sqrt 2}\right)",
    output_range=(-0.16997120747990366, INF),
    monotonic=False,
    smoothness="Cinf",
    zero_centred=False,
    origin="Hendrycks and Gimpel (2016), Gaussian Error Linear Units (GELUs)",
    aliases=("GELU", "gelu_exact", "gelu_erf"),
    class_name="GELU",
    torch_twin=TorchTwin(
        "nn.functional.gelu", "GELU", fixed=(("approximate", "none"),), aten="gelu"
    ),
    frameworks="Exact (erf) by default in PyTorch (approximate='none'), Keras "
    "(approximate=False) and Hugging Face ('gelu'); jax.nn.gelu defaults to "
    "approximate=True, the tanh form (gelu_tanh here). PyTorch's float32 CPU kernel "
    "uses erf and loses the negative tail: F.gelu(x) can return 0 where the true value is "
    "-5.9e-9 (x = -6) and be percents off near -5, depending on the CPU's erf kernel "
    "(actlab audit gelu measures it on this machine).",
)

define(
    name="gelu_tanh",
    fn=gelu_tanh,
    grad=gelu_tanh_grad,
    summary="The tanh approximation of GELU used by BERT, GPT-2 and jax.nn.gelu's default.",
    formula="f(x) = x / 2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))",
    latex=r"f(x) = \frac{x}{2}\left(1 + \tanh\left(\sqrt{2/\pi}\,(x + 0.044715\,x^3)"
    r"\right)\right)",
    output_range=(-0.17004075057125405, INF),
    monotonic=False,
    smoothness="Cinf",
    zero_centred=False,
    origin="Hendrycks and Gimpel (2016), Gaussian Error Linear Units (GELUs)",
    aliases=("GELUTanh", "gelu_new", "gelu_pytorch_tanh", "gelu_approximate", "gelu_fast"),
    class_name="GELUTanh",
    torch_twin=TorchTwin(
        "nn.functional.gelu", "GELU", fixed=(("approximate", "tanh"),), aten="gelu"
    ),
    frameworks="PyTorch nn.GELU(approximate='tanh'), jax.nn.gelu(approximate=True) (its "
    "default), Keras gelu(approximate=True), Hugging Face 'gelu_new' and "
    "'gelu_pytorch_tanh'. Differs from the exact gelu by up to 4.7e-4.",
)

define(
    name="quick_gelu",
    fn=quick_gelu,
    grad=quick_gelu_grad,
    summary="x * sigmoid(1.702 x), the sigmoid approximation of GELU used by CLIP.",
    formula="f(x) = x * sigmoid(1.702 x)",
    latex=r"f(x) = x\,\sigma(1.702\,x)",
    output_range=(-0.16361018963635358, INF),
    monotonic=False,
    smoothness="Cinf",
    zero_centred=False,
    origin="Hendrycks and Gimpel (2016), GELUs; used by Radford et al. (2021), CLIP",
    aliases=("QuickGELU",),
    class_name="QuickGELU",
    frameworks="OpenAI CLIP and timm QuickGELU, Hugging Face 'quick_gelu'. A third function, "
    "not GELU: up to 0.02 from the exact GELU, so weights trained with it lose accuracy "
    "under nn.GELU.",
)

define(
    name="silu",
    fn=silu,
    grad=silu_grad,
    inplace=True,
    summary="Sigmoid-weighted linear unit x * sigmoid(x) (Swish with beta = 1).",
    formula="f(x) = x * sigmoid(x)",
    latex=r"f(x) = x\,\sigma(x)",
    output_range=(-0.2784645427610738, INF),
    monotonic=False,
    smoothness="Cinf",
    zero_centred=False,
    origin="Elfwing, Uchibe, Doya (2018), Sigmoid-Weighted Linear Units for Neural Network "
    "Function Approximation in Reinforcement Learning; Hendrycks and Gimpel (2016)",
    aliases=("SiLU",),
    class_name="SiLU",
    torch_twin=TorchTwin("nn.functional.silu", "SiLU", inplace=True, aten="silu"),
    frameworks="PyTorch nn.SiLU, jax.nn.silu, keras silu. JAX and Keras also call it "
    "'swish' (jax.nn.swish = silu), which here is swish with beta = 1. Minimum " + _SILU_MIN + ".",
)

define(
    name="swish",
    fn=swish,
    grad=swish_grad,
    param_grads={"beta": swish_dbeta},
    params=(
        Param(
            "beta",
            1.0,
            (Interval(),),
            "gate sharpness; beta = 1 is SiLU, beta -> inf is ReLU",
            learnable="optional",
        ),
    ),
    summary="x * sigmoid(beta x) with a fixed or learnable beta.",
    formula="f(x) = x * sigmoid(beta * x)",
    latex=r"f(x) = x\,\sigma(\beta x)",
    output_range=(-0.2784645427610738, INF),
    monotonic=False,
    smoothness="Cinf",
    zero_centred=False,
    origin="Ramachandran, Zoph, Le (2017), Searching for Activation Functions",
    aliases=("Swish",),
    class_name="Swish",
    frameworks="In the Swish paper beta is a constant or learned per channel; jax.nn.swish "
    "and keras swish are SiLU (beta = 1); PyTorch has only SiLU. swish(beta=1) equals silu "
    "here, but the two stay separate names.",
)

define(
    name="hard_swish",
    fn=hard_swish,
    grad=hard_swish_grad,
    inplace=True,
    summary="Piecewise version of Swish: x * relu6(x + 3) / 6.",
    formula="f(x) = x * min(max(x + 3, 0), 6) / 6",
    latex=r"f(x) = x\,\frac{\min(\max(x + 3, 0), 6)}{6}",
    output_range=(-0.375, INF),
    monotonic=False,
    smoothness="C0",
    zero_centred=False,
    kinks=(-3.0, 3.0),
    origin="Howard et al. (2019), Searching for MobileNetV3",
    aliases=("Hardswish", "hard_silu", "HardSiLU"),
    class_name="Hardswish",
    torch_twin=TorchTwin("nn.functional.hardswish", "Hardswish", inplace=True, aten="hardswish"),
    frameworks="PyTorch nn.Hardswish, Keras 3 hard_silu / hard_swish, jax.nn.hard_silu / "
    "hard_swish: the same function. At the kinks PyTorch's derivative is 0 at x = -3 and "
    "1 at x = 3 (followed here); before pytorch#148049 it was -0.5 and 1.5.",
)

define(
    name="mish",
    fn=mish,
    grad=mish_grad,
    inplace=True,
    summary="x * tanh(softplus(x)): smooth, non-monotonic, bounded below.",
    formula="f(x) = x * tanh(log(1 + exp(x)))",
    latex=r"f(x) = x \tanh\left(\log\left(1 + e^{x}\right)\right)",
    output_range=(-0.30884341301725041, INF),
    monotonic=False,
    smoothness="Cinf",
    zero_centred=False,
    origin="Misra (2019), Mish: A Self Regularized Non-Monotonic Activation Function",
    aliases=("Mish",),
    class_name="Mish",
    torch_twin=TorchTwin("nn.functional.mish", "Mish", inplace=True, aten="mish"),
    frameworks="PyTorch nn.Mish, keras mish, timm Mish: the same function.",
)

define(
    name="hard_mish",
    fn=hard_mish,
    grad=hard_mish_grad,
    summary="Piecewise-quadratic Mish: x/2 * clip(x + 2, 0, 2).",
    formula="f(x) = x / 2 * min(max(x + 2, 0), 2)",
    latex=r"f(x) = \frac{x}{2}\min(\max(x + 2, 0), 2)",
    output_range=(-0.5, INF),
    monotonic=False,
    smoothness="C0",
    zero_centred=False,
    kinks=(-2.0,),
    origin="Misra, H-Mish (as implemented in timm's hard_mish)",
    aliases=("HardMish",),
    class_name="HardMish",
    frameworks="timm hard_mish / HardMish; no PyTorch, Keras or JAX op.",
)
