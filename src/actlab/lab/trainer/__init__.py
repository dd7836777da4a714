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

The package, by job (imports run one way, down this list):

- :mod:`.config`: the trial settings (:data:`DEFAULTS`, :func:`resolve`,
  :func:`group_key`), :class:`Result`, the data-tensor cache and model construction;
- :mod:`.evaluate`: the one evaluator, the record every epoch adds to a history;
- :mod:`.optim`: the optimizers over stacked parameters (``_BatchedOptimizer``);
- :mod:`.stacked`: the stacked models (``_MLPStack``, ``_VmapStack``);
- :mod:`.plain`: the one-model loops, :func:`train_plain` and :func:`fit`;
- this module: :func:`train_group`, the batched loop that ties them together.

Example:
    >>> from actlab.lab import trainer
    >>> cfg = dict(data="moons", hidden=[16], activation="relu", epochs=2, batch_size=50)
    >>> [r.config["seed"] for r in trainer.train_group([{**cfg, "seed": s} for s in (0, 1)])]
    [0, 1]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from .config import (
    _DATA_CACHE,  # noqa: F401  (the data-tensor cache, re-exported)
    DEFAULTS,
    OPTIMIZERS,
    PER_MODEL,
    Result,
    _make_model,
    _tensors,
    group_key,
    resolve,
)
from .optim import _BatchedOptimizer
from .plain import FIT_OPTIMIZERS, fit, train_plain
from .stacked import _MLPStack, _VmapStack

__all__ = [
    "DEFAULTS",
    "FIT_OPTIMIZERS",
    "OPTIMIZERS",
    "PER_MODEL",
    "Result",
    "fit",
    "group_key",
    "resolve",
    "train_group",
    "train_plain",
]


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
