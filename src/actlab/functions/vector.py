"""Activations that mix values along one dimension: the softmax family, sparsemax and GLUs.

They have a Jacobian rather than an elementwise derivative, so each comes with
an analytic vector-Jacobian product ``*_vjp(xp, x, g, dim)`` instead.
"""

from __future__ import annotations

import numbers
from typing import Any

import array_api_compat as aac

from ._array import zero_at_inf
from ._registry import Param, TorchTwin, define
from ._validation import Interval
from .gated import gelu, gelu_grad
from .sigmoidal import sigmoid, sigmoid_grad

INF = float("inf")
_DIM = Param("dim", -1, (Interval(kind=numbers.Integral),), "the dimension it works along")


def _axis(dim: int, ndim: int) -> int:
    if not -ndim <= dim < ndim:
        raise IndexError(f"dim {dim} is out of range for an array of {ndim} dimension(s)")
    return dim % ndim


# permute_dims rather than moveaxis: torch.func.vmap has no batching rule for
# aten::moveaxis, and the autograd Functions' generated vmap rule needs one.
def _last(xp: Any, x: Any, dim: int) -> Any:
    d = _axis(dim, x.ndim)
    return xp.permute_dims(x, (*(i for i in range(x.ndim) if i != d), d))


def _back(xp: Any, x: Any, dim: int) -> Any:
    d = _axis(dim, x.ndim)
    order = list(range(x.ndim - 1))
    order.insert(d, x.ndim - 1)
    return xp.permute_dims(x, tuple(order))


def _split_max(xp: Any, x: Any, dim: int) -> tuple[Any, Any, Any]:
    """z = x - max along dim (moved last), e = exp(z), and a mask of one argmax per row.

    Separating the largest term (whose exponential is exactly 1) is what lets the
    formulas below avoid ``1 + tiny`` and ``g_k - <g, y>`` cancellations when one
    entry dominates.
    """
    z = _last(xp, x, dim)
    z = z - xp.max(z, axis=-1, keepdims=True)  # every exponent <= 0: no overflow
    n = z.shape[-1]
    idx = xp.arange(n, device=aac.device(x))
    top = idx == xp.argmax(z, axis=-1, keepdims=True)
    return z, xp.exp(z), top


def softmax(xp: Any, x: Any, dim: int = -1) -> Any:
    _, e, _ = _split_max(xp, x, dim)
    return _back(xp, e / xp.sum(e, axis=-1, keepdims=True), dim)


def softmax_vjp(xp: Any, x: Any, g: Any, dim: int = -1) -> Any:
    # g_i - <g, y> = (g_i - g_k) + D with D = sum_{j != k} y_j (g_k - g_j), k the argmax:
    # at the dominant entry the result is D itself, with no cancellation against g_k.
    _, e, top = _split_max(xp, x, dim)
    y = e / xp.sum(e, axis=-1, keepdims=True)
    gl = _last(xp, g, dim)
    gk = xp.sum(xp.where(top, gl, 0.0), axis=-1, keepdims=True)
    d = xp.sum(xp.where(top, 0.0, y * (gk - gl)), axis=-1, keepdims=True)
    return _back(xp, y * ((gl - gk) + d), dim)


def log_softmax(xp: Any, x: Any, dim: int = -1) -> Any:
    # x_i - logsumexp = z_i - log1p(sum of the non-max exponentials): log(1 + rest)
    # would round rest away whenever one entry dominates.
    z, e, top = _split_max(xp, x, dim)
    rest = xp.sum(xp.where(top, 0.0, e), axis=-1, keepdims=True)
    return _back(xp, z - xp.log1p(rest), dim)


def log_softmax_vjp(xp: Any, x: Any, g: Any, dim: int = -1) -> Any:
    # g_i - y_i G; at the argmax k: -(G - g_k) + (1 - y_k) G with 1 - y_k = rest / (1 + rest).
    _, e, top = _split_max(xp, x, dim)
    total = xp.sum(e, axis=-1, keepdims=True)
    rest = xp.sum(xp.where(top, 0.0, e), axis=-1, keepdims=True)
    gl = _last(xp, g, dim)
    big_g = xp.sum(gl, axis=-1, keepdims=True)
    others = xp.sum(xp.where(top, 0.0, gl), axis=-1, keepdims=True)
    at_top = (rest / total) * big_g - others
    return _back(xp, xp.where(top, at_top, gl - (e / total) * big_g), dim)


def softmin(xp: Any, x: Any, dim: int = -1) -> Any:
    return softmax(xp, -x, dim)


def softmin_vjp(xp: Any, x: Any, g: Any, dim: int = -1) -> Any:
    return -softmax_vjp(xp, -x, g, dim)


