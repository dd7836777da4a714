"""``actlab diagnose``: train a small model with the monitor on, print what it found.

The quickest way to watch ReLUs die (``--act relu --lr 0.5``: SGD with the usual
momentum 0.9 on MNIST-1D kills a third of the second layer's units within five
epochs) and Leaky ReLUs survive (``--act leaky_relu``), or to check your own model
(``--model mypackage.models:make_model``) on random or given data.

Data sets come from ``actlab.lab.data.load`` (``mnist1d``, ``digits``, ``moons``,
``spirals``, ...), or from an ``.npz`` file with ``x_train``, ``y_train`` (and
optionally ``x_test``, ``y_test``). While ``actlab.lab.data`` is not installed, a
small in-process stand-in is used and the output says so.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import EXIT_FAIL, EXIT_OK, print_table

DEFAULT_WIDTH, DEFAULT_DEPTH = 100, 3


@dataclass
class Data:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    note: str = ""

    def describe(self) -> str:
        n_test = 0 if self.x_test is None else len(self.x_test)
        shape = "x".join(map(str, self.x_train.shape[1:]))
        classes = len(np.unique(self.y_train))
        n = len(self.x_train)
        return f"{self.name} ({n} train, {n_test} test, {shape} inputs, {classes} classes)"


# ---------------------------------------------------------------------------------- data
def load_data(name: str, seed: int) -> Data:
    """A data set by name (through ``actlab.lab.data``) or from an ``.npz`` file."""
    if name.endswith(".npz"):
        path = Path(name)
        if not path.is_file():
            raise ValueError(f"--data {name}: no such file")
        with np.load(path) as z:
            if "x_train" not in z or "y_train" not in z:
                raise ValueError(f"--data {name}: the file needs arrays x_train and y_train")
            get = lambda k: z[k] if k in z else None  # noqa: E731
            return Data(path.name, z["x_train"], z["y_train"], get("x_test"), get("y_test"))
    try:
        lab_data = importlib.import_module("actlab.lab.data")
    except ModuleNotFoundError as exc:
        if exc.name not in ("actlab.lab", "actlab.lab.data"):
            raise
        return fallback_data(name, seed)
    ds = lab_data.load(name, seed=seed)
    return Data(getattr(ds, "name", name), ds.x_train, ds.y_train, ds.x_test, ds.y_test)


#: Shapes of the stand-ins used while ``actlab.lab.data`` is missing: (features, classes).
_STAND_IN = {"mnist1d": (40, 10), "digits": (64, 10), "gaussian": (20, 4)}


def fallback_data(name: str, seed: int, n_train: int = 4000, n_test: int = 1000) -> Data:
    """Synthetic data generated in-process, for when ``actlab.lab.data`` is not installed.

    ``spirals`` (3 arms in 2-D) and ``moons`` are the usual toy sets; any other name
    gets Gaussian class clusters with that data set's input size and class count
    (40 and 10 for ``mnist1d``), which is a stand-in, not the real data.
    """
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    if name == "spirals":
        k = 3
        y = rng.integers(0, k, n)
        t = rng.uniform(0.25, 1.0, n)
        angle = 3.5 * math.pi * t + 2 * math.pi * y / k
        x = np.stack([t * np.cos(angle), t * np.sin(angle)], 1) + rng.normal(0, 0.03, (n, 2))
        note = ""
    elif name == "moons":
        y = rng.integers(0, 2, n)
        a = rng.uniform(0, math.pi, n)
        x = np.where(
            y[:, None] == 0,
            np.stack([np.cos(a), np.sin(a)], 1),
            np.stack([1 - np.cos(a), 0.5 - np.sin(a)], 1),
        ) + rng.normal(0, 0.1, (n, 2))
        note = ""
    else:
        d, k = _STAND_IN.get(name, _STAND_IN["gaussian"])
        centres = rng.normal(0, 1.0, (k, d))
        y = rng.integers(0, k, n)
        x = centres[y] + rng.normal(0, 1.5, (n, d))
        note = (
            f"actlab.lab.data is not installed: '{name}' is a synthetic stand-in "
            f"(Gaussian clusters, {d} features, {k} classes), not the real data set"
        )
    x = (x - x[:n_train].mean(0)) / x[:n_train].std(0)
    x, y = x.astype(np.float32), y.astype(np.int64)
    return Data(name, x[:n_train], y[:n_train], x[n_train:], y[n_train:], note)


# ---------------------------------------------------------------------------------- models
def mlp(inputs: int, classes: int, act: str, width: int, depth: int) -> Any:
    """``inputs -> width x depth -> classes``, with ``act`` after every hidden Linear."""
    import torch

    import actlab

    layers: list[Any] = []
    d = inputs
    for _ in range(depth):
        layers += [torch.nn.Linear(d, width), actlab.create(act)]
        d = width
    layers.append(torch.nn.Linear(d, classes))
    return torch.nn.Sequential(*layers)


def load_factory(spec: str) -> Any:
    """``module:factory`` -> the model the factory returns (the cwd is importable)."""
    from torch import nn

    mod_name, sep, attr = spec.partition(":")
    if not sep or not mod_name or not attr:
        raise ValueError(f"--model expects MODULE:FACTORY, e.g. mymodels:make_net; got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(mod_name)
    except ImportError as exc:
        raise ValueError(f"--model {spec}: cannot import {mod_name!r}: {exc}") from exc
    factory = module
    for part in attr.split("."):
        if not hasattr(factory, part):
            raise ValueError(f"--model {spec}: {mod_name!r} has no attribute {attr!r}")
        factory = getattr(factory, part)
    model = factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
    if not isinstance(model, nn.Module):
        kind = type(model).__name__
        raise ValueError(f"--model {spec}: the factory returned {kind}, not a torch.nn.Module")
    return model


def _infer_input(model: Any) -> tuple[int, ...] | None:
    from torch import nn

    for m in model.modules():
        if isinstance(m, nn.Linear):
            return (m.in_features,)
        if isinstance(m, nn.Conv1d):
            return (m.in_channels, 64)
        if isinstance(m, nn.Conv2d):
            return (m.in_channels, 32, 32)
    return None


def _infer_classes(model: Any) -> int | None:
    from torch import nn

    last = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return last[-1].out_features if last else None


def _shape(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise ValueError(
            f"--input-shape expects comma-separated ints, e.g. 3,32,32; got {text!r}"
        ) from None
    if not shape or min(shape) < 1:
        raise ValueError(f"--input-shape expects positive sizes; got {text!r}")
    return shape


# ---------------------------------------------------------------------------------- run
def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train with the monitor on; return everything the command prints."""
    import torch

    import actlab

    from ..monitor import advise

    torch.manual_seed(args.seed)
    notes: list[str] = []
    if args.model:
        model = load_factory(args.model)
        label = args.model
        if args.act:
            n = actlab.swap(model, args.act)
            notes.append(f"--act: replaced {n} activation module(s) with {args.act}")
        shape = _shape(args.input_shape)
        if args.data:
            data = load_data(args.data, args.seed)
        else:
            shape = shape or _infer_input(model)
            if shape is None:
                raise ValueError("cannot infer the model's input shape: give --input-shape")
            classes = args.classes or _infer_classes(model) or 2
            rng = np.random.default_rng(args.seed)
            n = args.samples
            x = rng.normal(size=(n, *shape)).astype(np.float32)
            y = rng.integers(0, classes, n).astype(np.int64)
            data = Data("random", x, y, None, None, "random Gaussian inputs and random labels")
        if shape is not None:
            reshape = (-1, *shape)
            data.x_train = data.x_train.reshape(reshape)
            if data.x_test is not None:
                data.x_test = data.x_test.reshape(reshape)
    else:
        data = load_data(args.data or "mnist1d", args.seed)
        classes = int(max(data.y_train.max(), -1 if data.y_test is None else data.y_test.max())) + 1
        inputs = int(np.prod(data.x_train.shape[1:]))
        data.x_train = data.x_train.reshape(len(data.x_train), inputs)
        if data.x_test is not None:
            data.x_test = data.x_test.reshape(len(data.x_test), inputs)
        act = args.act or "relu"
        model = mlp(inputs, classes, act, args.width, args.depth)
        label = f"MLP {inputs}-" + "-".join([str(args.width)] * args.depth) + f"-{classes}, {act}"
    if data.note:
        notes.append(data.note)

    x = torch.as_tensor(np.ascontiguousarray(data.x_train), dtype=torch.float32)
    y = torch.as_tensor(data.y_train)
    classification = y.dtype in (torch.int32, torch.int64)
    loss_fn = torch.nn.CrossEntropyLoss() if classification else torch.nn.MSELoss()
    if not classification:
        y = y.float()
    if args.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    mon = actlab.Monitor(model, window="epoch", every=args.every)
    gen = torch.Generator().manual_seed(args.seed)
    epochs = []
    t0 = time.perf_counter()
    model.train()
    with mon:
        for epoch in range(1, args.epochs + 1):
            perm = torch.randperm(len(x), generator=gen)
            total, correct, seen = 0.0, 0, 0
            for i in range(0, len(x), args.batch_size):
                idx = perm[i : i + args.batch_size]
                xb, yb = x[idx], y[idx]
                opt.zero_grad(set_to_none=True)
                out = model(xb)
                loss = loss_fn(out, yb)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
                seen += len(idx)
                if classification and out.dim() == 2:
                    correct += int((out.argmax(1) == yb).sum())
            records = mon.end_epoch()
            epochs.append(
                {
                    "epoch": epoch,
                    "loss": total / seen if math.isfinite(total) else None,
                    "train_accuracy": correct / seen if classification else None,
                    "dead_fraction": {r["layer"]: r["dead_fraction"] for r in records},
                }
            )
    seconds = time.perf_counter() - t0
    test_acc = None
    if data.x_test is not None and data.y_test is not None and classification:
        model.eval()
        with torch.no_grad():
            out = model(torch.as_tensor(np.ascontiguousarray(data.x_test), dtype=torch.float32))
        if out.dim() == 2:
            test_acc = float((out.argmax(1) == torch.as_tensor(data.y_test)).float().mean())
    training = mon.summary()
    scan = mon.scan(model, x, batch_size=args.batch_size) if args.scan else None
    return {
        "data": data.describe(),
        "model": label,
        "settings": {
            "optimizer": args.optimizer,
            "lr": args.lr,
            "momentum": args.momentum if args.optimizer == "sgd" else None,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "every": args.every,
        },
        "notes": notes,
        "epochs": epochs,
        "summary": training if scan is None else scan,
        "training_summary": training,
        "grad_ratio": mon.grad_ratio(),
        "advice": [f.as_dict() for f in advise(scan or training, mon.grad_ratio())],
        "test_accuracy": test_acc,
        "seconds": seconds,
    }


