"""The optimizers of the batched trainer: one update over every model's stacked parameters."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


class _BatchedOptimizer:
    """SGD, momentum, Adam and Adagrad over stacked parameters with one learning rate per model.

    Adam with one learning rate for all models runs as ``torch._fused_adam_``. Otherwise
    the update formulas are torch.optim's (defaults: momentum without dampening,
    Adam betas (0.9, 0.999), eps 1e-8; Adagrad eps 1e-10), applied elementwise, in
    the order of its single-tensor implementation. The gradients are concatenated
    into one flat vector and the state is kept flat, so that a step is about ten
    tensor operations whatever the number of parameters: at the sizes the lab trains
    (a step's arithmetic takes a millisecond) the per-operation overhead of updating
    each parameter on its own would be a tenth of the training time.
    """

    def __init__(
        self,
        params: list[torch.Tensor],
        kind: str,
        lr: torch.Tensor,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
    ):
        self.params, self.kind, self.momentum, self.wd = params, kind, momentum, weight_decay
        self.numels = [p.numel() for p in params]
        self.state: dict[str, torch.Tensor] = {}
        self.t = 0
        # one learning rate for every model: Adam can run as PyTorch's fused CPU kernel
        # (one pass over all parameters instead of the ten tensor operations below; the
        # same formulas, rounded in another order: tests/test_trainer.py holds it to
        # torch.optim.Adam)
        self.fused = kind == "adam" and bool((lr == lr[0]).all()) and hasattr(torch, "_fused_adam_")
        if self.fused:
            self.lr0 = float(lr[0])
            self.m = [torch.zeros_like(p) for p in params]
            self.v = [torch.zeros_like(p) for p in params]
            # one step count for every parameter (the kernel only reads it): one add a
            # step instead of a _foreach_add_ over a list
            self.step_count = torch.zeros((), dtype=torch.float32)
            self.steps = [self.step_count] * len(params)
            return
        # every parameter is stacked over the models on dimension 0: each element's lr
        self.lr = torch.cat([lr.to(p.dtype).repeat_interleave(p[0].numel()) for p in params])

    def _zeros(self, key: str) -> torch.Tensor:
        if key not in self.state:
            self.state[key] = torch.zeros_like(self.lr)
        return self.state[key]

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor]) -> None:
        self.t += 1
        if self.fused:
            self.step_count.add_(1.0)
            # the fused kernel walks a gradient in its parameter's memory order: a
            # gradient laid out otherwise (vmap's, for a conv net's last layer) would be
            # applied to the wrong elements
            grads = [g if g.stride() == p.stride() else torch.empty_like(p).copy_(g)
                     for g, p in zip(grads, self.params)]  # fmt: skip
            torch._fused_adam_(
                self.params, grads, self.m, self.v, [], self.steps,
                lr=self.lr0, beta1=0.9, beta2=0.999, weight_decay=self.wd, eps=1e-8,
                amsgrad=False, maximize=False,
            )  # fmt: skip
            return
        g = torch.cat([t.reshape(-1) for t in grads])
        if self.wd:
            g = g.add(torch.cat([p.reshape(-1) for p in self.params]), alpha=self.wd)
        if self.kind == "sgd":
            upd = self.lr * g
        elif self.kind == "momentum":
            buf = self.state.get("buf")
            buf = g.clone() if buf is None else buf.mul_(self.momentum).add_(g)
            self.state["buf"] = buf
            upd = self.lr * buf
        elif self.kind == "adam":
            m, v = self._zeros("m"), self._zeros("v")
            m.lerp_(g, 0.1)
            v.mul_(0.999).addcmul_(g, g, value=0.001)
            bc1 = 1 - 0.9**self.t
            bc2 = 1 - 0.999**self.t
            denom = (v.sqrt() / math.sqrt(bc2)).add_(1e-8)
            upd = (self.lr / bc1) * m / denom
        else:  # adagrad
            s = self._zeros("sum")
            s.addcmul_(g, g, value=1.0)
            upd = self.lr * g / s.sqrt().add_(1e-10)
        steps = [u.view_as(p) for u, p in zip(upd.split(self.numels), self.params)]
        torch._foreach_sub_(self.params, steps)
