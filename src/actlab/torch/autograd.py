"""torch.autograd Functions that run the catalogue's definitions.

Forward evaluates ``Activation.fn``; backward evaluates the analytic
derivative (or vjp) with differentiable torch operations, so higher-order
gradients (``gradgradcheck``, Hessian-vector products) are exact too rather than
the zeros a non-differentiable backward would give. ``generate_vmap_rule``
lets ``torch.func.vmap`` batch them (the multi-seed trainer relies on it).
"""

from __future__ import annotations

from typing import Any

import torch

from ..functions import Activation


def _params(static: tuple, names: tuple, tensors: tuple) -> dict[str, Any]:
    p = dict(static)
    p.update(zip(names, tensors))
    return p


def _not_input(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # identity (and a same-dtype no-op cast) hands back the input itself, which autograd
    # cannot both return and save; a view of it is what it asks for.
    return y.view_as(y) if y is x else y


def _sum_to(t: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Reduce a broadcast gradient back to a parameter's shape."""
    while t.dim() > len(shape):
        t = t.sum(0)
    for i, n in enumerate(shape):
        if n == 1 and t.shape[i] != 1:
            t = t.sum(i, keepdim=True)
    return t


class ElementwiseFn(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, act: Activation, static: tuple, names: tuple, *tensors: Any):
        return _not_input(act._eval(act.fn, x, _params(static, names, tensors)), x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        x, act, static, names, *tensors = inputs
        ctx.act, ctx.static, ctx.names = act, static, names
        # Keep the output rather than the input where the derivative reads it losslessly
        # (the ReLU family): the next layer usually keeps it anyway. Parameter gradients
        # (a learnable slope) need the input itself.
        ctx.from_output = act.grad_from_output is not None and not tensors
        ctx.save_for_backward(output if ctx.from_output else x, *tensors)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor):
        x, *tensors = ctx.saved_tensors  # the output, when ctx.from_output
        act: Activation = ctx.act
        p = _params(ctx.static, ctx.names, tuple(tensors))
        grad = act.grad_from_output if ctx.from_output else act.grad
        gx = g * act._eval(grad, x, p) if ctx.needs_input_grad[0] else None
        grads = []
        for name, t, need in zip(ctx.names, tensors, ctx.needs_input_grad[4:]):
            grads.append(
                _sum_to(g * act._eval(act.param_grads[name], x, p), t.shape) if need else None
            )
        return (gx, None, None, None, *grads)


class VectorFn(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, act: Activation, static: tuple):
        return _not_input(act._eval(act.fn, x, dict(static)), x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        x, act, static = inputs
        ctx.act, ctx.static = act, static
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor):
        (x,) = ctx.saved_tensors
        return ctx.act.vjp(x, g, **dict(ctx.static)), None, None
