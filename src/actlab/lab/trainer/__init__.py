"""Training: a plain one-model loop (the reference) and a batched trainer for many seeds at once.

:func:`train_group` trains every config of a group (configs equal except for
``seed`` and ``lr``) in one pass: their weights are stacked, so S models cost one
batched matmul per layer instead of S small ones. Plain MLPs run as batched matmuls
with their backward written out (``_MLPStack``); any other model runs under
``torch.func.vmap`` with ``stack_module_state`` and autograd (``_VmapStack``). Each model
keeps its own initialisation (built under ``torch.manual_seed(seed)``), its
own shuffling (a generator seeded with ``seed``) and its own learning rate,
so every model follows, to float rounding, the path :func:`train_plain` takes
for the same config. The optimizers are elementwise, so stacking cannot couple
the models.

Example:
    >>> from actlab.lab import trainer
    >>> cfg = dict(data="moons", hidden=[16], activation="relu", epochs=2, batch_size=50)
    >>> [r.config["seed"] for r in trainer.train_group([{**cfg, "seed": s} for s in (0, 1)])]
    [0, 1]
"""

from __future__ import annotations

import copy
import math
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..functions import Interval
from ..functions._validation import check_param
from ..torch import kernels as _kernels
from ..torch.nn import ActivationModule
from . import data as data_mod
from .models import build

__all__ = [
    "DEFAULTS",
    "FIT_OPTIMIZERS",
    "OPTIMIZERS",
    "Result",
    "fit",
    "group_key",
    "resolve",
    "train_group",
    "train_plain",
]

DEFAULTS: dict[str, Any] = {
    "data": "mnist1d",
    "data_seed": 0,
    "standardize": True,
    "shift_mean": 0.0,
    "shift_scale": 1.0,
    "model": "mlp",
    "hidden": [100, 100],
    "activation": "relu",
    "init": "torch",
    "norm": None,
    "residual": False,
    "output": None,
    "optimizer": "adam",
    "lr": 0.01,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "batch_size": 100,
    "epochs": 50,
    "seed": 0,
    "eval_noise": 0.0,
}
OPTIMIZERS = ("sgd", "momentum", "adam", "adagrad")
#: Keys that may differ inside one batched group.
PER_MODEL = ("seed", "lr")


@dataclass
class Result:
    """One trained model: its config, per-epoch history and summary."""

    config: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def final(self) -> dict[str, Any]:
        return self.history[-1] if self.history else {}

    def summary(self) -> dict[str, Any]:
        f = self.final
        return {
            "final_train_loss": f.get("train_loss"),
            "final_test_loss": f.get("test_loss"),
            "final_train_acc": f.get("train_acc"),
            "final_test_acc": f.get("test_acc"),
            "final_dead_fraction": f.get("dead_fraction"),
            "seconds": self.seconds,
        }


def resolve(config: dict[str, Any]) -> dict[str, Any]:
    """The config with defaults filled in and values checked (clear errors, no deep tracebacks)."""
    unknown = set(config) - set(DEFAULTS) - {"channels", "name"}
    if unknown:
        raise ValueError(f"unknown trial setting(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    c = {**DEFAULTS, **config}
    if c["optimizer"] not in OPTIMIZERS:
        raise ValueError(
            f"The 'optimizer' setting must be one of {', '.join(OPTIMIZERS)}. "
            f"Got {c['optimizer']!r} instead."
        )
    for key, low in (("lr", 0), ("batch_size", 1), ("epochs", 0), ("eval_noise", 0)):
        v = c[key]
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or v < low
            or (key == "lr" and v == 0)
        ):
            raise ValueError(
                f"The {key!r} setting must be a number >= {low}"
                f"{' (and > 0)' if key == 'lr' else ''}. Got {v!r} instead."
            )
    from .. import create

    create(c["activation"])  # validates the spec early, with the catalogue's message
    if c["output"] is not None:
        create(c["output"])
    return c


def group_key(config: dict[str, Any]) -> str:
    """Configs with the same key can be trained together by :func:`train_group`."""
    c = resolve(config)
    return repr(sorted((k, repr(v)) for k, v in c.items() if k not in PER_MODEL))


_DATA_CACHE: dict[tuple, tuple] = {}


