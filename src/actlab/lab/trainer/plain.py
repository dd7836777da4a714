"""The one-model loops: :func:`train_plain` (a trial config, the reference the batched
trainer reproduces) and :func:`fit` (any model, given tensors)."""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...functions import Interval
from ...functions._validation import check_param
from .config import Result, _make_model, _tensors, _weight_names, resolve
from .evaluate import _evaluate


def _loss(out: torch.Tensor, y: torch.Tensor, task: str) -> torch.Tensor:
    if task == "classification":
        return F.cross_entropy(out, y)
    return F.mse_loss(out, y)


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
