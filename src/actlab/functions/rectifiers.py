"""Rectifiers: ReLU and the functions built to fix or smooth it.

Kinks follow PyTorch's autograd, so gradients agree with ``torch.nn`` bit for
bit where PyTorch is exact: relu'(0) = 0, leaky_relu'(0) = negative_slope,
elu'(0) = alpha, relu6'(0) = relu6'(6) = 0.
"""

from __future__ import annotations

from typing import Any

from ._array import nan_like_input
from ._registry import Param, TorchTwin, define
from ._validation import Interval, InvalidParameterError
from .sigmoidal import _window, clip, sigmoid, softplus0

INF = float("inf")

# Klambauer et al. (2017): the values that make mean 0, variance 1 a fixed point.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def relu(xp: Any, x: Any) -> Any:
    # maximum propagates NaN (where(x > 0, x, 0) would turn it into 0)
    return xp.maximum(x, 0.0)


def relu_grad(xp: Any, x: Any) -> Any:
    return nan_like_input(xp, x, xp.where(x > 0, xp.ones_like(x), 0.0))


def relu6(xp: Any, x: Any) -> Any:
    return clip(xp, x, 0.0, 6.0)


def relu6_grad(xp: Any, x: Any) -> Any:
    return _window(xp, x, 0.0, 6.0, 1.0)


def relu2(xp: Any, x: Any) -> Any:
    r = xp.maximum(x, 0.0)
    return r * r


def relu2_grad(xp: Any, x: Any) -> Any:
    return 2.0 * xp.maximum(x, 0.0)


def leaky_relu(xp: Any, x: Any, negative_slope: Any = 0.01) -> Any:
    return xp.where(x < 0, negative_slope * x, x)


def leaky_relu_grad(xp: Any, x: Any, negative_slope: Any = 0.01) -> Any:
    one = xp.ones_like(x)
    return nan_like_input(xp, x, xp.where(x > 0, one, negative_slope * one))


def leaky_relu_dslope(xp: Any, x: Any, negative_slope: Any = 0.01) -> Any:
    return xp.where(x > 0, xp.zeros_like(x), x)


def prelu(xp: Any, x: Any, weight: Any = 0.25) -> Any:
    return leaky_relu(xp, x, weight)


def prelu_grad(xp: Any, x: Any, weight: Any = 0.25) -> Any:
    return leaky_relu_grad(xp, x, weight)


def prelu_dweight(xp: Any, x: Any, weight: Any = 0.25) -> Any:
    return leaky_relu_dslope(xp, x, weight)


def _mean_slope(lower: Any, upper: Any) -> Any:
    # RReLU's deterministic (evaluation) slope; the torch module draws slopes in training
    return (lower + upper) / 2


def rrelu(xp: Any, x: Any, lower: float = 1 / 8, upper: float = 1 / 3) -> Any:
    return leaky_relu(xp, x, _mean_slope(lower, upper))


def rrelu_grad(xp: Any, x: Any, lower: float = 1 / 8, upper: float = 1 / 3) -> Any:
    return leaky_relu_grad(xp, x, _mean_slope(lower, upper))


def _check_rrelu(p: dict) -> None:
    if not p["lower"] <= p["upper"]:
        raise InvalidParameterError(
            f"The 'upper' parameter of rrelu must be at least 'lower'. "
            f"Got lower={p['lower']!r}, upper={p['upper']!r} instead."
        )


def _rrelu_kernel_args(p: dict) -> tuple[float, ...]:
    # the deterministic form runs leaky_relu's kernel at the mean slope
    return (_mean_slope(float(p["lower"]), float(p["upper"])),)


def threshold(xp: Any, x: Any, threshold: float = 0.0, value: float = 0.0) -> Any:
    return xp.where(x <= threshold, value, x)


def threshold_grad(xp: Any, x: Any, threshold: float = 0.0, value: float = 0.0) -> Any:
    return nan_like_input(xp, x, xp.where(x > threshold, xp.ones_like(x), 0.0))


def elu(xp: Any, x: Any, alpha: float = 1.0) -> Any:
    # Branch-free: max(x, 0) + alpha * expm1(min(x, 0)). expm1 of the clamped input
    # cannot overflow, and keeps the relative accuracy that exp(x) - 1 loses near 0.
    return xp.maximum(x, 0.0) + alpha * xp.expm1(xp.minimum(x, 0.0))


def elu_grad(xp: Any, x: Any, alpha: float = 1.0) -> Any:
    return xp.where(x > 0, 1.0, alpha * xp.exp(xp.minimum(x, 0.0)))


