"""``actlab list``, ``actlab show``, ``actlab audit``: the catalogue and its numerics."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from .. import functions
from ..functions import Activation
from . import EXIT_FAIL, EXIT_OK, print_table


def _rng(act: Activation) -> str:
    if act.output_range is None:
        return "?"
    lo, hi = act.output_range

    def f(v: float) -> str:
        return ("-inf" if v < 0 else "inf") if math.isinf(v) else f"{v:.4g}"

    left = "(" if math.isinf(lo) or not act.range_attained[0] else "["
    right = ")" if math.isinf(hi) or not act.range_attained[1] else "]"
    return f"{left}{f(lo)}, {f(hi)}{right}"


def _yes(v: bool | None) -> str:
    return "?" if v is None else ("yes" if v else "no")


_LIST_KEYS = (
    "name",
    "formula",
    "range",
    "monotonic",
    "smoothness",
    "zero_centred",
    "bounded_below",
    "bounded_above",
    "kind",
)


def _list_rows() -> list[dict[str, Any]]:
    """The columns of ``actlab list``: a subset of what ``actlab show`` reports."""
    rows = []
    for name in functions.names():
        info = _show_dict(functions.get(name))
        row = {k: info[k] for k in _LIST_KEYS}
        row["params"] = {p["name"]: p["default"] for p in info["parameters"]}
        row["aliases"] = info["aliases"]
        rows.append(row)
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    rows = _list_rows()
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    cols = ["name", "formula", "range", "monotonic", "smooth", "zero-centred", "params"]
    body = [
        [
            r["name"],
            r["formula"],
            r["range"],
            _yes(r["monotonic"]) if r["kind"] == "elementwise" else "n/a",
            r["smoothness"] or "?",
            _yes(r["zero_centred"]),
            ", ".join(f"{k}={v!r}" for k, v in r["params"].items()),
        ]
        for r in rows
    ]
    print_table(f"actlab catalogue: {len(rows)} activations", cols, body, args.format)
    return EXIT_OK


def _show_dict(a: Activation) -> dict[str, Any]:
    computed: list[str] = []
    if a.user and a.kind == "elementwise":
        # metadata the user left out is computed from the function itself
        from dataclasses import replace

        from ..analysis.properties import fill_metadata

        meta = fill_metadata(a)
        computed = meta.pop("computed")
        a = replace(a, **meta)
    return {
        "name": a.name,
        "summary": a.summary,
        "formula": a.formula,
        "latex": a.latex,
        "kind": a.kind,
        "parameters": [
            {
                "name": p.name,
                "default": p.default,
                "valid": " or ".join(map(str, p.constraints)) or "any",
                "learnable": p.learnable,
                "doc": p.doc,
            }
            for p in a.params
        ],
        "range": _rng(a),
        "monotonic": a.monotonic,
        "smoothness": a.smoothness,
        "zero_centred": a.zero_centred,
        "bounded_below": a.bounded_below,
        "bounded_above": a.bounded_above,
        "kinks": list(a.kinks),
        "derivative_at_kinks": _kink_derivatives(a),
        "origin": a.origin,
        "aliases": sorted({*a.aliases, *([a.class_name] if a.class_name else [])}),
        "frameworks": a.frameworks,
        "in_place": a.inplace,
        "user_registered": a.user,
        "computed": computed,
    }


def _kink_derivatives(a: Activation) -> dict[str, float]:
    if a.kind != "elementwise" or not a.kinks or not a.has_derivative:
        return {}
    import numpy as np

    d = a.derivative(np.asarray(a.kinks, dtype=np.float64))
    return {repr(float(k)): float(v) for k, v in zip(a.kinks, d)}


def cmd_show(args: argparse.Namespace) -> int:
    info = _show_dict(functions.get(args.name))
    a = functions.get(args.name)
    if args.format == "json":
        print(json.dumps(info, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(f"[bold]{a.name}[/bold]: {a.summary}")
    con.print(f"  formula     {a.formula}")
    con.print(f"  LaTeX       {a.latex}")
    if a.params:
        t = Table("parameter", "default", "valid values", "learnable", "meaning", box=None)
        for p in info["parameters"]:
            t.add_row(p["name"], repr(p["default"]), p["valid"], p["learnable"], p["doc"])
        con.print(t)
    props = [
        ("output range", info["range"]),
        ("monotonic", _yes(info["monotonic"])),
        ("smoothness", info["smoothness"] or "?"),
        ("zero-centred", _yes(info["zero_centred"])),
        ("bounded below", _yes(info["bounded_below"])),
        ("bounded above", _yes(info["bounded_above"])),
    ]
    if info["computed"]:
        props.append(("computed", ", ".join(info["computed"]) + " (not declared)"))
    if a.kinks:
        props.append(
            (
                "kinks",
                ", ".join(
                    f"x={k:g} (f'={d:g})"
                    for k, d in zip(a.kinks, info["derivative_at_kinks"].values())
                )
                or ", ".join(map(str, a.kinks)),
            )
        )
    for k, v in props:
        con.print(f"  {k:<13} {v}")
    con.print(f"  origin        {a.origin}")
    con.print(f"  aliases       {', '.join(info['aliases']) or '-'}")
    con.print(f"  frameworks    {a.frameworks or '-'}", soft_wrap=True)
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from ..analysis import numerics

    acts = [functions.get(n) for n in args.names] or [functions.get(n) for n in functions.names()]
    dtypes = [d.strip() for d in args.dtype.split(",") if d.strip()]
    elementwise = [a.name for a in acts if a.kind == "elementwise"]
    vector = [a.name for a in acts if a.kind == "vector"]
    torch_native = not args.no_torch
    rows = []
    if elementwise:
        rows += numerics.audit(
            elementwise, dtype=dtypes, points=args.points, torch_native=torch_native
        )
    if vector:
        rows += numerics.audit_vector(vector, dtype=dtypes, torch_native=torch_native)
    failed = [r for r in rows if r.impl == "actlab" and not r.ok()]
    if args.format == "json":
        print(json.dumps([r.as_dict() for r in rows], indent=2))
    elif args.format == "markdown":
        print(numerics.markdown_table(rows))
    else:
        cols = [
            "activation",
            "dtype",
            "impl",
            "fwd max",
            "fwd p99.9",
            "deriv max",
            "deriv p99.9",
            "bad",
        ]
        body = [
            [
                r.name,
                r.dtype,
                r.impl,
                numerics._fmt(r.fwd_max),
                numerics._fmt(r.fwd_p999),
                numerics._fmt(r.deriv_max),
                numerics._fmt(r.deriv_p999),
                str(r.bad),
            ]
            for r in rows
        ]
        print_table(
            "error in ULP against an mpmath reference (bounds: forward 2, derivative 4)",
            cols,
            body,
            "table",
        )
    if failed:
        print(
            "Error: outside the accuracy bounds: "
            + ", ".join(f"{r.name} ({r.dtype})" for r in failed),
            file=sys.stderr,
        )
        return EXIT_FAIL
    return EXIT_OK


def register(sub: Any) -> None:
    """Add this module's subcommands to the ``actlab`` parser."""
    p = sub.add_parser("list", help="table of every activation: formula, range, key properties")
    p.add_argument("--format", choices=["table", "markdown", "json"], default="table")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="everything known about one activation")
    p.add_argument("name", help="any name or alias, e.g. LeakyReLU")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "audit", help="accuracy in ULP against a high-precision reference, actlab beside PyTorch"
    )
    p.add_argument("names", nargs="*", help="activations (default: all)")
    p.add_argument(
        "--dtype",
        default="float32",
        help="comma-separated: float32, bfloat16, float16 (default: float32)",
    )
    p.add_argument("--points", type=int, default=4000, help="grid size (default: 4000)")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch's native ops")
    p.add_argument("--format", choices=["table", "markdown", "json"], default="table")
    p.set_defaults(func=cmd_audit)
