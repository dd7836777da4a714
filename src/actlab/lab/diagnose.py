"""Train a model with :class:`actlab.Monitor` on and collect what it found: ``actlab diagnose``.

:func:`diagnose` takes a data set (a name :func:`actlab.lab.data.load` knows, or an
``.npz`` file) or random data, and either the lab's :class:`~actlab.lab.models.MLP`
or the caller's own model; it trains with :func:`actlab.lab.trainer.fit`, reading the
monitor after every epoch, and returns per-epoch dead fractions, the monitor's
summary (or a scan of the training set), the gradient-norm ratio and the advice.

Example:
    >>> from actlab.lab.diagnose import diagnose
    >>> out = diagnose(data="moons", epochs=1, width=16, depth=2)
    >>> out["model"], [e["epoch"] for e in out["epochs"]]
    ('MLP 2-16-16-2, relu', [1])
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..monitor import Monitor, advise, swap
from . import data as data_mod
from .models import MLP
from .trainer import fit

__all__ = ["DEFAULT_DEPTH", "DEFAULT_WIDTH", "describe", "diagnose", "load_data"]

#: Hidden layers of the default MLP: ``width`` units, ``depth`` layers.
DEFAULT_WIDTH, DEFAULT_DEPTH = 100, 3
#: What ``diagnose`` trains on when neither ``data`` nor ``model`` is given.
DEFAULT_DATA = "mnist1d"


def load_data(name: str, seed: int = 0) -> data_mod.Dataset:
    """A data set by name (:func:`actlab.lab.data.load`), or from a file ending in ``.npz``.

    An ``.npz`` needs ``x_train`` and ``y_train``; ``x_test`` and ``y_test`` are optional
    (without them the test arrays are empty), or ``x`` and ``y`` (split 75/25 by
    ``seed``). Its arrays are used as they are; named sets are standardised.
    """
    if name.endswith(".npz"):
        ds = data_mod.load_npz(name, seed=seed, require_test=False)
        return replace(ds, name=Path(name).name)
    return data_mod.load(name, seed=seed)


def describe(ds: data_mod.Dataset) -> str:
    """``"moons (1500 train, 500 test, 2 inputs, 2 classes)"``."""
    shape = "x".join(map(str, ds.x_train.shape[1:]))
    classes = len(np.unique(ds.y_train))
    return (
        f"{ds.name} ({len(ds.x_train)} train, {len(ds.x_test)} test, {shape} inputs, "
        f"{classes} classes)"
    )


def _infer_input(model: nn.Module) -> tuple[int, ...] | None:
    for m in model.modules():
        if isinstance(m, nn.Linear):
            return (m.in_features,)
        if isinstance(m, nn.Conv1d):
            return (m.in_channels, 64)
        if isinstance(m, nn.Conv2d):
            return (m.in_channels, 32, 32)
    return None


def _infer_classes(model: nn.Module) -> int | None:
    last = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return last[-1].out_features if last else None


def _random_data(shape: tuple[int, ...], classes: int, samples: int, seed: int) -> data_mod.Dataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, *shape)).astype(np.float32)
    y = rng.integers(0, classes, samples).astype(np.int64)
    return data_mod.Dataset("random", x, y, x[:0], y[:0], n_classes=classes)


def _at_least_1(**values: int | None) -> None:
    for name, v in values.items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"The {name!r} parameter must be an int >= 1. Got {v!r}")


def diagnose(
    *,
    data: str | None = None,
    model: nn.Module | Callable[[], nn.Module] | None = None,
    model_label: str | None = None,
    act: str | None = None,
    lr: float = 0.1,
    epochs: int = 5,
    batch_size: int = 100,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    width: int = DEFAULT_WIDTH,
    depth: int = DEFAULT_DEPTH,
    seed: int = 0,
    every: int = 1,
    input_shape: tuple[int, ...] | None = None,
    classes: int | None = None,
    samples: int = 1000,
    scan: bool = False,
) -> dict[str, Any]:
    """Train with the monitor on; return everything ``actlab diagnose`` prints.

    ``torch.manual_seed(seed)`` comes first, then the model is built, so a model
    factory's initialisation repeats with the seed.

    Args:
        data: a data set name or ``.npz`` path (:func:`load_data`). Default: ``mnist1d``
            for the MLP; with ``model``, random Gaussian inputs and random labels.
        model: your model, or a zero-argument factory returning one (called after
            seeding). ``None``: the lab's ``MLP(inputs, [width] * depth, classes,
            activation=act or "relu")`` with PyTorch's default initialisation.
        model_label: how the result (and an error) names your model (default: its class
            name).
        act: with ``model``, a catalogue spec that replaces its activation modules
            (:func:`actlab.swap`); for the MLP, its activation.
        lr, epochs, batch_size, optimizer, momentum: training, see
            :func:`actlab.lab.trainer.fit`.
        width, depth: the MLP's hidden layers.
        seed: global torch seed (model initialisation), batch order and random data.
        every: monitor every ``every``-th step.
        input_shape: with ``model``, the shape of one input: random data get it, given
            data are reshaped to it. Inferred from the first Linear/Conv layer if not given.
        classes: with ``model`` and random data, the number of labels (default: the
            last Linear layer's outputs, else 2).
        samples: rows of random data.
        scan: after training, scan the training set in eval mode; the scan becomes
            ``summary`` (the last training window stays in ``training_summary``).

    Returns:
        A dict with keys ``data``, ``model``, ``settings``, ``notes``, ``epochs``,
        ``summary``, ``training_summary``, ``grad_ratio``, ``advice``,
        ``test_accuracy`` and ``seconds`` (the training time).
    """
    _at_least_1(width=width, depth=depth, every=every, samples=samples, classes=classes)
    torch.manual_seed(seed)
    notes: list[str] = []
    if model is not None:
        net = model() if callable(model) and not isinstance(model, nn.Module) else model
        if not isinstance(net, nn.Module):
            name = model_label or getattr(model, "__qualname__", repr(model))
            kind = type(net).__name__
            raise ValueError(f"{name}: the factory returned {kind}, not a torch.nn.Module")
        label = model_label or type(net).__name__
        if act:
            n = swap(net, act)
            notes.append(f"--act: replaced {n} activation module(s) with {act}")
        shape = tuple(input_shape) if input_shape else None
        if data:
            ds = load_data(data, seed)
        else:
            shape = shape or _infer_input(net)
            if shape is None:
                raise ValueError(
                    "cannot infer the model's input shape: give input_shape (--input-shape)"
                )
            n_classes = classes or _infer_classes(net) or 2
            ds = _random_data(shape, n_classes, samples, seed)
            notes.append("random Gaussian inputs and random labels")
        if shape is not None:
            ds = replace(
                ds, x_train=ds.x_train.reshape(-1, *shape), x_test=ds.x_test.reshape(-1, *shape)
            )
    else:
        ds = load_data(data or DEFAULT_DATA, seed)
        inputs = int(np.prod(ds.x_train.shape[1:]))
        outputs = ds.n_outputs
        act = act or "relu"
        net = MLP(inputs, [width] * depth, outputs, activation=act, init="torch")
        label = f"MLP {inputs}-" + "-".join([str(width)] * depth) + f"-{outputs}, {act}"

    x = torch.as_tensor(np.ascontiguousarray(ds.x_train), dtype=torch.float32)
    y = torch.as_tensor(ds.y_train)
    classification = not y.dtype.is_floating_point
    if not classification:
        y = y.float()
    mon = Monitor(net, window="epoch", every=every)
    epochs_out: list[dict[str, Any]] = []

    def read_monitor(record: dict[str, Any]) -> None:
        dead = {r["layer"]: r["dead_fraction"] for r in mon.end_epoch()}
        epochs_out.append({**record, "dead_fraction": dead})

    t0 = time.perf_counter()
    with mon:
        fit(
            net, x, y, epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
            momentum=momentum, seed=seed, on_epoch=read_monitor,
        )  # fmt: skip
    seconds = time.perf_counter() - t0
    test_acc = None
    if len(ds.x_test) and classification:
        net.eval()
        with torch.no_grad():
            out = net(torch.as_tensor(np.ascontiguousarray(ds.x_test), dtype=torch.float32))
        if out.dim() == 2:
            test_acc = float((out.argmax(1) == torch.as_tensor(ds.y_test)).float().mean())
    training = mon.summary()
    scanned = mon.scan(net, x, batch_size=batch_size) if scan else None
    return {
        "data": describe(ds),
        "model": label,
        "settings": {
            "optimizer": optimizer,
            "lr": lr,
            "momentum": momentum if optimizer == "sgd" else None,
            "epochs": epochs,
            "batch_size": batch_size,
            "seed": seed,
            "every": every,
        },
        "notes": notes,
        "epochs": epochs_out,
        "summary": training if scanned is None else scanned,
        "training_summary": training,
        "grad_ratio": mon.grad_ratio(),
        "advice": [f.as_dict() for f in advise(scanned or training, mon.grad_ratio())],
        "test_accuracy": test_acc,
        "seconds": seconds,
    }
