"""PyTorch functional forms of every activation, autograd-correct to any order.

``actlab.functional.<name>(x, **params)`` exists for every catalogue entry and
every activation registered later; it evaluates the one definition in
:mod:`actlab.functions`, with its analytic derivative as the backward.

Example:
    >>> import torch, actlab
    >>> actlab.functional.mish(torch.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8651])
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

from .. import functions
from ..functions import Activation
from . import fast
from .autograd import ElementwiseFn, VectorFn
from .fast import FastFn

__all__ = ["apply", "gelu", "rrelu"]  # the other per-activation functions are added below


def apply(
    act: str | Activation,
    x: torch.Tensor,
    /,
    *,
    inplace: bool = False,
    training: bool = False,
    generator: torch.Generator | None = None,
    **params: Any,
) -> torch.Tensor:
    """Apply activation ``act`` (a name or an :class:`~actlab.functions.Activation`) to ``x``.

    Args:
        act: catalogue name, alias or Activation.
        x: input tensor of any floating dtype and shape (``(*)``).
        inplace: write the result into ``x`` and return ``x`` (as PyTorch's ``inplace=True``).
        training: for stochastic activations (rrelu): draw random slopes.
        generator: random generator for stochastic activations.
        **params: the activation's parameters; numbers are validated, tensors
            (learnable weights) are used as given and receive gradients.

    Example:
        >>> import torch, actlab
        >>> actlab.functional.apply("leaky_relu", torch.tensor([-1.0, 2.0]), negative_slope=0.1)
        tensor([-0.1000,  2.0000])
    """
    act = functions.get(act)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{act.name} expects a torch.Tensor, got {type(x).__name__}")
    if inplace and not act.inplace:
        raise ValueError(f"{act.name} has no in-place form (inplace=True is not supported)")
    return dispatch(act, x, act.resolve(params), inplace, training, generator)


def dispatch(
    act: Activation,
    x: torch.Tensor,
    params: dict[str, Any],
    inplace: bool = False,
    training: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """:func:`apply` without the checks, for callers that validated once already.

    Modules validate their parameters in ``__init__``; their ``forward`` (the hot
    path) comes here with the full, checked parameter dict.
    """
    if act.stochastic and training:
        return _rrelu_train(act, x, params, inplace, generator)
    return _run(act, x, params, inplace)


def _run(act: Activation, x: torch.Tensor, p: dict[str, Any], inplace: bool) -> torch.Tensor:
    if not inplace:
        # float32/half CPU tensors, numeric parameters: compiled or native kernels (None
        # for every other case, also vector and user activations). First, as the hot path.
        plan = fast.plan(act, x, p)
        if plan is not None:
            if x.requires_grad and torch.is_grad_enabled():
                return FastFn.apply(x, plan)
            return plan.forward(x)
    tensor_names = tuple(k for k, v in p.items() if isinstance(v, torch.Tensor))
    if inplace:
        # one pass of a kernel over x's own memory where there is one and x is dense
        plan = fast.plan(act, x, p)
        if plan is not None and plan.inplace is not None and fast.dense(x):
            if not (x.requires_grad and torch.is_grad_enabled()):
                return plan.inplace(x)
            if plan.saves_output and x._base is None:
                return fast.FastInplaceFn.apply(x, plan)
        # A backward that needs the input, which the in-place write destroys, differentiates
        # through a clone instead; one that keeps the output needs no clone, and neither
        # does a call that wants no gradient.
        keeps_input = act.grad_from_output is None or bool(tensor_names)
        grad = torch.is_grad_enabled() and x.requires_grad
        src = x.clone() if grad and keeps_input else x
        return x.copy_(_run(act, src, p, False))
    if act.kind == "vector":
        return VectorFn.apply(x, act, tuple(p.items()))
    if act.grad is None:  # user activation without analytic derivative: plain autograd
        return act._eval(act.fn, x, p)
    if tensor_names:
        sp = fast.slope_plan(act, x, p)  # PReLU with a tensor slope: the prelu kernels
        if sp is not None:
            return fast.SlopeFn.apply(x, p["weight"], sp)
    static = tuple((k, v) for k, v in p.items() if k not in tensor_names)
    return ElementwiseFn.apply(x, act, static, tensor_names, *(p[k] for k in tensor_names))


def _rrelu_train(
    act: Activation,
    x: torch.Tensor,
    p: dict[str, Any],
    inplace: bool,
    generator: torch.Generator | None,
) -> torch.Tensor:
    # Training form of RReLU: one slope per element, drawn from U(lower, upper), then
    # the PReLU definition with that slope tensor (no second copy of the math).
    slope = torch.empty_like(x).uniform_(p["lower"], p["upper"], generator=generator)
    return _run(functions.get("prelu"), x, {"weight": slope}, inplace)


def rrelu(
    x: torch.Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Randomized leaky ReLU, with PyTorch's ``F.rrelu`` signature.

    In training each negative element gets its own slope drawn from
    U(lower, upper); in evaluation the slope is (lower + upper) / 2.

    Example:
        >>> import torch, actlab
        >>> actlab.functional.rrelu(torch.tensor([-3.0, 3.0]), 0.1, 0.3)
        tensor([-0.6000,  3.0000])
    """
    return apply(
        "rrelu",
        x,
        lower=lower,
        upper=upper,
        training=training,
        inplace=inplace,
        generator=generator,
    )


_GELU = {"none": functions.get("gelu"), "tanh": functions.get("gelu_tanh")}


def gelu(x: torch.Tensor, /, approximate: str = "none", *, inplace: bool = False) -> torch.Tensor:
    """gelu(x, approximate='none') -> Tensor

    x Phi(x), as ``torch.nn.functional.gelu``: ``approximate='tanh'`` computes the
    catalogue's other definition, ``gelu_tanh`` (an alias never joins the two).

    Example:
        >>> import torch, actlab
        >>> actlab.functional.gelu(torch.tensor([1.0]), approximate="tanh")
        tensor([0.8412])
    """
    act = _GELU.get(approximate) if isinstance(approximate, str) else None
    if act is None:
        raise functions.InvalidParameterError(
            f"The 'approximate' parameter of gelu must be 'none' or 'tanh'. "
            f"Got {approximate!r} instead."
        )
    return apply(act, x, inplace=inplace)  # which says that gelu has no in-place form


def _make(name: str, *, always_inplace: bool = False) -> Callable[..., torch.Tensor]:
    """``name(x, *params, inplace=False, **params)``: the parameters positional in the
    catalogue's order, which is PyTorch's (``leaky_relu(x, 0.2)`` as in torch), then
    ``inplace`` where the entry has an in-place form. ``always_inplace``: the ``name_``
    form (``elu_``), in place always, as torch's."""
    act = functions.get(name)
    names = [p.name for p in act.params]
    order = names + (["inplace"] if act.inplace and not always_inplace else [])
    label = name + ("_" if always_inplace else "")

    def f(x: torch.Tensor, /, *args: Any, inplace: bool = False, **params: Any) -> torch.Tensor:
        if args:
            if len(args) > len(order):
                raise TypeError(
                    f"{label}() takes at most {len(order)} positional arguments after x "
                    f"({', '.join(order) or 'none'}); got {len(args)}"
                )
            for k, v in zip(order, args):
                if k in params or (k == "inplace" and inplace):
                    raise TypeError(f"{label}() got multiple values for {k!r}")
                if k == "inplace":
                    inplace = v
                else:
                    params[k] = v
        return apply(act, x, inplace=inplace or always_inplace, **params)

    P = inspect.Parameter
    shown = [P("x", P.POSITIONAL_ONLY)]
    shown += [P(p.name, P.POSITIONAL_OR_KEYWORD, default=p.default) for p in act.params]
    if not always_inplace:
        kind = P.POSITIONAL_OR_KEYWORD if "inplace" in order else P.KEYWORD_ONLY
        shown.append(P("inplace", kind, default=False))
    f.__signature__ = inspect.Signature(shown)  # type: ignore[attr-defined]
    f.__name__ = f.__qualname__ = label
    sig = ", ".join(f"{p.name}={p.default!r}" for p in act.params)
    tail = "" if always_inplace else "inplace=False"
    f.__doc__ = (
        f"{label}(x, {', '.join(s for s in (sig, tail) if s)}) -> Tensor\n\n"
        + ("In place: the result is written into x. " if always_inplace else "")
        + f"{act.summary}\n\n    {act.formula}\n\n"
        f"See :func:`actlab.get('{name}')` for parameters, derivative and properties."
    )
    return f


for _name in functions.names():
    if _name not in globals():
        globals()[_name] = _make(_name)
        __all__.append(_name)
    if functions.get(_name).inplace and _name + "_" not in globals():
        globals()[_name + "_"] = _make(_name, always_inplace=True)  # torch's elu_, relu_ ...
        __all__.append(_name + "_")
del _name


def __getattr__(name: str) -> Callable[..., torch.Tensor]:
    """Activations registered after import are reachable here too."""
    in_place = name.endswith("_") and not name.startswith("_")
    try:
        act = functions.get(name[:-1] if in_place else name)
    except KeyError:
        raise AttributeError(f"module 'actlab.functional' has no attribute {name!r}") from None
    if in_place and not act.inplace:  # lookup ignores "_": gelu_ must not be plain gelu
        raise AttributeError(f"{act.name} has no in-place form, so no {name!r}")
    return _make(act.name, always_inplace=in_place)


def autodiff_derivative(act: Activation, x: Any, params: dict[str, Any]) -> Any:
    """f'(x) by torch autograd, for activations registered without an analytic derivative.

    NumPy input comes back as NumPy. Computed in the activation's compute dtype
    (float64 for float32 input), so it is as accurate as the forward formula.
    """
    import numpy as np

    is_torch = isinstance(x, torch.Tensor)
    t = x if is_torch else torch.from_numpy(np.array(x, copy=True))
    wide = torch.float64 if t.dtype in (torch.float32, torch.float64) else torch.float32
    with torch.enable_grad():
        tw = t.detach().to(wide).requires_grad_(True)
        y = act._eval(act.fn, tw, params)
        (g,) = torch.autograd.grad(y.sum(), tw, create_graph=is_torch and t.requires_grad)
    g = g.to(t.dtype)
    return g if is_torch else g.numpy()
