"""Evaluation: the one definition of the record every epoch adds to a model's history.

:func:`_records` owns the record: which splits are scored (train, test, and the noisy
test inputs when ``eval_noise > 0``), how the loss is averaged (summed over the
split's samples, then divided by their number), what accuracy is, what counts as a
dead unit and what sparsity is, and the keys. A training path supplies only a
function from a batch of inputs to its models' outputs and hidden activations:
:func:`_evaluate` reads them from any module through forward hooks, the stacked MLP
(:mod:`.stacked`) from its batched forward pass, all its models at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...torch import kernels as _kernels
from ...torch.nn import ActivationModule
from .. import data as data_mod

#: A path's forward pass for evaluation: ``run(x, units)`` -> the outputs for the batch
#: of inputs ``x`` and, when ``units``, each hidden layer's activations as
#: (models, samples, units) (None for a layer the batch did not reach).
Run = Callable[[torch.Tensor, bool], tuple[torch.Tensor, list[torch.Tensor | None]]]


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


def _summed_loss(
    out: torch.Tensor, y: torch.Tensor, task: str, n_out: int | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per model, the batch's summed loss (float64) and its correct argmaxes (int64; None
    for regression, whose per-sample loss is the mean squared error over the targets).

    ``n_out`` None: one model's outputs (B, o), summed in float32 as
    ``F.cross_entropy(reduction="sum")`` sums them (the reference loop's numbers);
    else stacked outputs (S, B, ld), their first ``n_out`` columns the outputs, each
    model's sum in float64 by the compiled kernel. The two agree to float32 rounding.
    """
    if n_out is None:
        if task == "classification":
            loss = F.cross_entropy(out, y, reduction="sum").double().reshape(1)
            return loss, (out.argmax(1) == y).sum().reshape(1)
        return (F.mse_loss(out, y, reduction="sum").double() / y.shape[1]).reshape(1), None
    if task == "classification":
        return _xent_eval(out, y, n_out)
    d = out[..., :n_out] - y
    return (d**2).mean(2).sum(1, dtype=torch.float64), None


@torch.no_grad()
def _records(
    run: Run,
    models: int,
    n_out: int | None,
    c: dict[str, Any],
    ds: data_mod.Dataset,
    xtr: torch.Tensor,
    ytr: torch.Tensor,
    xte: torch.Tensor,
    yte: torch.Tensor,
    batch: int,
) -> list[dict[str, Any]]:
    """Loss and accuracy on train and test sets, and the state of the hidden units,
    for each of ``models`` models whose outputs and activations ``run`` computes
    (``n_out``: how :func:`_summed_loss` reads the outputs).

    ``{split}_loss`` is the mean per-sample loss, ``{split}_acc`` the fraction of
    correct argmaxes (NaN for regression), for the splits ``train``, ``test`` and, when
    ``eval_noise > 0``, ``noise``: the test inputs with Gaussian noise added. A unit (a
    feature, or a conv channel) is dead when its activation output is exactly zero for
    every training example; ``sparsity`` is the fraction of hidden activations on the
    training set that are exactly zero.
    """
    res: list[dict[str, Any]] = [{} for _ in range(models)]
    alive: list[torch.Tensor | None] = []
    zeros = torch.zeros(models, dtype=torch.float64)  # counts: exact in float64
    count = 0
    splits = [("train", xtr, ytr), ("test", xte, yte)]
    if c["eval_noise"] > 0:
        splits.append(("noise", _noisy(xte, c), yte))
    for split, x, y in splits:
        units = split == "train"
        total = torch.zeros(models, dtype=torch.float64)
        correct = torch.zeros(models, dtype=torch.int64)
        n = x.shape[0]
        for i in range(0, n, batch):
            out, acts = run(x[i : i + batch], units)
            loss, hits = _summed_loss(out, y[i : i + batch], ds.task, n_out)
            total += loss
            if hits is not None:
                correct += hits
            if not units:
                continue
            alive += [None] * (len(acts) - len(alive))
            for j, a in enumerate(acts):
                if a is None:
                    continue
                k = _unit_counts(a)  # (models, units): the samples where each is nonzero
                alive[j] = k != 0 if alive[j] is None else alive[j] | (k != 0)
                zeros += a.shape[1] * k.shape[1] - k.sum(1)
                count += a.shape[1] * k.shape[1]
        for s in range(models):
            res[s][f"{split}_loss"] = float(total[s]) / n
            res[s][f"{split}_acc"] = (
                float(correct[s]) / n if ds.task == "classification" else float("nan")
            )
    for s in range(models):
        res[s].update(_unit_stats([a[s] for a in alive if a is not None], float(zeros[s]), count))
    return res


def _unit_counts(a: torch.Tensor) -> torch.Tensor:
    """:func:`_nonzero_counts` of activations (models, samples, units), in pieces of
    fewer than 2^24 samples (its limit)."""
    step = (1 << 24) - 1
    if a.shape[1] <= step:
        return _nonzero_counts(a)
    return sum(_nonzero_counts(a[:, i : i + step]) for i in range(0, a.shape[1], step))


def _as_units(out: torch.Tensor) -> torch.Tensor:
    """One module's activation outputs (B, units) or (B, C, *spatial) as (1, samples,
    units): a conv channel is one unit, each position of it one more sample."""
    if out.dim() > 2:
        out = out.flatten(2).transpose(1, 2).reshape(1, -1, out.shape[1])
    return out.unsqueeze(0) if out.dim() == 2 else out


@torch.no_grad()
def _evaluate(
    model: nn.Module, c: dict[str, Any], ds: data_mod.Dataset, xtr, ytr, xte, yte, batch: int = 2000
) -> dict[str, Any]:
    """:func:`_records` of one module, its hidden activations read by forward hooks on
    its activation modules (in eval mode; the mode it was in is restored)."""
    was_training = model.training
    model.eval()
    seen: list[list[torch.Tensor]] = []
    collect = [False]
    hooks = []
    for i, m in enumerate(_act_modules(model)):
        seen.append([])

        def hook(_m, _inp, out, i=i):
            if collect[0]:
                seen[i].append(_as_units(out))

        hooks.append(m.register_forward_hook(hook))

    def run(x: torch.Tensor, units: bool) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        collect[0] = units
        out = model(x)
        # a module called more than once in a pass: its calls' outputs are more samples
        acts = [None if not got else got[0] if len(got) == 1 else torch.cat(got, 1) for got in seen]
        for got in seen:
            got.clear()
        return out, acts

    try:
        return _records(run, 1, None, c, ds, xtr, ytr, xte, yte, batch)[0]
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)


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
