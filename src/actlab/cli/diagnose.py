"""``actlab diagnose``: train a small model with the monitor on, print what it found.

The quickest way to watch ReLUs die (``--act relu --lr 0.5``: SGD with the usual
momentum 0.9 on MNIST-1D kills a third of the second layer's units within five
epochs) and Leaky ReLUs survive (``--act leaky_relu``), or to check your own model
(``--model mypackage.models:make_model``) on random or given data.

Data sets come from ``actlab.lab.data.load`` (``mnist1d``, ``digits``, ``moons``,
``spirals``, ...), or from an ``.npz`` file with ``x_train``, ``y_train`` (and
optionally ``x_test``, ``y_test``). The work is :func:`actlab.lab.diagnose.diagnose`;
this module parses the flags, resolves ``--model`` and prints the result.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any

from . import EXIT_FAIL, EXIT_OK, print_table

#: The defaults of ``actlab.lab.diagnose`` (not imported from there: ``actlab --help``
#: should not import torch).
DEFAULT_WIDTH, DEFAULT_DEPTH = 100, 3


# ---------------------------------------------------------------------------------- flags
def load_factory(spec: str) -> Callable[[], Any]:
    """``module:factory`` -> a function building the model (the cwd is importable).

    The module is imported now (a bad spec fails before anything runs); the factory
    is called later, by :func:`actlab.lab.diagnose.diagnose`, after it seeds torch.
    ``factory`` may also name a module-level ``torch.nn.Module`` instance.
    """
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

    def build() -> Any:
        import inspect

        from torch import nn

        calls = callable(factory) and not isinstance(factory, nn.Module)
        if calls:
            try:
                inspect.signature(factory).bind()
            except TypeError as exc:  # it needs arguments: not a model factory
                raise ValueError(
                    f"--model {spec}: {attr} cannot be called without arguments ({exc}); "
                    "--model names a function that takes none and returns a torch.nn.Module"
                ) from None
            except ValueError:  # no signature to read (a builtin): call it and see
                pass
        model = factory() if calls else factory
        if not isinstance(model, nn.Module):
            kind = type(model).__name__
            raise ValueError(f"--model {spec}: the factory returned {kind}, not a torch.nn.Module")
        return model

    return build


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
    """Train with the monitor on (:func:`actlab.lab.diagnose.diagnose`); return what is printed."""
    from ..lab.diagnose import diagnose

    return diagnose(
        data=args.data,
        model=load_factory(args.model) if args.model else None,
        model_label=args.model,
        act=args.act,
        lr=args.lr,
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        momentum=args.momentum,
        width=args.width,
        depth=args.depth,
        seed=args.seed,
        every=args.every,
        input_shape=_shape(args.input_shape) if args.model else None,
        classes=args.classes,
        samples=args.samples,
        scan=args.scan,
    )


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