def _tensors(c: dict[str, Any]) -> tuple[data_mod.Dataset, torch.Tensor, ...]:
    key = (c["data"], c["data_seed"], c["standardize"], c["shift_mean"], c["shift_scale"])
    if key not in _DATA_CACHE:
        ds = data_mod.load(c["data"], seed=c["data_seed"], standardize=c["standardize"])
        if c["shift_mean"] != 0.0 or c["shift_scale"] != 1.0:
            ds = ds.shift(c["shift_mean"], c["shift_scale"])
        t = [torch.from_numpy(a) for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test)]
        if len(_DATA_CACHE) > 8:
            _DATA_CACHE.clear()
        _DATA_CACHE[key] = (ds, *t)
    return _DATA_CACHE[key]


def _loss(out: torch.Tensor, y: torch.Tensor, task: str) -> torch.Tensor:
    if task == "classification":
        return F.cross_entropy(out, y)
    return F.mse_loss(out, y)


def _make_model(c: dict[str, Any], ds: data_mod.Dataset) -> nn.Module:
    torch.manual_seed(c["seed"])
    return build(c, ds.input_shape, ds.n_outputs)


def _weight_names(model: nn.Module) -> list[str]:
    """Parameters whose gradient norms are recorded: the weights of Linear/Conv layers, in order."""
    return [
        f"{n}.weight"
        for n, m in model.named_modules()
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))
    ]


def _act_modules(model: nn.Module) -> list[nn.Module]:
    """The hidden activations (an output activation, if any, is not a hidden unit)."""
    out_act = getattr(model, "out_act", None)
    return [m for m in model.modules() if isinstance(m, ActivationModule) and m is not out_act]


def _noisy(x: torch.Tensor, c: dict[str, Any]) -> torch.Tensor:
    """The test inputs with Gaussian noise of std ``eval_noise`` (same noise for every model)."""
    gen = torch.Generator().manual_seed(10_007 + int(c["data_seed"]))
    return x + c["eval_noise"] * torch.randn(x.shape, generator=gen, dtype=x.dtype)


def _unit_stats(alive: list[torch.Tensor], zeros: float, count: float) -> dict[str, Any]:
    """Dead fraction, the dead units' indices per layer, and the fraction of zero activations."""
    units = sum(a.numel() for a in alive)
    return {
        "dead_fraction": sum(int((~a).sum()) for a in alive) / units if units else 0.0,
        "dead_units": [torch.nonzero(~a.flatten()).flatten().tolist() for a in alive],
        "sparsity": zeros / count if count else 0.0,
    }


@torch.no_grad()
def _evaluate(
    model: nn.Module, c: dict[str, Any], ds: data_mod.Dataset, xtr, ytr, xte, yte, batch: int = 2000
) -> dict[str, float]:
    """Loss and accuracy on train and test sets, and the state of the hidden units.

    A unit (a feature, or a conv channel) is dead when its activation output is exactly
    zero for every training example; ``sparsity`` is the fraction of hidden activations
    on the training set that are exactly zero; ``noise_acc`` (when ``eval_noise > 0``)
    the test accuracy with Gaussian noise added to the inputs.
    """
    was_training = model.training
    model.eval()
    alive: list[torch.Tensor | None] = []
    zeros = [0.0, 0.0]  # zero activations, all activations
    hooks = []
    for i, m in enumerate(_act_modules(model)):
        alive.append(None)

        def hook(_m, _inp, out, i=i):
            nz = (out != 0).flatten(2).any(2) if out.dim() > 2 else out != 0
            a = nz.any(0)
            alive[i] = a if alive[i] is None else alive[i] | a
            zeros[0] += float((out == 0).sum())
            zeros[1] += out.numel()

        hooks.append(m.register_forward_hook(hook))
    try:
        res = {}
        splits = [("train", xtr, ytr), ("test", xte, yte)]
        if c["eval_noise"] > 0:
            splits.append(("noise", _noisy(xte, c), yte))
        for split, x, y in splits:
            if split != "train":
                for h in hooks:
                    h.remove()
                hooks = []
            total, correct, n = 0.0, 0, x.shape[0]
            for i in range(0, n, batch):
                out = model(x[i : i + batch])
                yy = y[i : i + batch]
                if ds.task == "classification":
                    total += float(F.cross_entropy(out, yy, reduction="sum"))
                    correct += int((out.argmax(1) == yy).sum())
                else:
                    total += float(F.mse_loss(out, yy, reduction="sum")) / yy.shape[1]
            res[f"{split}_loss"] = total / n
            res[f"{split}_acc"] = correct / n if ds.task == "classification" else float("nan")
        res.update(_unit_stats([a for a in alive if a is not None], *zeros))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return res