def _fmt(v: Any) -> str:
    from ..monitor.export import format_value

    return format_value(v)


def cmd_diagnose(args: argparse.Namespace) -> int:
    result = run(args)
    if args.format == "json":
        print(json.dumps(result, indent=2, default=str))
    else:
        _print(result)
    if args.strict and any(a["severity"] == "warning" for a in result["advice"]):
        return EXIT_FAIL
    return EXIT_OK


def _print(result: dict[str, Any]) -> None:
    s = result["settings"]
    opt = f"{s['optimizer']} lr={s['lr']}"
    if s["momentum"]:
        opt += f" momentum={s['momentum']}"
    print(
        f"{result['model']} on {result['data']}; {opt}, "
        f"{s['epochs']} epochs, batch {s['batch_size']}, seed {s['seed']}"
    )
    for note in result["notes"]:
        print(f"note: {note}")
    layers = list(dict.fromkeys(k for e in result["epochs"] for k in e["dead_fraction"]))
    if layers:
        rows = [
            [
                str(e["epoch"]),
                _fmt(e["loss"]),
                _fmt(e["train_accuracy"]),
                *(_fmt(e["dead_fraction"].get(layer)) for layer in layers),
            ]
            for e in result["epochs"]
        ]
        cols = ["epoch", "loss", "train acc", *(f"dead {layer}" for layer in layers)]
        title = "dead units per epoch (output 0 for the whole epoch)"
        print_table(title, cols, rows, "table")
    cols = ["layer", "kind", "units", "dead", "sparsity", "saturation", "mean", "std",
            "grad norm", "died", "revived", "window"]  # fmt: skip
    keys = ["layer", "kind", "units", "dead_fraction", "sparsity", "saturation", "mean", "std",
            "grad_norm", "died_total", "revived_total", "window"]  # fmt: skip
    rows = [[_fmt(r.get(k)) for k in keys] for r in result["summary"]]
    print_table("monitor summary", cols, rows, "table")
    g = result["grad_ratio"]
    if g:
        print(
            f"gradient norm, first / last monitored layer ({g['first']} / {g['last']}): "
            f"{g['ratio']:.3g}"
        )
    if result["test_accuracy"] is not None:
        print(f"test accuracy: {result['test_accuracy']:.3f}")
    print()
    for a in result["advice"]:
        print(f"[{a['severity']}] {a['message']}")
        if a["remedies"]:
            print("  Things to try (each may or may not help here):")
            for r in a["remedies"]:
                print(f"  - {r}")


