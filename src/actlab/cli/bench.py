"""``actlab bench``: what each activation costs here, as ratios measured in one run."""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import EXIT_OK, print_table


def _size(text: str) -> int:
    t = text.strip().upper()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    n = int(float(t[:-1] if t[-1:] in "KMG" else t) * mult)
    if n < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return n


def cmd_bench(args: argparse.Namespace) -> int:
    import torch

    from .. import functions
    from ..analysis.bench import bench
    from ..analysis.machine import describe

    if args.threads:
        torch.set_num_threads(args.threads)
    names = [functions.get(n).name for n in args.names] or None
    rows = bench(
        names,
        sizes=args.size or [1 << 20],
        dtypes=args.dtype.split(","),
        device=args.device,
        repeats=args.repeats,
        native=not args.no_torch,
        inplace=args.inplace,
    )
    if args.plot:
        from ..analysis.bench import plot_rows
        from ..analysis.plot import save

        save(plot_rows(rows), args.plot)
    if args.json:
        print(json.dumps({"machine": describe(), "rows": [r.as_dict() for r in rows]}, indent=2))
        return EXIT_OK
    m = describe()
    cols = [
        "activation",
        "impl",
        "size",
        "dtype",
        "fwd / copy",
        "fwd / relu",
        "fwd+bwd / relu",
        "fwd / exp",
        "fwd spread",
        "saved B/elt",
        "peak B/elt (fwd; fwd+bwd)",
        "path (fwd/bwd)",
    ]
    body = [
        [
            r.name,
            r.impl,
            str(r.size),
            r.dtype,
            f"{r.fwd_vs_copy:.2f}",
            f"{r.fwd_vs_relu:.2f}",
            f"{r.fwd_bwd_vs_relu:.2f}",
            f"{r.fwd_vs_exp:.2f}",
            "-" if r.fwd_spread != r.fwd_spread else f"{100 * r.fwd_spread:.0f}%",
            f"{r.saved_per_element:g}",
            f"{r.fwd_peak_per_element:.3g}; {r.fwd_bwd_peak_per_element:.3g}",
            r.path or "-",
        ]
        for r in rows
    ]
    print_table(
        f"cost on {m['cpu']}, {rows[0].threads if rows else '?'} threads "
        "(medians, ratios from one interleaved run; spread: interquartile range / median)",
        cols,
        body,
        args.format,
    )
    return EXIT_OK


def register(sub: Any) -> None:
    """Add ``actlab bench``."""
    p = sub.add_parser(
        "bench",
        help="forward and backward cost of activations, actlab beside "
        "PyTorch, as ratios to a memory copy and to ReLU",
    )
    p.add_argument("names", nargs="*", help="activations (default: every elementwise one)")
    p.add_argument(
        "--size",
        type=_size,
        action="append",
        default=None,
        help="elements, e.g. 4K, 1M, 64M; repeatable (default: 1M)",
    )
    p.add_argument("--dtype", default="float32", help="comma-separated, e.g. float32,bfloat16")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: unchanged)")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch's native ops")
    p.add_argument(
        "--inplace",
        action="store_true",
        help="also time the in-place forms (forward only; fwd / copy is then over a copy "
        "into an existing buffer, fwd / relu over PyTorch's in-place ReLU)",
    )
    p.add_argument("--format", choices=["table", "markdown"], default="table")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--plot",
        metavar="FILE",
        help="also draw the ratios, actlab beside PyTorch (.png, .svg or .pdf)",
    )
    p.set_defaults(func=cmd_bench)
