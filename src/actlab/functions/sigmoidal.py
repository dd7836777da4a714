"""Squashing functions: sigmoid, tanh and their hard and algebraic cousins, plus identity and exp.

Each definition is a pair ``f(xp, x, **params)`` / ``f_grad(xp, x, **params)``
written against the array API; :mod:`actlab.functions` registers them with
their metadata. Inputs arrive already cast to the compute dtype (see
``compute_dtype``); the formulas are chosen so that no intermediate overflows or
cancels over the whole range of that dtype.
"""

from __future__ import annotations

from typing import Any

from ._array import nan_like_input
from ._registry import Param, TorchTwin, define
from ._validation import Interval, InvalidParameterError


def sigmoid(xp: Any, x: Any) -> Any:
    # exp(min(x, 0)) / (1 + exp(-|x|)) is 1/(1 + e^-x) for x >= 0 and e^x/(1 + e^x) below:
    # no exponential can overflow (1/(1 + e^-x) loses x * sigmoid(x)'s tail once e^-x
    # overflows), and there is no branch (where() is slow on CPU).
    return xp.exp(xp.minimum(x, 0.0)) / (1.0 + xp.exp(-xp.abs(x)))


def sigmoid_grad(xp: Any, x: Any) -> Any:
    # sigma(x) * sigma(-x) = e / (1 + e)^2 with e = exp(-|x|): no 1 - sigma cancellation.
    e = xp.exp(-xp.abs(x))
    return e / ((1.0 + e) * (1.0 + e))


def softplus0(xp: Any, x: Any) -> Any:
    """log(1 + e^x) without overflow (large x) or loss of the tail (very negative x)."""
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


def clip(xp: Any, x: Any, lo: float, hi: float) -> Any:
    """Clamp to [lo, hi]; NaN stays NaN (torch.clamp and numpy.clip both propagate it)."""
    return xp.clip(x, lo, hi)


def _window(xp: Any, x: Any, lo: float, hi: float, slope: float) -> Any:
    """Derivative of a clamp: ``slope`` strictly inside (lo, hi), 0 at and beyond the kinks."""
    return nan_like_input(xp, x, xp.where((x > lo) & (x < hi), xp.full_like(x, slope), 0.0))


def identity(xp: Any, x: Any) -> Any:
    return x


def identity_grad(xp: Any, x: Any) -> Any:
    return nan_like_input(xp, x, xp.ones_like(x))


def log_sigmoid(xp: Any, x: Any) -> Any:
    return -softplus0(xp, -x)


def log_sigmoid_grad(xp: Any, x: Any) -> Any:
    return sigmoid(xp, -x)


def tanh(xp: Any, x: Any) -> Any:
    return xp.tanh(x)


def tanh_grad(xp: Any, x: Any) -> Any:
    # sech^2 x = 4e/(1+e)^2, e = exp(-2|x|): 1 - tanh^2 would round to 0 for |x| > 9 in float32.
    e = xp.exp(-2.0 * xp.abs(x))
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


def hard_sigmoid(xp: Any, x: Any) -> Any:
    return clip(xp, x + 3.0, 0.0, 6.0) / 6.0


def hard_sigmoid_grad(xp: Any, x: Any) -> Any:
    return _window(xp, x, -3.0, 3.0, 1.0 / 6.0)


def hard_sigmoid_keras2(xp: Any, x: Any) -> Any:
    # (x + 2.5) / 5 rather than 0.2 * x + 0.5: 0.2 is not a binary fraction, and the
    # sum is exact near the kink at -2.5, where 0.2x + 0.5 cancels.
    return clip(xp, (x + 2.5) / 5.0, 0.0, 1.0)


def hard_sigmoid_keras2_grad(xp: Any, x: Any) -> Any:
    return _window(xp, x, -2.5, 2.5, 0.2)


def sparse_sigmoid(xp: Any, x: Any) -> Any:
    return 0.5 * clip(xp, x + 1.0, 0.0, 2.0)


def sparse_sigmoid_grad(xp: Any, x: Any) -> Any:
    return _window(xp, x, -1.0, 1.0, 0.5)