def sparsemax(xp: Any, x: Any, dim: int = -1) -> Any:
    """Euclidean projection onto the simplex (Martins and Astudillo 2016, Algorithm 1)."""
    z = _last(xp, x, dim)
    z = z - xp.max(z, axis=-1, keepdims=True)  # shift-invariant; keeps cumsums small
    zs = xp.flip(xp.sort(z, axis=-1), axis=-1)
    cs = xp.cumulative_sum(zs, axis=-1)
    n = zs.shape[-1]
    k = xp.astype(xp.arange(1, n + 1, device=aac.device(x)), z.dtype)
    support = (1.0 + k * zs) > cs
    kz = xp.sum(xp.astype(support, xp.int64), axis=-1, keepdims=True)
    cs_k = xp.take_along_axis(cs, kz - 1, axis=-1)
    tau = (cs_k - 1.0) / xp.astype(kz, z.dtype)
    return _back(xp, xp.maximum(z - tau, 0.0), dim)


def sparsemax_vjp(xp: Any, x: Any, g: Any, dim: int = -1) -> Any:
    y = _last(xp, sparsemax(xp, x, dim), dim)
    gl = _last(xp, g, dim)
    s = xp.astype(y > 0, gl.dtype)
    k = xp.sum(s, axis=-1, keepdims=True)
    # (k g_i - sum_S g) / k rounds once; g_i - mean rounds the mean first, then cancels.
    return _back(xp, s * (k * gl - xp.sum(gl * s, axis=-1, keepdims=True)) / k, dim)


