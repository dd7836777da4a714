"""``actlab props``: the criteria table, every property computed from the functions.

One row per activation, one column per criterion of claim C18 (monotonic, bounded
below/above, saturation on each side, largest |f'|, smoothness, zero-centring,
sparsity, initialisation gain), each with the number behind it. ``--cost`` adds the
forward+backward time over ReLU's (measured now, so not deterministic).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

from .. import functions
from . import EXIT_OK, print_table

#: A vector activation named on the command line gets a row of these.
NOT_APPLICABLE = "n/a"


# --------------------------------------------------------------------------------------
# --param NAME:KEY=VALUE[,VALUE...], shared with `actlab plot`
def _convert(act: functions.Activation, key: str, text: str) -> Any:
    params = {p.name: p for p in act.params}
    if key not in params:
        others = sorted(
            a for a in functions.names() if any(p.name == key for p in functions.get(a).params)
        )
        hint = f"; activations with a {key!r} parameter: {', '.join(others)}" if others else ""
        valid = ", ".join(params) or "none"
        raise ValueError(f"{act.name} has no parameter {key!r} (its parameters: {valid}){hint}")
    default = params[key].default
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "1")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float) or default is None:
            return float(text)
    except ValueError:
        raise ValueError(
            f"--param {act.name}:{key}={text}: {text!r} is not a valid {type(default).__name__}"
        ) from None
    return text


def parse_params(specs: Sequence[str]) -> dict[str, dict[str, list[Any]]]:
    """``["swish:beta=0.5,1", "swish:..."]`` -> ``{"swish": {"beta": [0.5, 1.0]}}``.

    Example:
        >>> parse_params(["Swish:beta=0.5,2", "elu:alpha=2"])
        {'swish': {'beta': [0.5, 2.0]}, 'elu': {'alpha': [2.0]}}
    """
    out: dict[str, dict[str, list[Any]]] = {}
    for spec in specs:
        name, sep, rest = spec.partition(":")
        key, eq, values = rest.partition("=")
        if not (sep and eq and name.strip() and key.strip() and values.strip()):
            raise ValueError(
                f"--param {spec!r}: expected NAME:KEY=VALUE[,VALUE...], e.g. swish:beta=0.5,1,2"
            )
        act = functions.get(name.strip())
        key = key.strip()
        vals = [_convert(act, key, v.strip()) for v in values.split(",") if v.strip()]
        out.setdefault(act.name, {}).setdefault(key, []).extend(vals)
    return out


def expand(
    names: Sequence[str], params: dict[str, dict[str, list[Any]]], *, default_all: bool
) -> list[tuple[functions.Activation, dict[str, Any]]]:
    """Activations to process, one per parameter combination, in the order named.

    With no names: every catalogue entry when ``default_all`` (the vector ones are
    left to the caller), else those named in ``params``.
    """
    acts = [functions.get(n) for n in names]
    if not acts:
        if default_all:
            acts = [functions.get(n) for n in functions.names()]
            acts = [a for a in acts if a.kind == "elementwise"]
        else:
            acts = [functions.get(n) for n in params]
    listed = {a.name for a in acts}
    missing = [n for n in params if n not in listed]
    if missing:
        raise ValueError(
            f"--param names {', '.join(map(repr, missing))}, which "
            f"{'is' if len(missing) == 1 else 'are'} not among the activations asked for"
        )
    out = []
    seen: set[str] = set()
    for act in acts:
        if act.name in seen:
            continue
        seen.add(act.name)
        spec = params.get(act.name, {})
        keys = list(spec)
        for combo in itertools.product(*spec.values()) if keys else [()]:
            given = dict(zip(keys, combo))
            act.resolve(given)  # validate now: one clear error before any work
            out.append((act, given))
    return out


# --------------------------------------------------------------------------------------
# formatting
def _n(v: float | None, digits: int = 4) -> str:
    if v is None:
        return "?"
    if math.isinf(v):
        return "-inf" if v < 0 else "inf"
    if v == 0:
        return "0"
    return f"{v:.{digits}g}"


def _pct(v: float) -> str:
    return "0" if v == 0 else f"{100 * v:.3g}%"


COLUMNS = [
    "activation",
    "monotonic",
    "bounded below",
    "bounded above",
    "saturates left",
    "saturates right",
    "max abs f'",
    "smoothness",
    "zero-centred",
    "zero outputs",
    "zero grads",
    "gain (torch)",
]


def _smooth(c: Any) -> str:
    p = c.properties
    pts = ", ".join(_n(k) for k in p.kinks)
    if p.smoothness == "discontinuous":
        return f"discontinuous (jumps: {pts})"
    if p.smoothness == "C0":
        return f"C0 (kinks: {pts})"
    if p.smoothness == "C1":
        return f"C1 (f'' jumps: {', '.join(_n(k) for k in p.c1_points)})"
    return "Cinf" if p.smoothness == "Cinf" else p.smoothness


def cells(c: Any) -> list[str]:
    """The table cells of one :class:`~actlab.analysis.properties.Criteria` row."""
    p, m = c.properties, c.std_normal
    lo, hi = p.min_value, p.max_value
    mono = "yes" if p.monotonic else "no"
    if not p.monotonic and p.argmin is not None:
        mono += f": min {_n(lo)} at {_n(p.argmin)}"
    below = f"yes: {'>=' if p.range_attained[0] else '>'} {_n(lo)}" if c.bounded_below else "no"
    above = f"yes: {'<=' if p.range_attained[1] else '<'} {_n(hi)}" if c.bounded_above else "no"
    sat = [f"{'yes' if t.saturates else 'no'}: {t.describe()}" for t in (c.left, c.right)]
    dmax = _n(c.max_abs_derivative)
    if c.argmax_abs_derivative is not None and math.isfinite(c.max_abs_derivative):
        dmax += f" at {_n(c.argmax_abs_derivative)}"
    zc = "yes" if p.zero_centred else f"no: E f = {_n(m.mean)}"
    gain = _n(c.gain)
    if c.torch_gain is not None:
        gain += f" ({_n(c.torch_gain)})"
    row = [c.label, mono, below, above, *sat, dmax, _smooth(c), zc]
    row += [_pct(m.zero_fraction), _pct(m.zero_grad_fraction), gain]
    if c.cost is not None:
        row.append(_n(c.cost, 3) + (f" ({_n(c.cost_torch, 3)})" if c.cost_torch else ""))
    return row


def _vector_row(act: functions.Activation, cost: bool) -> list[str]:
    return [act.name] + [NOT_APPLICABLE] * (len(COLUMNS) - 1 + cost)


def _vector_dict(act: functions.Activation) -> dict[str, Any]:
    keys = [
        "monotonic",
        "min_value",
        "argmin",
        "bounded_below",
        "bounded_above",
        "saturates_left",
        "saturates_right",
        "max_abs_derivative",
        "zero_centred",
        "mean_std_normal",
        "sparsity_std_normal",
        "smoothness",
        "gain",
    ]
    return {
        "name": act.name,
        "label": act.name,
        "kind": "vector",
        **dict.fromkeys(keys),
        "note": "not elementwise (mixes values along `dim`): these properties do not apply",
    }


def _flat(d: dict[str, Any]) -> dict[str, Any]:
    """One CSV row: nested tails and moments spread over columns, lists joined by ';'."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if k in ("tail_left", "tail_right") and isinstance(v, dict):
            for kk, vv in v.items():
                if kk != "describe":
                    out[f"{k}_{kk}"] = vv
        elif k == "moments" and isinstance(v, list):
            for m in v:
                s = f"{m['scale']:g}"
                for kk, vv in m.items():
                    if kk != "scale":
                        out[f"{kk}_s{s}"] = vv
        elif k == "params" and isinstance(v, dict):
            out[k] = ";".join(f"{kk}={vv}" for kk, vv in v.items())
        elif isinstance(v, (list, tuple)):
            out[k] = ";".join(str(x) for x in v)
        else:
            out[k] = v
    return out