def register(sub: Any) -> None:
    """Add ``actlab diagnose`` to the ``actlab`` parser."""
    p = sub.add_parser(
        "diagnose",
        help="train a small model (or yours) with the monitor on; print dead units and advice",
        description="Train a small model (or yours, --model) with actlab.Monitor on and "
        "print dead units, saturation, gradient norms and advice.",
        epilog="example: actlab diagnose --data mnist1d --act relu --lr 0.5 --epochs 5",
    )
    p.add_argument("--data", default=None, help="data set name or .npz file (default: mnist1d)")
    p.add_argument("--act", default=None, help="activation spec, e.g. relu or 'elu(alpha=0.5)'")
    p.add_argument("--lr", type=float, default=0.1, help="learning rate (default: 0.1)")
    p.add_argument("--epochs", type=int, default=5, help="epochs (default: 5)")
    p.add_argument("--batch-size", type=int, default=100, help="batch size (default: 100)")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument(
        "--momentum", type=float, default=0.9, help="SGD momentum (default: 0.9, as usual)"
    )
    p.add_argument("--width", type=int, default=DEFAULT_WIDTH, help="hidden units (default: 100)")
    p.add_argument("--depth", type=int, default=DEFAULT_DEPTH, help="hidden layers (default: 3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--every", type=int, default=1, help="monitor every k-th step (default: 1)")
    p.add_argument(
        "--model", default=None, metavar="MODULE:FACTORY", help="your model factory instead"
    )
    p.add_argument("--input-shape", default=None, help="with --model: input shape, e.g. 3,32,32")
    p.add_argument("--classes", type=int, default=None, help="with --model and random data")
    p.add_argument("--samples", type=int, default=1000, help="random data: samples (default 1000)")
    p.add_argument(
        "--scan", action="store_true", help="after training, scan the training set (eval mode)"
    )
    p.add_argument("--strict", action="store_true", help="exit 3 when the advice has warnings")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=_validated)


def _validated(args: argparse.Namespace) -> int:
    for name in ("epochs", "batch_size", "width", "depth", "every", "samples"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
    if not (args.lr > 0 and math.isfinite(args.lr)):
        raise ValueError(f"--lr must be a positive number; got {args.lr}")
    return cmd_diagnose(args)