def _halves(xp: Any, x: Any, dim: int) -> tuple[Any, Any]:
    z = _last(xp, x, dim)
    n = z.shape[-1]
    if n % 2:
        raise ValueError(f"a GLU splits dimension {dim} in two halves, but its size is {n} (odd)")
    return z[..., : n // 2], z[..., n // 2 :]


def _gated(xp: Any, x: Any, dim: int, act: Any) -> Any:
    a, b = _halves(xp, x, dim)
    return _back(xp, a * act(xp, b), dim)


def _gated_vjp(xp: Any, x: Any, g: Any, dim: int, act: Any, act_grad: Any) -> Any:
    a, b = _halves(xp, x, dim)
    gl = _last(xp, g, dim)
    return _back(xp, xp.concat([gl * act(xp, b), gl * a * act_grad(xp, b)], axis=-1), dim)


def _silu(xp: Any, b: Any) -> Any:
    return zero_at_inf(xp, b, b * sigmoid(xp, b))


def _silu_grad(xp: Any, b: Any) -> Any:
    return sigmoid(xp, b) + zero_at_inf(xp, b, b * sigmoid_grad(xp, b))


def glu(xp: Any, x: Any, dim: int = -1) -> Any:
    return _gated(xp, x, dim, sigmoid)


def glu_vjp(xp: Any, x: Any, g: Any, dim: int = -1) -> Any:
    return _gated_vjp(xp, x, g, dim, sigmoid, sigmoid_grad)


def swiglu(xp: Any, x: Any, dim: int = -1) -> Any:
    return _gated(xp, x, dim, _silu)


def swiglu_vjp(xp: Any, x: Any, g: Any, dim: int = -1) -> Any:
    return _gated_vjp(xp, x, g, dim, _silu, _silu_grad)


def geglu(xp: Any, x: Any, dim: int = -1) -> Any:
    return _gated(xp, x, dim, gelu)


def geglu_vjp(xp: Any, x: Any, g: Any, dim: int = -1) -> Any:
    return _gated_vjp(xp, x, g, dim, gelu, gelu_grad)


_PROB = dict(output_range=(0.0, 1.0), monotonic=None, smoothness="Cinf", zero_centred=False)

define(
    name="softmax",
    range_attained=(False, False),
    fn=softmax,
    vjp_fn=softmax_vjp,
    kind="vector",
    params=(_DIM,),
    summary="Normalised exponentials along dim: a probability distribution.",
    formula="f(x)_i = exp(x_i) / sum_j exp(x_j)",
    latex=r"f(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}}",
    origin="Bridle (1990), Probabilistic Interpretation of Feedforward Classification "
    "Network Outputs",
    aliases=("Softmax",),
    class_name="Softmax",
    torch_twin=TorchTwin("nn.functional.softmax", "Softmax"),
    frameworks="PyTorch nn.Softmax(dim) (an implicit dim is deprecated there; -1 here), "
    "keras softmax(axis=-1), jax.nn.softmax(axis=-1). nn.Softmax2d is softmax(dim=-3).",
    **_PROB,
)

define(
    name="log_softmax",
    fn=log_softmax,
    vjp_fn=log_softmax_vjp,
    kind="vector",
    params=(_DIM,),
    summary="log(softmax(x)) computed as x - logsumexp(x), never log(0).",
    formula="f(x)_i = x_i - log(sum_j exp(x_j))",
    latex=r"f(x)_i = x_i - \log\sum_j e^{x_j}",
    output_range=(-INF, 0.0),
    monotonic=None,
    smoothness="Cinf",
    zero_centred=False,
    origin="-",
    aliases=("LogSoftmax",),
    class_name="LogSoftmax",
    torch_twin=TorchTwin("nn.functional.log_softmax", "LogSoftmax"),
    frameworks="PyTorch nn.LogSoftmax(dim), jax.nn.log_softmax, keras log_softmax.",
)

define(
    name="softmin",
    range_attained=(False, False),
    fn=softmin,
    vjp_fn=softmin_vjp,
    kind="vector",
    params=(_DIM,),
    summary="softmax(-x): weights that favour the smallest values.",
    formula="f(x)_i = exp(-x_i) / sum_j exp(-x_j)",
    latex=r"f(x)_i = \frac{e^{-x_i}}{\sum_j e^{-x_j}}",
    origin="-",
    aliases=("Softmin",),
    class_name="Softmin",
    torch_twin=TorchTwin("nn.functional.softmin", "Softmin"),
    frameworks="PyTorch nn.Softmin(dim); no Keras or JAX op.",
    **_PROB,
)

define(
    name="sparsemax",
    fn=sparsemax,
    vjp_fn=sparsemax_vjp,
    kind="vector",
    params=(_DIM,),
    summary="Euclidean projection onto the probability simplex: a softmax with exact zeros.",
    formula="f(x) = argmin_{p in simplex} ||p - x||^2 = max(x - tau(x), 0)",
    latex=r"f(x) = \operatorname*{argmin}_{p \in \Delta} \lVert p - x \rVert^2",
    output_range=(0.0, 1.0),
    monotonic=None,
    smoothness="C0",
    zero_centred=False,
    origin="Martins and Astudillo (2016), From Softmax to Sparsemax: A Sparse Model of "
    "Attention and Multi-Label Classification",
    aliases=("Sparsemax",),
    class_name="Sparsemax",
    frameworks="Keras 3 sparsemax(axis=-1); no PyTorch or JAX op.",
)

_GLU = dict(kind="vector", params=(_DIM,), monotonic=None, zero_centred=False)

define(
    name="glu",
    fn=glu,
    vjp_fn=glu_vjp,
    summary="Gated linear unit: first half times sigmoid of the second half along dim.",
    formula="f(x) = a * sigmoid(b), (a, b) = halves of x along dim",
    latex=r"f(a, b) = a \otimes \sigma(b)",
    output_range=(-INF, INF),
    smoothness="Cinf",
    origin="Dauphin, Fan, Auli, Grangier (2017), Language Modeling with Gated Convolutional "
    "Networks",
    aliases=("GLU",),
    class_name="GLU",
    torch_twin=TorchTwin("nn.functional.glu", "GLU"),
    frameworks="PyTorch F.glu(x, dim=-1), jax.nn.glu(x, axis=-1), keras glu(x, axis=-1): "
    "the same split (the second half is the gate). Output is half the size along dim.",
    **_GLU,
)

define(
    name="swiglu",
    fn=swiglu,
    vjp_fn=swiglu_vjp,
    summary="GLU with a SiLU gate: a * silu(b), halves along dim.",
    formula="f(x) = a * silu(b), (a, b) = halves of x along dim",
    latex=r"f(a, b) = a \otimes \operatorname{SiLU}(b)",
    output_range=(-INF, INF),
    smoothness="Cinf",
    origin="Shazeer (2020), GLU Variants Improve Transformer",
    aliases=("SwiGLU",),
    class_name="SwiGLU",
    frameworks="No framework op. Like glu, the second half passes through the activation; "
    "fused 'gate_up' projections in LLM code (vLLM's SiluAndMul) gate the first half: "
    "swap the halves to match them.",
    **_GLU,
)

define(
    name="geglu",
    fn=geglu,
    vjp_fn=geglu_vjp,
    summary="GLU with an exact-GELU gate: a * gelu(b), halves along dim.",
    formula="f(x) = a * gelu(b), (a, b) = halves of x along dim",
    latex=r"f(a, b) = a \otimes \operatorname{GELU}(b)",
    output_range=(-INF, INF),
    smoothness="Cinf",
    origin="Shazeer (2020), GLU Variants Improve Transformer",
    aliases=("GeGLU", "GEGLU"),
    class_name="GeGLU",
    frameworks="No framework op; same layout as swiglu (second half gated).",
    **_GLU,
)