def celu(xp: Any, x: Any, alpha: float = 1.0) -> Any:
    return xp.maximum(x, 0.0) + alpha * xp.expm1(xp.minimum(x, 0.0) / alpha)


def celu_grad(xp: Any, x: Any, alpha: float = 1.0) -> Any:
    return xp.where(x > 0, 1.0, xp.exp(xp.minimum(x, 0.0) / alpha))


def selu(xp: Any, x: Any) -> Any:
    return SELU_SCALE * elu(xp, x, SELU_ALPHA)


def selu_grad(xp: Any, x: Any) -> Any:
    return SELU_SCALE * elu_grad(xp, x, SELU_ALPHA)


def softplus(xp: Any, x: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    bx = beta * x
    return xp.where(bx > threshold, x, softplus0(xp, bx) / beta)


def softplus_grad(xp: Any, x: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    bx = beta * x
    return nan_like_input(xp, x, xp.where(bx > threshold, 1.0, sigmoid(xp, bx)))


def squareplus(xp: Any, x: Any, b: float = 4.0) -> Any:
    # For x < 0, x + sqrt(x^2 + b) cancels; multiply by the conjugate instead.
    s = xp.hypot(x, xp.full_like(x, b**0.5))
    # Halves first: x + s and s - x overflow for x near the float max (bfloat16 input).
    return xp.where(x < 0, (b / 4.0) / (s / 2.0 - x / 2.0), x / 2.0 + s / 2.0)


def squareplus_grad(xp: Any, x: Any, b: float = 4.0) -> Any:
    s = xp.hypot(x, xp.full_like(x, b**0.5))
    ratio = xp.where(xp.isinf(x), 1.0, x / s)  # x/s -> 1 as x -> inf, not inf/inf
    return xp.where(x < 0, (b / (4.0 * s)) / (s / 2.0 - x / 2.0), (1.0 + ratio) / 2.0)


def sparse_plus(xp: Any, x: Any) -> Any:
    q = (x + 1.0) * (x + 1.0) / 4.0
    return xp.where(x <= -1.0, xp.zeros_like(x), xp.where(x >= 1.0, x, q))


def sparse_plus_grad(xp: Any, x: Any) -> Any:
    return 0.5 * clip(xp, x + 1.0, 0.0, 2.0)


define(
    name="relu",
    fn=relu,
    grad=relu_grad,
    # x > 0 exactly where relu(x) > 0, NaN where NaN: relu' reads the output as well
    grad_from_output=relu_grad,
    exact=True,
    inplace=True,
    summary="The rectified linear unit max(x, 0).",
    formula="f(x) = max(x, 0)",
    latex=r"f(x) = \max(x, 0)",
    output_range=(0.0, INF),
    monotonic=True,
    smoothness="C0",
    zero_centred=False,
    kinks=(0.0,),
    origin="Nair and Hinton (2010), Rectified Linear Units Improve Restricted Boltzmann "
    "Machines; Glorot, Bordes, Bengio (2011), Deep Sparse Rectifier Neural Networks",
    aliases=("ReLU", "rectifier"),
    class_name="ReLU",
    torch_twin=TorchTwin("nn.functional.relu", "ReLU", inplace=True, aten="relu", audited="exact"),
    frameworks="Identical everywhere; relu'(0) = 0 in PyTorch and JAX.",
)

define(
    name="relu6",
    fn=relu6,
    grad=relu6_grad,
    # 0 < x < 6 exactly where 0 < relu6(x) < 6
    grad_from_output=relu6_grad,
    exact=True,
    inplace=True,
    summary="ReLU capped at 6: min(max(x, 0), 6).",
    formula="f(x) = min(max(x, 0), 6)",
    latex=r"f(x) = \min(\max(x, 0), 6)",
    output_range=(0.0, 6.0),
    monotonic=True,
    smoothness="C0",
    zero_centred=False,
    kinks=(0.0, 6.0),
    origin="Krizhevsky (2010), Convolutional Deep Belief Networks on CIFAR-10",
    aliases=("ReLU6",),
    class_name="ReLU6",
    torch_twin=TorchTwin(
        "nn.functional.relu6",
        "ReLU6",
        inplace=True,
        aten="hardtanh",
        aten_args=(0.0, 6.0),
        audited="exact",
    ),
    frameworks="Identical everywhere; derivative 0 at both kinks in PyTorch and JAX.",
)

define(
    name="relu2",
    fn=relu2,
    grad=relu2_grad,
    summary="Squared ReLU max(x, 0)^2, found by architecture search for Transformers.",
    formula="f(x) = max(x, 0)^2",
    latex=r"f(x) = \max(x, 0)^2",
    output_range=(0.0, INF),
    monotonic=True,
    smoothness="C1",
    zero_centred=False,
    origin="So et al. (2021), Primer: Searching for Efficient Transformers for Language Modeling",
    aliases=("squared_relu", "relu_squared", "ReLUSquared", "SquaredReLU"),
    class_name="ReLU2",
    frameworks="No PyTorch, Keras or JAX op; usually written torch.square(F.relu(x)).",
)

define(
    name="leaky_relu",
    fn=leaky_relu,
    grad=leaky_relu_grad,
    # a slope >= 0 keeps the sign: x > 0 exactly where f(x) > 0
    grad_from_output=leaky_relu_grad,
    param_grads={"negative_slope": leaky_relu_dslope},
    inplace=True,
    params=(
        Param(
            "negative_slope",
            0.01,
            (Interval(left=0.0, closed="left"),),
            "slope for x < 0",
        ),
    ),
    summary="ReLU with a small fixed slope for negative inputs.",
    formula="f(x) = x if x > 0 else negative_slope * x",
    latex=r"f(x) = \begin{cases} x & x > 0 \\ a x & x \le 0 \end{cases}",
    output_range=(-INF, INF),
    monotonic=True,
    smoothness="C0",
    zero_centred=False,
    kinks=(0.0,),
    origin="Maas, Hannun, Ng (2013), Rectifier Nonlinearities Improve Neural Network "
    "Acoustic Models",
    aliases=("LeakyReLU", "lrelu"),
    class_name="LeakyReLU",
    torch_twin=TorchTwin(
        "nn.functional.leaky_relu", "LeakyReLU", inplace=True, aten="leaky_relu", audited="bounds"
    ),
    frameworks="Default slope differs: PyTorch and JAX 0.01, Keras 3's LeakyReLU layer 0.3 "
    "and leaky_relu function 0.2, tf.nn.leaky_relu 0.2. Derivative at 0 is the slope "
    "(PyTorch).",
)

define(
    name="prelu",
    fn=prelu,
    grad=prelu_grad,
    param_grads={"weight": prelu_dweight},
    params=(
        Param(
            "weight",
            0.25,
            (Interval(),),
            "learned slope for x < 0 (one, or one per channel)",
            learnable="always",
        ),
    ),
    summary="Leaky ReLU whose negative slope is learned, shared or per channel.",
    formula="f(x) = x if x > 0 else a * x, a learned",
    latex=r"f(x) = \begin{cases} x & x > 0 \\ a x & x \le 0 \end{cases}",
    output_range=(-INF, INF),
    monotonic=True,
    smoothness="C0",
    zero_centred=False,
    kinks=(0.0,),
    origin="He, Zhang, Ren, Sun (2015), Delving Deep into Rectifiers: Surpassing "
    "Human-Level Performance on ImageNet Classification",
    aliases=("PReLU",),
    class_name="PReLU",
    torch_twin=TorchTwin("nn.functional.prelu", "PReLU", tensor_params=("weight",)),
    kernel="leaky_relu",
    frameworks="PyTorch nn.PReLU(num_parameters=1, init=0.25) learns one slope or one per "
    "channel (dim 1); Keras PReLU learns one per element by default (shared_axes to share).",
)

define(
    name="rrelu",
    fn=rrelu,
    grad=rrelu_grad,
    # the evaluation slope (lower + upper) / 2 >= 0 keeps the sign, as for leaky_relu
    grad_from_output=rrelu_grad,
    exact=False,
    inplace=True,
    stochastic=True,
    check=_check_rrelu,
    params=(
        Param("lower", 1 / 8, (Interval(left=0.0, closed="left"),), "lowest random slope"),
        Param("upper", 1 / 3, (Interval(left=0.0, closed="left"),), "highest random slope"),
    ),
    summary="Randomized leaky ReLU: a random slope in training, the mean slope in evaluation.",
    formula="f(x) = x if x >= 0 else a * x; a ~ U(lower, upper) in training, "
    "(lower + upper) / 2 in evaluation",
    latex=r"f(x) = \begin{cases} x & x \ge 0 \\ a x & x < 0 \end{cases},\; "
    r"a \sim U(l, u)",
    output_range=(-INF, INF),
    monotonic=True,
    smoothness="C0",
    zero_centred=False,
    kinks=(0.0,),
    origin="Xu, Wang, Chen, Li (2015), Empirical Evaluation of Rectified Activations in "
    "Convolutional Network",
    aliases=("RReLU",),
    class_name="RReLU",
    torch_twin=TorchTwin(
        "nn.functional.rrelu", "RReLU", fixed=(("training", False),), inplace=True, audited="bounds"
    ),
    kernel="leaky_relu",
    kernel_args=_rrelu_kernel_args,
    frameworks="PyTorch nn.RReLU(lower=1/8, upper=1/3); forward/derivative here are the "
    "evaluation form; the torch module draws a slope per element in training.",
)

define(
    name="threshold",
    fn=threshold,
    grad=threshold_grad,
    # not exact=True: x <= 0.1 computed in float32 compares with 0.1f, which moves the
    # threshold (x = 0.1f is above 0.1); the wider compute dtype compares with 0.1 itself
    inplace=True,
    params=(
        Param("threshold", 0.0, (Interval(),), "inputs at or below it are replaced"),
        Param("value", 0.0, (Interval(allow_inf=True),), "the replacement"),
    ),
    summary="x above the threshold, a constant value at or below it.",
    formula="f(x) = x if x > threshold else value",
    latex=r"f(x) = \begin{cases} x & x > t \\ v & x \le t \end{cases}",
    output_range=(0.0, INF),
    monotonic=True,
    smoothness="C0",
    zero_centred=False,
    kinks=(0.0,),
    origin="PyTorch nn.Threshold (from Lua Torch)",
    aliases=("Threshold",),
    class_name="Threshold",
    torch_twin=TorchTwin(
        "nn.functional.threshold",
        "Threshold",
        inplace=True,
        aten="threshold",
        audited="exact",
        exact_params=("threshold",),
    ),
    frameworks="PyTorch nn.Threshold(threshold, value) has no defaults (0, 0 here, = relu); "
    "Keras 3 threshold(x, threshold, default_value). Discontinuous when value != threshold.",
)

define(
    name="elu",
    range_attained=(False, True),
    fn=elu,
    grad=elu_grad,
    inplace=True,
    params=(
        Param(
            "alpha",
            1.0,
            (Interval(left=0.0, closed="left"),),
            "saturation value -alpha for x -> -inf",
        ),
    ),
    summary="Exponential linear unit: identity for x > 0, alpha * (e^x - 1) below.",
    formula="f(x) = x if x > 0 else alpha * (exp(x) - 1)",
    latex=r"f(x) = \begin{cases} x & x > 0 \\ \alpha (e^{x} - 1) & x \le 0 \end{cases}",
    output_range=(-1.0, INF),
    monotonic=True,
    smoothness="C1",
    zero_centred=False,
    origin="Clevert, Unterthiner, Hochreiter (2016), Fast and Accurate Deep Network "
    "Learning by Exponential Linear Units (ELUs)",
    aliases=("ELU",),
    class_name="ELU",
    torch_twin=TorchTwin("nn.functional.elu", "ELU", inplace=True, aten="elu", audited="bounds"),
    frameworks="alpha = 1 everywhere. C1 only when alpha = 1; derivative at 0 is alpha (PyTorch).",
)

define(
    name="celu",
    range_attained=(False, True),
    fn=celu,
    grad=celu_grad,
    inplace=True,
    params=(
        Param("alpha", 1.0, (Interval(left=0.0, closed="neither"),), "scale of the negative part"),
    ),
    summary="Continuously differentiable ELU: alpha * (e^(x/alpha) - 1) below 0.",
    formula="f(x) = x if x > 0 else alpha * (exp(x / alpha) - 1)",
    latex=r"f(x) = \begin{cases} x & x > 0 \\ \alpha (e^{x/\alpha} - 1) & x \le 0 \end{cases}",
    output_range=(-1.0, INF),
    monotonic=True,
    smoothness="C1",
    zero_centred=False,
    origin="Barron (2017), Continuously Differentiable Exponential Linear Units",
    aliases=("CELU",),
    class_name="CELU",
    torch_twin=TorchTwin("nn.functional.celu", "CELU", inplace=True, aten="celu", audited="bounds"),
    frameworks="PyTorch nn.CELU, jax.nn.celu, keras celu, all alpha = 1.",
)

define(
    name="selu",
    range_attained=(False, True),
    fn=selu,
    grad=selu_grad,
    inplace=True,
    summary="Scaled ELU with the constants that make N(0, 1) a fixed point (self-normalizing).",
    formula="f(x) = scale * (x if x > 0 else alpha * (exp(x) - 1)), "
    "alpha = 1.6732632423543772, scale = 1.0507009873554805",
    latex=r"f(x) = \lambda \begin{cases} x & x > 0 \\ \alpha (e^{x} - 1) & x \le 0 "
    r"\end{cases}",
    output_range=(-SELU_SCALE * SELU_ALPHA, INF),
    monotonic=True,
    smoothness="C0",
    zero_centred=True,  # E selu(z) = 0 for z ~ N(0, 1): the point of its constants
    kinks=(0.0,),
    origin="Klambauer, Unterthiner, Mayr, Hochreiter (2017), Self-Normalizing Neural Networks",
    aliases=("SELU",),
    class_name="SELU",
    torch_twin=TorchTwin("nn.functional.selu", "SELU", inplace=True, audited="bounds"),
    frameworks="Same constants everywhere; derivative at 0 is scale * alpha (PyTorch).",
)


def _softplus_audited(p: dict) -> bool:
    # PyTorch's softplus was audited at thresholds up to the default 20: below the
    # threshold it forms e^(beta x), which overflows float32 beyond 88.7 (softplus(449)
    # is inf with threshold inf)
    return p["threshold"] <= 20.0


define(
    name="softplus",
    range_attained=(False, True),
    fn=softplus,
    grad=softplus_grad,
    params=(
        Param("beta", 1.0, (Interval(left=0.0, closed="neither"),), "sharpness"),
        Param(
            "threshold",
            20.0,
            (Interval(allow_inf=True),),
            "above beta * x > threshold the result is x",
        ),
    ),
    summary="Smooth ReLU log(1 + e^(beta x)) / beta, linear above a threshold.",
    formula="f(x) = x if beta * x > threshold else log(1 + exp(beta * x)) / beta",
    latex=r"f(x) = \frac{1}{\beta}\log\left(1 + e^{\beta x}\right)",
    output_range=(0.0, INF),
    monotonic=True,
    smoothness="Cinf",
    zero_centred=False,
    origin="Dugas, Bengio, Belisle, Nadeau, Garcia (2001), Incorporating Second-Order "
    "Functional Knowledge for Better Option Pricing",
    aliases=("Softplus",),
    class_name="Softplus",
    torch_twin=TorchTwin(
        "nn.functional.softplus",
        "Softplus",
        aten="softplus",
        audited="bounds",
        native_when=_softplus_audited,
    ),
    frameworks="PyTorch nn.Softplus(beta=1, threshold=20) returns x when beta * x > 20 "
    "(a jump of about 2e-9 there, invisible in float32); jax.nn.softplus is "
    "logaddexp(x, 0) with no threshold (threshold=inf here); Keras softplus has no beta.",
)

define(
    name="squareplus",
    range_attained=(False, True),
    fn=squareplus,
    grad=squareplus_grad,
    params=(Param("b", 4.0, (Interval(left=0.0, closed="neither"),), "curvature at 0"),),
    summary="Algebraic softplus (x + sqrt(x^2 + b)) / 2: no exponential.",
    formula="f(x) = (x + sqrt(x^2 + b)) / 2",
    latex=r"f(x) = \frac{x + \sqrt{x^2 + b}}{2}",
    output_range=(0.0, INF),
    monotonic=True,
    smoothness="Cinf",
    zero_centred=False,
    origin="Barron (2021), Squareplus: A Softplus-Like Algebraic Rectifier",
    aliases=("Squareplus",),
    class_name="Squareplus",
    frameworks="jax.nn.squareplus(b=4) and keras squareplus(b=4); no PyTorch op.",
)

define(
    name="sparse_plus",
    fn=sparse_plus,
    grad=sparse_plus_grad,
    summary="Piecewise-quadratic softplus: 0, (x + 1)^2 / 4, x.",
    formula="f(x) = 0 if x <= -1; (x + 1)^2 / 4 if -1 < x < 1; x if x >= 1",
    latex=r"f(x) = \begin{cases} 0 & x \le -1 \\ \frac{(x+1)^2}{4} & |x| < 1 \\ x & x \ge 1 "
    r"\end{cases}",
    output_range=(0.0, INF),
    monotonic=True,
    smoothness="C1",
    zero_centred=False,
    origin="Blondel, Martins, Niculae (2020), Learning with Fenchel-Young Losses",
    aliases=("SparsePlus",),
    class_name="SparsePlus",
    frameworks="jax.nn.sparse_plus and keras sparse_plus; no PyTorch op.",
)
