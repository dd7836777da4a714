"""The batched trainer's models: S models of one config, their parameters stacked.

:class:`_MLPStack` runs plain MLPs as batched matmuls over stacked weights, through the
layer sequence :meth:`actlab.lab.models.MLP.layer_sequence` describes (the MLP's own
forward runs the same description), with the backward written out where the
activation has a fast path (:class:`_PlanStep`, :class:`_SlopeStep`). Any other model
runs under ``torch.func.vmap`` (:class:`_VmapStack`). Both evaluate through
:func:`.evaluate._records`.
"""

from __future__ import annotations

import copy
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...torch import functional as AF
from .. import data as data_mod
from ..models import MLPLayer, run_layers
from .config import _weight_names
from .evaluate import _evaluate, _records, _xent_grad


class _VmapStack:
    """Any model: parameters stacked with ``stack_module_state``, run under ``vmap``."""

    def __init__(self, models: list[nn.Module]):
        self.models = models
        params, self.buffers = torch.func.stack_module_state(models)
        base = copy.deepcopy(models[0]).to("meta")
        self.names = list(params)
        self.leaves = [params[k] for k in self.names]
        self.base = base

        def f(p: dict, b: dict, x: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(base, (p, b), (x,))

        self._batched = torch.vmap(f, in_dims=(0, 0, 0), randomness="different")
        self.weight_leaves = [self.names.index(w) for w in _weight_names(models[0])]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.base.train()
        return self._batched(dict(zip(self.names, self.leaves)), self.buffers, x)

    def evaluate(
        self, c: dict[str, Any], ds: data_mod.Dataset, *tensors: torch.Tensor
    ) -> list[dict[str, float]]:
        """Each model's record by :func:`.evaluate._evaluate`, its weights copied back."""
        rows = []
        for s, model in enumerate(self.models):
            with torch.no_grad():
                for k, p in model.named_parameters():
                    p.copy_(self.leaves[self.names.index(k)][s])
                for k, b in model.named_buffers():
                    b.copy_(self.buffers[k][s])
            rows.append(_evaluate(model, c, ds, *tensors))
        return rows


# MKL's batched matmuls at the lab's sizes are several times slower for a width under 16
# than for 16 itself (forward and for the weight gradient alike; widths of 100 are not
# affected), so the stacked output layer is padded with zero columns to a multiple of 16.
# The padding is sliced off before the loss: its gradient is exactly zero, every
# optimizer leaves it at zero, and the models' outputs are those of the unpadded layer.
_OUT_ALIGN = 16


class _MLPStack:
    """Plain MLPs written directly over stacked weights: ``baddbmm`` per layer, no vmap.

    The layers run as :func:`~actlab.lab.models.run_layers` runs the first model's
    :meth:`~actlab.lab.models.MLP.layer_sequence` (which layers, in which order, with a
    norm, an activation, a skip connection), each step computed here over the stacked
    tensors. Weights are held transposed, (S, in, out), so a layer is one batched
    matmul; evaluation runs all S models on the whole data set in one pass, and dead
    units come from the stacked activations. Learnable activation parameters (PReLU's
    slope, a learnable Swish beta) are stacked like the weights.
    """

    def __init__(self, models: list[nn.Module], c: dict[str, Any]):
        self.s = len(models)
        seqs = [m.layer_sequence() for m in models]
        self.layers: tuple[MLPLayer, ...] = seqs[0]
        *hidden, out = self.layers

        def stack(get: Any, transpose: bool = False) -> torch.Tensor:
            """``get(layers)`` of every model's layer sequence, stacked (a leaf)."""
            ts = [get(q).detach() for q in seqs]
            t = torch.stack([x.T if transpose else x for x in ts]).contiguous()
            return t.requires_grad_(True)

        n_hidden = len(hidden)
        self.w = [stack(lambda q, i=i: q[i].linear.weight, True) for i in range(n_hidden)]
        self.b = [stack(lambda q, i=i: q[i].linear.bias[None]) for i in range(n_hidden)]
        # the output layer held with zero columns up to a multiple of _OUT_ALIGN (see there)
        self.n_out = out.linear.weight.shape[0]
        pad = -self.n_out % _OUT_ALIGN
        self.wo = stack(lambda q: F.pad(q[-1].linear.weight.T, (0, pad)))
        self.bo = stack(lambda q: F.pad(q[-1].linear.bias, (0, pad))[None])
        normed = [i for i, layer in enumerate(hidden) if layer.norm is not None]
        self.nw = [stack(lambda q, i=i: q[i].norm.weight[None]) for i in normed]
        self.nb = [stack(lambda q, i=i: q[i].norm.bias[None]) for i in normed]
        # batch norm's running estimates, by layer (not leaves: updated in place)
        self.rm: dict[int, torch.Tensor] = {}
        self.rv: dict[int, torch.Tensor] = {}
        for i in normed:
            if isinstance(hidden[i].norm, nn.BatchNorm1d):
                self.rm[i] = torch.stack([q[i].norm.running_mean[None] for q in seqs])
                self.rv[i] = torch.stack([q[i].norm.running_var[None] for q in seqs])
        self._norm_at = {i: j for j, i in enumerate(normed)}  # layer -> its nw, nb
        # activation parameters: static ones shared, learnable ones stacked to (S, 1, 1)
        self.out_act = out.act
        self.act = hidden[0].act.activation
        self.act_static = {
            k: v for k, v in hidden[0].act._params().items() if not isinstance(v, torch.Tensor)
        }
        self.act_learn: list[dict[str, torch.Tensor]] = []
        for i in range(n_hidden):
            learn = {}
            for k, v in hidden[i].act._params().items():
                if isinstance(v, torch.Tensor):
                    learn[k] = stack(lambda q, i=i, k=k: q[i].act._params()[k].reshape(1, 1))
            self.act_learn.append(learn)
        self.leaves = [
            *self.w,
            *self.b,
            self.wo,
            self.bo,
            *self.nw,
            *self.nb,
            *(t for d in self.act_learn for t in d.values()),
        ]
        self.weight_leaves = [*range(n_hidden), 2 * n_hidden]  # hidden weights, then out

    @staticmethod
    def supports(models: list[nn.Module], c: dict[str, Any]) -> bool:
        from ..models import MLP

        m0 = models[0]
        if not isinstance(m0, MLP) or not m0.acts:
            return False
        *hidden, out = m0.layer_sequence()
        # one scalar per learnable activation parameter (PReLU with one slope, Swish beta)
        if out.act is not None and any(True for _ in out.act.parameters()):
            return False
        return all(p.numel() == 1 for layer in hidden for p in layer.act.parameters())

    # the steps of a layer over the stacked tensors, as run_layers calls them

    def _linear(self, layer: MLPLayer, h: torch.Tensor) -> torch.Tensor:
        """(S, B, out); the output layer's zero-padded to ld columns (see _OUT_ALIGN)."""
        if layer.hidden:
            return torch.baddbmm(self.b[layer.index], h, self.w[layer.index])
        return torch.baddbmm(self.bo, h, self.wo)

    def _norm(self, layer: MLPLayer, z: torch.Tensor, train: bool) -> torch.Tensor:
        j = self._norm_at[layer.index]
        if not isinstance(layer.norm, nn.BatchNorm1d):  # layer norm
            return F.layer_norm(z, z.shape[-1:], eps=layer.norm.eps) * self.nw[j] + self.nb[j]
        i, eps, momentum = layer.index, layer.norm.eps, layer.norm.momentum
        if train:
            mean = z.mean(1, keepdim=True)
            var = z.var(1, unbiased=False, keepdim=True)
            with torch.no_grad():  # PyTorch's running estimates: unbiased var
                n = z.shape[1]
                self.rm[i].lerp_(mean, momentum)
                self.rv[i].lerp_(var * n / max(n - 1, 1), momentum)
        else:
            mean, var = self.rm[i], self.rv[i]
        return (z - mean) / torch.sqrt(var + eps) * self.nw[j] + self.nb[j]

    def _act(self, layer: MLPLayer, z: torch.Tensor, train: bool) -> torch.Tensor:
        if not layer.hidden:  # the output activation, on the outputs without the padding
            return layer.act(z[..., : self.n_out])
        params = {**self.act_static, **self.act_learn[layer.index]}
        return AF.dispatch(self.act, z, params, training=train)

    def _run(self, x: torch.Tensor, train: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The models' outputs for inputs (S, B, ...): (S, B, ld), zero-padded to ld
        columns without an output activation (see _OUT_ALIGN), else (S, B, n_out)
        through it; and the hidden layers' activations."""
        step = partial(self._norm, train=train), partial(self._act, train=train)
        return run_layers(self.layers, x.flatten(2), self._linear, *step)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, train=True)[0][..., : self.n_out]

    def manual_plan(self, x: torch.Tensor) -> _PlanStep | _SlopeStep | None:
        """How :meth:`grads` runs the activation, or None where autograd must train.

        The plain case: no normalization, no output activation, and an activation with
        a fast path for ``x``'s dtype, PReLU's learnable slopes and RReLU's random ones
        included.
        """
        from ... import functions
        from ...torch import fast

        if any(layer.norm is not None for layer in self.layers) or self.out_act is not None:
            return None
        learn = [set(d) for d in self.act_learn]
        rrelu = self.act.name == "rrelu" and not any(learn)
        if rrelu or (self.act.name == "prelu" and all(k == {"weight"} for k in learn)):
            probe = torch.zeros(self.s, 1, 1, dtype=x.dtype)
            if fast.slope_plan(functions.get("prelu"), probe, {"weight": probe}) is None:
                return None
            if rrelu:
                return _SlopeStep(None, self.act_static["lower"], self.act_static["upper"])
            return _SlopeStep([d["weight"] for d in self.act_learn])
        if any(learn) or self.act.stochastic:
            return None
        pl = fast.plan(self.act, x, self.act_static)
        return None if pl is None else _PlanStep(pl)

    @torch.no_grad()
    def grads(self, x: torch.Tensor, y: torch.Tensor, task: str, step: Any) -> list[torch.Tensor]:
        """The gradients of the summed per-model mean losses, in :attr:`leaves` order.

        Forward and backward written out for the plain MLP (see :meth:`manual_plan`):
        the same products autograd would form, without its bookkeeping, which costs a
        quarter of a training step at the lab's sizes. The forward is :meth:`_run`'s
        layer sequence with the activation by ``step``, keeping each layer's input and
        what the activation's backward reads; the backward walks the same sequence in
        reverse. The activation's derivative is the fast path's own backward;
        cross-entropy's gradient is (softmax - one-hot) / batch.
        """
        hs: list[torch.Tensor] = []  # each layer's input, the output layer's last
        saved: list[Any] = []

        def linear(layer: MLPLayer, h: torch.Tensor) -> torch.Tensor:
            hs.append(h)
            return self._linear(layer, h)

        def act(layer: MLPLayer, z: torch.Tensor) -> torch.Tensor:
            a, keep = step.forward(z, layer.index)
            saved.append(keep)
            return a

        # no norm and no output activation here (manual_plan)
        out, _ = run_layers(self.layers, x.flatten(2), linear, None, act)
        o, n = self.n_out, out.shape[1]
        if task == "classification":
            d = _xent_grad(out, y, o)
        else:  # the mean over each model's outputs of the squared error
            d = torch.zeros_like(out)
            d[..., :o] = (out[..., :o] - y).mul_(2.0 / (n * o))
        hidden = self.layers[:-1]
        nh = len(hidden)
        gw, gb, gact = [None] * nh, [None] * nh, [None] * nh
        gwo, gbo = torch.bmm(hs[-1].transpose(1, 2), d), d.sum(1, keepdim=True)
        dh = torch.bmm(d, self.wo.transpose(1, 2))
        for layer in reversed(hidden):
            i = layer.index
            # dh is a fresh product, read again only by a skip connection's gradient
            dz, gact[i] = step.backward(saved[i], dh, overwrite=not layer.skip)
            gw[i] = torch.bmm(hs[i].transpose(1, 2), dz)
            gb[i] = dz.sum(1, keepdim=True)
            if i:
                dh = (
                    torch.baddbmm(dh, dz, self.w[i].transpose(1, 2))
                    if layer.skip
                    else torch.bmm(dz, self.w[i].transpose(1, 2))
                )
        return [*gw, *gb, gwo, gbo, *(g for g in gact if g is not None)]

    @torch.no_grad()
    def evaluate(
        self,
        c: dict[str, Any],
        ds: data_mod.Dataset,
        xtr: torch.Tensor,
        ytr: torch.Tensor,
        xte: torch.Tensor,
        yte: torch.Tensor,
        batch: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every model's :func:`.evaluate._records`, from one batched pass per batch."""
        if batch is None:
            # a layer's activations for a batch of all models in about 1 MB, so that they
            # stay in cache between the matmul and the activation: at the lab's sizes
            # batches of 200-250 evaluated in 30 ms what batches of 2,000 did in 45
            widest = max(w.shape[-1] for w in self.w)
            batch = max(32, (1 << 18) // (self.s * widest))

        def run(x: torch.Tensor, units: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
            return self._run(x.flatten(1).expand(self.s, -1, -1), train=False)

        return _records(run, self.s, self.n_out, c, ds, xtr, ytr, xte, yte, batch)


class _PlanStep:
    """The activation in :meth:`_MLPStack.grads` by its fast plan: keeps what backward reads.

    Where the plan has a fused kernel (f and f' in one pass), forward keeps f'(z) and
    backward is one product: for gelu, silu and mish that pass costs about what the
    backward kernel alone did, as the two share their exponential or Phi.
    """

    def __init__(self, plan: Any):
        self.plan = plan

    def forward(self, z: torch.Tensor, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.plan.fused is not None:
            return self.plan.fused(z)
        a = self.plan.forward(z)
        return a, a if self.plan.saves_output else z

    def backward(
        self, saved: torch.Tensor, g: torch.Tensor, overwrite: bool = False
    ) -> tuple[torch.Tensor, None]:
        """The gradient at the activation's input; ``overwrite``: ``g`` may be reused."""
        if self.plan.fused is not None:
            return (g.mul_(saved) if overwrite else g * saved), None
        return self.plan.backward(saved, g), None


class _SlopeStep:
    """PReLU's per-model learnable slopes, or RReLU's per-element random ones, by the kernels.

    RReLU's draws are AF.dispatch's own (U(lower, upper) from the global generator), so
    the written-out and the autograd training take the same random numbers.
    """

    def __init__(self, weights: list[torch.Tensor] | None, lower: float = 0, upper: float = 0):
        self.weights, self.lower, self.upper = weights, lower, upper

    def forward(self, z: torch.Tensor, i: int) -> tuple[torch.Tensor, tuple]:
        from ... import functions
        from ...torch import fast

        if self.weights is None:
            w = torch.empty_like(z).uniform_(self.lower, self.upper)
        else:
            w = self.weights[i]
        sp = fast.slope_plan(functions.get("prelu"), z, {"weight": w})
        return sp.forward(z, w), (sp, z, w)

    def backward(self, saved: tuple, g: torch.Tensor, overwrite: bool = False) -> tuple:
        """The gradients at the input and of the slopes (``overwrite`` unused: the slope
        kernels write new tensors)."""
        sp, z, w = saved
        return sp.backward(z, w, g, True, self.weights is not None)