def train_plain(config: dict[str, Any]) -> Result:
    """Train one model the ordinary way: the reference :func:`train_group` must reproduce."""
    c = resolve(config)
    ds, xtr, ytr, xte, yte = _tensors(c)
    t0 = time.perf_counter()
    model = _make_model(c, ds)
    params = list(model.parameters())
    wd = c["weight_decay"]
    opt = {
        "sgd": lambda: torch.optim.SGD(params, lr=c["lr"], weight_decay=wd),
        "momentum": lambda: torch.optim.SGD(
            params, lr=c["lr"], momentum=c["momentum"], weight_decay=wd
        ),
        "adam": lambda: torch.optim.Adam(params, lr=c["lr"], weight_decay=wd),
        "adagrad": lambda: torch.optim.Adagrad(params, lr=c["lr"], weight_decay=wd),
    }[c["optimizer"]]()
    gen = torch.Generator().manual_seed(c["seed"])
    wnames = _weight_names(model)
    named = dict(model.named_parameters())
    n, bs = xtr.shape[0], c["batch_size"]
    result = Result(c)
    for epoch in range(1, c["epochs"] + 1):
        perm = torch.randperm(n, generator=gen)
        gsum = torch.zeros(len(wnames))
        steps = 0
        model.train()
        for i in range(0, n, bs):
            idx = perm[i : i + bs]
            loss = _loss(model(xtr[idx]), ytr[idx], ds.task)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gsum += torch.stack([named[w].grad.norm() for w in wnames])
            opt.step()
            steps += 1
        row = {
            "epoch": epoch,
            **_evaluate(model, c, ds, xtr, ytr, xte, yte),
            "grad_norms": (gsum / steps).tolist(),
        }
        result.history.append(row)
    result.seconds = time.perf_counter() - t0
    return result


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
            torch._fused_adam_(
                self.params, list(grads), self.m, self.v, [], self.steps,
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

    Weights are held transposed, (S, in, out), so a layer is one batched matmul;
    evaluation runs all S models on the whole data set in one pass, and dead units
    come from the stacked activations. Learnable activation parameters (PReLU's
    slope, a learnable Swish beta) are stacked like the weights.
    """

    def __init__(self, models: list[nn.Module], c: dict[str, Any]):
        m0 = models[0]
        self.s = len(models)
        self.norm, self.residual = c["norm"], bool(c["residual"])

        def stack(get: Any, transpose: bool = False) -> torch.Tensor:
            ts = [get(m).detach() for m in models]
            t = torch.stack([x.T if transpose else x for x in ts]).contiguous()
            return t.requires_grad_(True)

        n_hidden = len(m0.layers)
        self.w = [stack(lambda m, i=i: m.layers[i].weight, True) for i in range(n_hidden)]
        self.b = [stack(lambda m, i=i: m.layers[i].bias[None]) for i in range(n_hidden)]
        # the output layer held with zero columns up to a multiple of _OUT_ALIGN (see there)
        self.n_out = m0.out.weight.shape[0]
        pad = -self.n_out % _OUT_ALIGN
        self.wo = stack(lambda m: F.pad(m.out.weight.T, (0, pad)))
        self.bo = stack(lambda m: F.pad(m.out.bias, (0, pad))[None])
        self.nw, self.nb, self.rm, self.rv = [], [], [], []
        if self.norm is not None:
            self.nw = [stack(lambda m, i=i: m.norms[i].weight[None]) for i in range(n_hidden)]
            self.nb = [stack(lambda m, i=i: m.norms[i].bias[None]) for i in range(n_hidden)]
            if self.norm == "batch":
                self.rm = [
                    torch.stack([m.norms[i].running_mean[None] for m in models])
                    for i in range(n_hidden)
                ]
                self.rv = [
                    torch.stack([m.norms[i].running_var[None] for m in models])
                    for i in range(n_hidden)
                ]
        # activation parameters: static ones shared, learnable ones stacked to (S, 1, 1)
        self.out_act = m0.out_act
        self.act = m0.acts[0].activation
        self.act_static = {
            k: v for k, v in m0.acts[0]._params().items() if not isinstance(v, torch.Tensor)
        }
        self.act_learn: list[dict[str, torch.Tensor]] = []
        for i in range(n_hidden):
            learn = {}
            for k, v in m0.acts[i]._params().items():
                if isinstance(v, torch.Tensor):
                    learn[k] = stack(lambda m, i=i, k=k: m.acts[i]._params()[k].reshape(1, 1))
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
        from .models import MLP

        m0 = models[0]
        if not isinstance(m0, MLP) or not m0.acts:
            return False
        # one scalar per learnable activation parameter (PReLU with one slope, Swish beta)
        if m0.out_act is not None and any(True for _ in m0.out_act.parameters()):
            return False
        return all(p.numel() == 1 for a in m0.acts for p in a.parameters())

    def _output(self, h: torch.Tensor) -> torch.Tensor:
        """The models' outputs: (S, B, ld), zero-padded to ld columns without an output
        activation (see _OUT_ALIGN), else (S, B, n_out) through it."""
        out = torch.baddbmm(self.bo, h, self.wo)
        return out if self.out_act is None else self.out_act(out[..., : self.n_out])

    def _hidden(self, x: torch.Tensor, train: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        from ..torch import functional as AF

        h = x.flatten(2)
        acts = []
        for i, (w, b) in enumerate(zip(self.w, self.b)):
            z = torch.baddbmm(b, h, w)
            if self.norm == "layer":
                z = F.layer_norm(z, z.shape[-1:]) * self.nw[i] + self.nb[i]
            elif self.norm == "batch":
                z = self._batch_norm(z, i, train)
            a = AF.dispatch(self.act, z, {**self.act_static, **self.act_learn[i]}, training=train)
            acts.append(a)
            h = h + a if self.residual and a.shape == h.shape else a
        return h, acts

    def _batch_norm(self, z: torch.Tensor, i: int, train: bool) -> torch.Tensor:
        if train:
            mean = z.mean(1, keepdim=True)
            var = z.var(1, unbiased=False, keepdim=True)
            with torch.no_grad():  # PyTorch's running estimates: momentum 0.1, unbiased var
                n = z.shape[1]
                self.rm[i].lerp_(mean, 0.1)
                self.rv[i].lerp_(var * n / max(n - 1, 1), 0.1)
        else:
            mean, var = self.rm[i], self.rv[i]
        return (z - mean) / torch.sqrt(var + 1e-5) * self.nw[i] + self.nb[i]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self._hidden(x, train=True)
        return self._output(h)[..., : self.n_out]

    def manual_plan(self, x: torch.Tensor) -> _PlanStep | _SlopeStep | None:
        """How :meth:`grads` runs the activation, or None where autograd must train.

        The plain case: no normalization, no output activation, and an activation with
        a fast path for ``x``'s dtype, PReLU's learnable slopes and RReLU's random ones
        included.
        """
        from .. import functions
        from ..torch import fast

        if self.norm is not None or self.out_act is not None:
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
        quarter of a training step at the lab's sizes. The activation's derivative is the
        fast path's own backward; cross-entropy's gradient is (softmax - one-hot) / batch.
        """
        hs, saved = [x.flatten(2)], []
        for i, (w, b) in enumerate(zip(self.w, self.b)):
            a, keep = step.forward(torch.baddbmm(b, hs[-1], w), i)
            saved.append(keep)
            hs.append(hs[-1] + a if self.residual and a.shape == hs[-1].shape else a)
        out = torch.baddbmm(self.bo, hs[-1], self.wo)
        o, n = self.n_out, out.shape[1]
        if task == "classification":
            d = _xent_grad(out, y, o)
        else:  # the mean over each model's outputs of the squared error
            d = torch.zeros_like(out)
            d[..., :o] = (out[..., :o] - y).mul_(2.0 / (n * o))
        nh = len(self.w)
        gw, gb, gact = [None] * nh, [None] * nh, [None] * nh
        gwo, gbo = torch.bmm(hs[-1].transpose(1, 2), d), d.sum(1, keepdim=True)
        dh = torch.bmm(d, self.wo.transpose(1, 2))
        for i in reversed(range(nh)):
            skip = self.residual and hs[i + 1].shape == hs[i].shape
            # dh is a fresh product, read again only by a skip connection's gradient
            dz, gact[i] = step.backward(saved[i], dh, overwrite=not skip)
            gw[i] = torch.bmm(hs[i].transpose(1, 2), dz)
            gb[i] = dz.sum(1, keepdim=True)
            if i:
                dh = (
                    torch.baddbmm(dh, dz, self.w[i].transpose(1, 2))
                    if skip
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
    ) -> list[dict[str, float]]:
        if batch is None:
            # a layer's activations for a batch of all models in about 1 MB, so that they
            # stay in cache between the matmul and the activation: at the lab's sizes
            # batches of 200-250 evaluated in 30 ms what batches of 2,000 did in 45
            widest = max(w.shape[-1] for w in self.w)
            batch = max(32, (1 << 18) // (self.s * widest))
        res: list[dict[str, float]] = [{} for _ in range(self.s)]
        alive = None
        zeros = torch.zeros(self.s, dtype=torch.float64)
        count = 0
        splits = [("train", xtr, ytr), ("test", xte, yte)]
        if c["eval_noise"] > 0:
            splits.append(("noise", _noisy(xte, c), yte))
        for split, x, y in splits:
            total = torch.zeros(self.s, dtype=torch.float64)
            correct = torch.zeros(self.s, dtype=torch.int64)
            n = x.shape[0]
            for i in range(0, n, batch):
                xb = x[i : i + batch].flatten(1).expand(self.s, -1, -1)
                h, acts = self._hidden(xb, train=False)
                out = self._output(h)
                yb = y[i : i + batch]
                if ds.task == "classification":
                    loss, hits = _xent_eval(out, yb, self.n_out)
                    total += loss
                    correct += hits
                else:
                    d = out[..., : self.n_out] - yb
                    total += (d**2).mean(2).sum(1, dtype=torch.float64)
                if split == "train":
                    nz = [_nonzero_counts(a) for a in acts]  # (S, units) per layer
                    alive_b = [k != 0 for k in nz]
                    alive = alive_b if alive is None else [p | q for p, q in zip(alive, alive_b)]
                    zeros += sum(a.shape[1] * k.shape[1] - k.sum(1) for a, k in zip(acts, nz))
                    count += sum(a[0].numel() for a in acts)
            for s in range(self.s):
                res[s][f"{split}_loss"] = float(total[s]) / n
                res[s][f"{split}_acc"] = (
                    float(correct[s]) / n if ds.task == "classification" else float("nan")
                )
        for s in range(self.s):
            res[s].update(_unit_stats([a[s] for a in alive], float(zeros[s]), count))
        return res


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
        from .. import functions
        from ..torch import fast

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


def _xent_kernel(z: torch.Tensor, y: torch.Tensor) -> Any:
    """The compiled softmax cross-entropy for these logits and labels, or None."""
    ok = z.dtype == torch.float32 and z.is_cpu and z.is_contiguous() and y.dtype == torch.int64
    ok = ok and y.stride(-1) == 1 and z.shape[-1] <= 4096  # a row on the kernel's stack
    return _kernels.softmax_xent_function() if ok else None


def _xent_grad(out: torch.Tensor, y: torch.Tensor, o: int) -> torch.Tensor:
    """(softmax - one-hot) / batch over each row's first ``o`` logits, zero in the padding.

    The gradient of the summed per-model mean cross-entropies for logits ``out`` (S, B, ld)
    and labels ``y`` (S, B). One pass of a compiled kernel where there is one, instead of
    PyTorch's softmax, scatter and division (three passes and their temporaries).
    """
    n = out.shape[1]
    fn = _xent_kernel(out, y)
    if fn is not None:
        d = torch.empty_like(out)
        s, b, ld = out.shape
        fn(out.data_ptr(), y.data_ptr(), y.stride(0), s, b, ld, o, d.data_ptr(), 1.0 / n,
           None, None, 1)  # fmt: skip
        return d
    d = torch.zeros_like(out)
    d[..., :o] = out[..., :o].softmax(-1)
    d[..., :o].scatter_add_(2, y.unsqueeze(2), d.new_full((*y.shape, 1), -1.0))
    return d.div_(n)


def _xent_eval(z: torch.Tensor, y: torch.Tensor, o: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per model: the summed cross-entropy (float64) and the argmax hits of the logits
    ``z[..., :o]`` (z is (S, B, ld), maybe padded) against labels ``y`` (B,), shared by
    the models.

    As F.cross_entropy computes it (log-softmax, then the label's entry) and as argmax
    picks (the first maximum), without copying the labels S times; one pass of a compiled
    kernel where there is one.
    """
    s = z.shape[0]
    fn = _xent_kernel(z, y)
    if fn is not None:
        loss = torch.empty(s, dtype=torch.float64)
        hits = torch.empty(s, dtype=torch.int64)
        fn(z.data_ptr(), y.data_ptr(), 0, s, z.shape[1], z.shape[2], o, None, 1.0,
           loss.data_ptr(), hits.data_ptr(), 1)  # fmt: skip
        return loss, hits
    out = z[..., :o]
    per = out.log_softmax(2).gather(2, y.expand(s, -1).unsqueeze(2))
    return -per.sum((1, 2), dtype=torch.float64), (out.argmax(2) == y).sum(1)


def _nonzero_counts(a: torch.Tensor) -> torch.Tensor:
    """How many of the samples (dimension 1) are nonzero, per model and unit, in float64.

    A NaN is nonzero. For float32 on the CPU one pass of a compiled kernel; elsewhere
    ceil(min(|a|, 1)), 1 for a nonzero value (subnormals and infinities included) and 0
    for a zero, summed: arithmetic, where a count through a bool tensor pays for a
    comparison into bool (slow in PyTorch's CPU build), and exact, as counts below 2^24
    are exact in float32. torch.sign would be cheaper but maps NaN to 0;
    here a NaN makes its unit's sum NaN, and such a batch is counted again through
    ``a != 0``.
    """
    if a.shape[1] >= 1 << 24:
        raise ValueError("an evaluation batch of 2^24 samples or more")
    fn = _kernels.count_nonzero_function() if a.dtype == torch.float32 and a.is_cpu else None
    if fn is not None:
        x = a.reshape(a.shape[0], a.shape[1], -1).contiguous()
        out = torch.empty(x.shape[0], x.shape[2], dtype=torch.int32)
        fn(x.data_ptr(), out.data_ptr(), *x.shape, torch.get_num_threads())
        return out.double()
    k = a.abs().clamp_max_(1.0).ceil_().sum(1).flatten(1)
    if torch.isnan(k).any():
        k = (a != 0).sum(1).flatten(1)
    return k.double()


def _model_norms(g: torch.Tensor) -> torch.Tensor:
    """The 2-norm of each model's part of a stacked gradient (dimension 0 is the model):
    torch.linalg.vector_norm directly, as Tensor.norm's Python wrapper and a flatten cost
    more than the norm at the lab's sizes (8 us against 3 a call)."""
    return torch.linalg.vector_norm(g, dim=tuple(range(1, g.dim())))


def _gather(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``t[idx]`` for an index tensor ``idx`` of any shape: the same values, by index_select
    (rows copied whole, where advanced indexing gathers element by element)."""
    return t.index_select(0, idx.flatten()).view(*idx.shape, *t.shape[1:])


_GATHER_ONCE = 1 << 24  # elements: 64 MB of float32 for the per-epoch shuffled copy


def train_group(configs: Sequence[dict[str, Any]]) -> list[Result]:
    """Train several configs that differ only in ``seed`` and ``lr``, all at once.

    Raises ValueError if the configs differ in anything else (see :func:`group_key`).
    """
    cs = [resolve(c) for c in configs]
    if not cs:
        return []
    keys = {group_key(c) for c in cs}
    if len(keys) != 1:
        raise ValueError("train_group needs configs that differ only in " + ", ".join(PER_MODEL))
    c0 = cs[0]
    ds, xtr, ytr, xte, yte = _tensors(c0)
    if ds.task == "classification":  # the compiled loss trusts its labels: checked here
        lo, hi = int(min(ytr.min(), yte.min())), int(max(ytr.max(), yte.max()))
        if lo < 0 or hi >= ds.n_outputs:
            raise ValueError(
                f"data set {c0['data']!r}: class labels must lie in 0..{ds.n_outputs - 1} "
                f"(its number of outputs), found {lo}..{hi}"
            )
    t0 = time.perf_counter()
    models = [_make_model(c, ds) for c in cs]
    stack = _MLPStack(models, c0) if _MLPStack.supports(models, c0) else _VmapStack(models)
    s_count = len(cs)
    lr = torch.tensor([float(c["lr"]) for c in cs])
    opt = _BatchedOptimizer(stack.leaves, c0["optimizer"], lr, c0["momentum"], c0["weight_decay"])
    gens = [torch.Generator().manual_seed(c["seed"]) for c in cs]
    # the plain MLP's forward and backward written out, where it can be (else autograd)
    manual = stack.manual_plan(xtr[:1]) if isinstance(stack, _MLPStack) else None
    n, bs = xtr.shape[0], c0["batch_size"]
    results = [Result(c) for c in cs]
    for epoch in range(1, c0["epochs"] + 1):
        perms = torch.stack([torch.randperm(n, generator=g) for g in gens])
        # each model's shuffled data set, gathered once per epoch where it is small (a
        # batch is then a view; gathering each batch cost more than its forward pass in
        # the lab's MLPs), else batch by batch
        if perms.numel() * xtr[0].numel() <= _GATHER_ONCE:
            xs, ys = _gather(xtr, perms), _gather(ytr, perms)
            batches = ((xs[:, i : i + bs], ys[:, i : i + bs]) for i in range(0, n, bs))
        else:
            batches = (
                (_gather(xtr, perms[:, i : i + bs]), _gather(ytr, perms[:, i : i + bs]))
                for i in range(0, n, bs)
            )
        gsum = torch.zeros(s_count, len(stack.weight_leaves))
        steps = 0
        for xb, yb in batches:
            if manual is not None:
                grads = stack.grads(xb, yb, ds.task, manual)
            else:
                out = stack.forward(xb)
                if ds.task == "classification":
                    per = F.cross_entropy(out.flatten(0, 1), yb.flatten(0, 1), reduction="none")
                    loss = per.view(s_count, -1).mean(1).sum()
                else:
                    loss = ((out - yb) ** 2).flatten(1).mean(1).sum()
                grads = torch.autograd.grad(loss, stack.leaves)
            with torch.no_grad():
                gsum += torch.stack([_model_norms(grads[j]) for j in stack.weight_leaves], dim=1)
            opt.step(grads)
            steps += 1
        rows = stack.evaluate(c0, ds, xtr, ytr, xte, yte)
        for s, (row, res) in enumerate(zip(rows, results)):
            res.history.append({"epoch": epoch, **row, "grad_norms": (gsum[s] / steps).tolist()})
    elapsed = time.perf_counter() - t0
    for r in results:
        r.seconds = elapsed / s_count
    return results


# --------------------------------------------------------------------------------------
# fit: any model, given tensors

#: The optimizers :func:`fit` builds.
FIT_OPTIMIZERS = ("sgd", "adam")
_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


_EPOCHS = (Interval(numbers.Integral, 1, None),)
_SEED = (Interval(numbers.Integral, 0, 2**64, closed="left"),)
_LR = (Interval(numbers.Real, 0.0, None, closed="neither"),)
_MOMENTUM = (Interval(numbers.Real, 0.0, 1.0, closed="left"),)


def fit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int = 100,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    seed: int = 0,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train ``model`` in place on ``(x, y)`` with mini-batch SGD (with momentum) or Adam.

    Each epoch visits every row once, in an order drawn from a ``torch.Generator``
    seeded with ``seed`` (so the same seed gives the same batches); the last batch of
    an epoch may be smaller. ``fit`` does not seed the global RNG: seed it before
    building the model (its initialisation) when runs must repeat, dropout included.
    The model is put in train mode at the start of every epoch (``on_epoch`` may
    switch it to eval mode) and stays in it.

    Args:
        model: any ``torch.nn.Module`` with trainable parameters; ``model(x[idx])``
            must return the outputs for a batch.
        x: inputs, one row per sample (any shape after the first dimension).
        y: integer class labels (cross-entropy; converted to int64) or floating
            targets (mean squared error), one per row of ``x``.
        epochs: passes over the data, >= 1.
        lr: learning rate, finite and > 0.
        batch_size: rows per step, >= 1.
        optimizer: ``"sgd"`` (``torch.optim.SGD`` with ``momentum``) or ``"adam"``
            (``torch.optim.Adam``, defaults otherwise).
        momentum: SGD momentum in [0, 1); ignored by Adam.
        seed: seeds the shuffling, in [0, 2**64).
        loss_fn: ``loss_fn(outputs, targets)`` -> a scalar mean over the batch, instead of
            the default chosen by ``y``'s dtype.
        on_epoch: called after each epoch's last step with that epoch's record (the dict
            ``fit`` returns for it), e.g. to read a monitor or evaluate.

    Returns:
        One record per epoch: ``{"epoch": 1.., "loss": mean training loss over the
        epoch's batches, weighted by batch size (None when it is not finite),
        "train_accuracy": the fraction of rows whose largest output is the label
        (None for targets that are not labels or outputs that are not 2-D)}``.

    Raises:
        TypeError: ``model``, ``x``, ``y`` or a callable of the wrong type.
        ValueError: a value outside its range (the message names the parameter).

    Example:
        >>> import torch
        >>> from actlab.lab.trainer import fit
        >>> _ = torch.manual_seed(0)
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        >>> x = torch.randn(64, 2)
        >>> y = (x[:, 0] > 0).long()
        >>> [r["epoch"] for r in fit(net, x, y, epochs=2, lr=0.1, batch_size=16)]
        [1, 2]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"The 'model' parameter must be a torch.nn.Module. Got {type(model).__name__}"
        )
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(
                f"The {name!r} parameter must be a torch.Tensor. Got {type(t).__name__}"
            )
    for name, f in (("loss_fn", loss_fn), ("on_epoch", on_epoch)):
        if f is not None and not callable(f):
            raise TypeError(f"The {name!r} parameter must be callable or None. Got {f!r}")
    if x.dim() < 1 or len(x) < 1:
        raise ValueError(
            f"The 'x' parameter must have at least one row. Got shape {tuple(x.shape)}"
        )
    if y.dim() < 1 or len(y) != len(x):
        raise ValueError(
            f"The 'y' parameter must have one row per row of x ({len(x)}). "
            f"Got shape {tuple(y.shape)}"
        )
    classification = y.dtype in _INT_DTYPES
    if not (classification or y.dtype.is_floating_point):
        raise ValueError(
            f"The 'y' parameter must hold integer labels or floating targets. Got {y.dtype}"
        )
    check_param("fit", "epochs", epochs, _EPOCHS)
    check_param("fit", "batch_size", batch_size, _EPOCHS)
    check_param("fit", "seed", seed, _SEED)
    check_param("fit", "lr", lr, _LR)
    if optimizer not in FIT_OPTIMIZERS:
        raise ValueError(
            f"The 'optimizer' parameter must be one of {', '.join(map(repr, FIT_OPTIMIZERS))}. "
            f"Got {optimizer!r}"
        )
    if optimizer == "sgd":
        check_param("fit", "momentum", momentum, _MOMENTUM)
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("The 'model' parameter has no trainable parameters")

    if classification:
        y = y.long()
    if loss_fn is None:
        loss_fn = nn.CrossEntropyLoss() if classification else nn.MSELoss()
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = len(x)
    history: list[dict[str, Any]] = []
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(n, generator=gen)
        total, correct, seen, scored = 0.0, 0, 0, classification
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
            if scored and out.dim() == 2:
                correct += int((out.argmax(1) == yb).sum())
            else:
                scored = False
        record: dict[str, Any] = {
            "epoch": epoch,
            "loss": total / seen if math.isfinite(total) else None,
            "train_accuracy": correct / seen if scored else None,
        }
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    return history