def render(
    rows: Sequence[Any], fmt: str, *, cost: bool = False, vector: Sequence[Any] = ()
) -> None:
    """Print criteria rows (and n/a rows for named vector activations) in ``fmt``."""
    if fmt == "json":
        data = [r.as_dict() for r in rows] + [_vector_dict(a) for a in vector]
        print(json.dumps(data, indent=2, allow_nan=False))
        return
    if fmt == "csv":
        data = [_flat(r.as_dict()) for r in rows] + [_flat(_vector_dict(a)) for a in vector]
        fields: list[str] = []
        for d in data:
            fields += [k for k in d if k not in fields]
        w = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(data)
        return
    cols = COLUMNS + (["cost (torch)"] if cost else [])
    body = [cells(r) for r in rows] + [_vector_row(a, cost) for a in vector]
    print_table(
        "computed properties; moments for z ~ N(0, 1); gain = 1/sqrt(E f(z)^2) "
        "(torch.nn.init.calculate_gain)",
        cols,
        body,
        fmt,
    )


def cmd_props(args: argparse.Namespace) -> int:
    from ..analysis import properties

    params = parse_params(args.param)
    scales = [float(s) for s in args.scales.split(",") if s.strip()]
    if not scales or any(not (s > 0 and math.isfinite(s)) for s in scales):
        raise ValueError(f"--scales must be positive numbers, got {args.scales!r}")
    items = expand(args.names, params, default_all=True)
    vector = [a for a, _ in items if a.kind != "elementwise"]
    pairs = [(a, g) for a, g in items if a.kind == "elementwise"]
    options = {"repeats": args.repeats, "n": args.elements}
    if args.threads:
        options["threads"] = args.threads
    rows = properties.table(pairs, scales=scales, cost=args.cost, cost_options=options)
    render(rows, args.format, cost=args.cost, vector=vector)
    if args.format in ("table", "markdown") and not args.names:
        skipped = [n for n in functions.names() if functions.get(n).kind != "elementwise"]
        print(
            f"\nNot elementwise, so not in the table: {', '.join(skipped)}.",
            file=sys.stderr if args.format == "table" else sys.stdout,
        )
    return EXIT_OK