def hard_tanh(xp: Any, x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Any:
    return clip(xp, x, min_val, max_val)


def hard_tanh_grad(xp: Any, x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Any:
    return _window(xp, x, min_val, max_val, 1.0)


def _check_hard_tanh(p: dict) -> None:
    if not p["min_val"] < p["max_val"]:
        raise InvalidParameterError(
            f"The 'max_val' parameter of hard_tanh must be greater than 'min_val'. "
            f"Got min_val={p['min_val']!r}, max_val={p['max_val']!r} instead."
        )


def softsign(xp: Any, x: Any) -> Any:
    # Clamping at +/-1e20 keeps inf/inf from giving NaN; beyond it the result is +/-1 anyway.
    xc = clip(xp, x, -1e20, 1e20)
    return xc / (1.0 + xp.abs(xc))


def softsign_grad(xp: Any, x: Any) -> Any:
    d = 1.0 + xp.abs(x)
    return 1.0 / (d * d)


def exponential(xp: Any, x: Any) -> Any:
    return xp.exp(x)


def exponential_grad_from_output(xp: Any, y: Any) -> Any:
    # (e^x)' = e^x: the output is the derivative
    return y


INF = float("inf")

define(
    name="identity",
    fn=identity,
    grad=identity_grad,
    exact=True,
    summary="The identity (linear) activation: no nonlinearity at all.",
    formula="f(x) = x",
    latex=r"f(x) = x",
    output_range=(-INF, INF),
    monotonic=True,
    smoothness="Cinf",
    zero_centred=True,
    origin="-",
    aliases=("linear", "Identity"),
    class_name="Identity",
    frameworks="PyTorch nn.Identity, Keras 'linear', JAX jax.nn.identity.",
)

define(
    name="sigmoid",
    range_attained=(False, False),
    fn=sigmoid,
    grad=sigmoid_grad,
    summary="The logistic sigmoid, squashing the real line into (0, 1).",
    formula="f(x) = 1 / (1 + exp(-x))",
    latex=r"f(x) = \frac{1}{1 + e^{-x}}",
    output_range=(0.0, 1.0),
    monotonic=True,
    smoothness="Cinf",
    zero_centred=False,
    origin="Rumelhart, Hinton, Williams (1986), Learning representations by "
    "back-propagating errors",
    aliases=("logistic", "expit", "Sigmoid"),
    class_name="Sigmoid",
    torch_twin=TorchTwin("sigmoid", "Sigmoid", aten="sigmoid", calls=("special.expit",)),
    frameworks="Identical in PyTorch, Keras and JAX.",
)

define(
    name="log_sigmoid",
    range_attained=(False, False),
    fn=log_sigmoid,
    grad=log_sigmoid_grad,
    summary="The logarithm of the sigmoid, -softplus(-x), computed without log(0).",
    formula="f(x) = -log(1 + exp(-x))",
    latex=r"f(x) = -\log\left(1 + e^{-x}\right)",
    output_range=(-INF, 0.0),
    monotonic=True,
    smoothness="Cinf",
    zero_centred=False,
    origin="-",
    aliases=("LogSigmoid",),
    class_name="LogSigmoid",
    torch_twin=TorchTwin(
        "nn.functional.logsigmoid", "LogSigmoid", aten="log_sigmoid", audited="bounds"
    ),
    frameworks="PyTorch nn.LogSigmoid, jax.nn.log_sigmoid, keras log_sigmoid.",
)

define(
    name="tanh",
    range_attained=(False, False),
    fn=tanh,
    grad=tanh_grad,
    summary="The hyperbolic tangent, a zero-centred sigmoid onto (-1, 1).",
    formula="f(x) = tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))",
    latex=r"f(x) = \tanh x = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}",
    output_range=(-1.0, 1.0),
    monotonic=True,
    smoothness="Cinf",
    zero_centred=True,
    origin="LeCun, Bottou, Orr, Mueller (1998), Efficient BackProp",
    aliases=("Tanh",),
    class_name="Tanh",
    torch_twin=TorchTwin("tanh", "Tanh", aten="tanh"),
    frameworks="Identical in PyTorch, Keras and JAX.",
)

define(
    name="hard_sigmoid",
    fn=hard_sigmoid,
    grad=hard_sigmoid_grad,
    inplace=True,
    summary="Piecewise-linear sigmoid relu6(x + 3) / 6 (PyTorch, Keras 3 and JAX definition).",
    formula="f(x) = min(max(x + 3, 0), 6) / 6",
    latex=r"f(x) = \frac{\min(\max(x + 3, 0), 6)}{6}",
    output_range=(0.0, 1.0),
    monotonic=True,
    smoothness="C0",
    zero_centred=False,
    kinks=(-3.0, 3.0),
    origin="Howard et al. (2019), Searching for MobileNetV3",
    aliases=("Hardsigmoid", "hard_sigmoid_v3"),
    class_name="Hardsigmoid",
    torch_twin=TorchTwin(
        "nn.functional.hardsigmoid",
        "Hardsigmoid",
        inplace=True,
        aten="hardsigmoid",
        audited="bounds",
    ),
    frameworks="PyTorch nn.Hardsigmoid, Keras 3 hard_sigmoid and jax.nn.hard_sigmoid compute "
    "relu6(x + 3) / 6 (slope 1/6). Keras 2 and TensorFlow's hard_sigmoid was "
    "clip(0.2x + 0.5, 0, 1) (slope 1/5): that is hard_sigmoid_keras2 here. Derivative is "
    "0 at x = -3 and x = 3 (PyTorch's choice).",
)

define(
    name="hard_sigmoid_keras2",
    fn=hard_sigmoid_keras2,
    grad=hard_sigmoid_keras2_grad,
    summary="Keras 2 / TensorFlow hard sigmoid clip(0.2x + 0.5, 0, 1).",
    formula="f(x) = min(max(x / 5 + 1/2, 0), 1)",
    latex=r"f(x) = \min\left(\max\left(\tfrac{x}{5} + \tfrac{1}{2}, 0\right), 1\right)",
    output_range=(0.0, 1.0),
    monotonic=True,
    smoothness="C0",
    zero_centred=False,
    kinks=(-2.5, 2.5),
    origin="Theano / Keras 2 hard_sigmoid",
    aliases=("hard_sigmoid_tf", "HardSigmoidKeras2"),
    class_name="HardSigmoidKeras2",
    frameworks="The hard_sigmoid of Keras 2, tf.keras and Theano; Keras 3 changed hard_sigmoid "
    "to relu6(x + 3) / 6. Weights trained with one are off by up to 0.08 under the other.",
)

define(
    name="sparse_sigmoid",
    fn=sparse_sigmoid,
    grad=sparse_sigmoid_grad,
    summary="The derivative of sparse_plus: 0.5 * clip(x + 1, 0, 2).",
    formula="f(x) = min(max(x + 1, 0), 2) / 2",
    latex=r"f(x) = \tfrac{1}{2}\min(\max(x + 1, 0), 2)",
    output_range=(0.0, 1.0),
    monotonic=True,
    smoothness="C0",
    zero_centred=False,
    kinks=(-1.0, 1.0),
    origin="Blondel, Martins, Niculae (2020), Learning with Fenchel-Young Losses",
    aliases=("SparseSigmoid",),
    class_name="SparseSigmoid",
    frameworks="jax.nn.sparse_sigmoid and Keras 3 sparse_sigmoid.",
)

define(
    name="hard_tanh",
    fn=hard_tanh,
    grad=hard_tanh_grad,
    # not exact=True: x <= 0.1 computed in float32 compares with 0.1f, which moves the
    # kink (x = 0.1f is above 0.1); the wider compute dtype compares with 0.1 itself
    inplace=True,
    check=_check_hard_tanh,
    params=(
        Param("min_val", -1.0, (Interval(),), "lower end of the linear region"),
        Param("max_val", 1.0, (Interval(),), "upper end of the linear region"),
    ),
    summary="Clamp to [min_val, max_val]: the piecewise-linear tanh.",
    formula="f(x) = min(max(x, min_val), max_val)",
    latex=r"f(x) = \min(\max(x, a), b)",
    output_range=(-1.0, 1.0),
    monotonic=True,
    smoothness="C0",
    zero_centred=True,
    kinks=(-1.0, 1.0),
    origin="Collobert (2004), Large Scale Machine Learning (PhD thesis)",
    aliases=("Hardtanh",),
    class_name="Hardtanh",
    torch_twin=TorchTwin(
        "nn.functional.hardtanh", "Hardtanh", inplace=True, aten="hardtanh", audited="exact"
    ),
    frameworks="PyTorch nn.Hardtanh(min_val=-1, max_val=1); jax.nn.hard_tanh and Keras 3 "
    "hard_tanh fix the range to [-1, 1]. Derivative 0 at both ends (PyTorch).",
)

define(
    name="softsign",
    range_attained=(False, False),
    fn=softsign,
    grad=softsign_grad,
    summary="x / (1 + |x|): a sigmoid with polynomial rather than exponential tails.",
    formula="f(x) = x / (1 + |x|)",
    latex=r"f(x) = \frac{x}{1 + |x|}",
    output_range=(-1.0, 1.0),
    monotonic=True,
    smoothness="C1",
    zero_centred=True,
    origin="Elliott (1993), A better activation function for artificial neural networks; "
    "Glorot and Bengio (2010)",
    aliases=("Softsign", "soft_sign"),
    class_name="Softsign",
    torch_twin=TorchTwin("nn.functional.softsign", "Softsign"),
    frameworks="PyTorch nn.Softsign, jax.nn.soft_sign, keras softsign.",
)

define(
    name="exponential",
    range_attained=(False, True),
    fn=exponential,
    grad=exponential,
    grad_from_output=exponential_grad_from_output,
    summary="The exponential e^x (Keras' 'exponential' activation).",
    formula="f(x) = exp(x)",
    latex=r"f(x) = e^{x}",
    output_range=(0.0, INF),
    monotonic=True,
    smoothness="Cinf",
    zero_centred=False,
    origin="-",
    aliases=("exp", "Exponential"),
    class_name="Exponential",
    torch_twin=TorchTwin("exp", aten="exp", audited="bounds"),
    frameworks="Keras 'exponential'; no PyTorch or JAX activation of that name.",
)