def register(sub: Any) -> None:
    """Add ``actlab props`` to the ``actlab`` parser."""
    p = sub.add_parser(
        "props",
        help="the criteria table: properties computed from each function, with their numbers",
        description=(
            "One row per activation, one column per criterion, each computed numerically "
            "from the function and its derivative. Vector activations (softmax, glu, ...) "
            "are not elementwise: left out, or n/a when named."
        ),
    )
    p.add_argument("names", nargs="*", help="activations (default: every elementwise one)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE",
        help="parameter values, e.g. swish:beta=0.5,1,2 (one row per value); repeatable",
    )
    p.add_argument("--format", choices=["table", "markdown", "csv", "json"], default="table")
    p.add_argument(
        "--scales",
        default="0.5,1,2",
        help="standard deviations s of z ~ N(0, s^2) for the moments in json/csv "
        "(default: 0.5,1,2; s = 1 is always included)",
    )
    p.add_argument(
        "--cost",
        action="store_true",
        help="also time forward+backward over ReLU's, actlab and PyTorch native (slow; "
        "machine-dependent)",
    )
    p.add_argument("--repeats", type=int, default=5, help="timing rounds for --cost (default: 5)")
    p.add_argument(
        "--elements",
        type=int,
        default=1_000_000,
        help="float32 elements per timing for --cost (default: 1000000)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch threads for --cost")
    p.set_defaults(func=cmd_props)
