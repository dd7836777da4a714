"""The computed properties of every activation: writes docs/properties.md.

Usage:
    python tools/properties_table.py [-o docs/properties.md] [--cost] [--repeats 5]

The criteria table is exactly ``actlab props --format markdown``; this script adds the
moments under N(0, s^2), the initialisation gain beside ``torch.nn.init.calculate_gain``
with the variance each one keeps, and (``--cost``) forward+backward time over ReLU's.
Everything except the cost section is deterministic and takes a few seconds.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from actlab import functions
from actlab.analysis import machine
from actlab.analysis.properties import Criteria, expectation, relative_cost, table
from actlab.cli.props import COLUMNS, cells

SCALES = (0.5, 1.0, 2.0)


def md(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def g(v: float, digits: int = 4) -> str:
    if math.isinf(v):
        return "inf"
    if abs(v) < 1e-12:
        return "0"
    return f"{v:.{digits}g}"


def fixed_point(c: Criteria, gain: float) -> float:
    """q* with q* = gain^2 E f(sqrt(q*) z)^2: the second moment of the pre-activations
    that a deep stack initialised with this gain settles to (the fixed point reached
    by iterating from q = 1); inf if it grows without bound."""
    act = functions.get(c.name)
    bps = [*c.properties.kinks, *c.properties.c1_points]

    def f2(x):
        return act.forward(x, **c.params) ** 2

    q = 1.0
    for _ in range(500):
        new = gain * gain * expectation(f2, math.sqrt(q), bps)
        if not math.isfinite(new) or new > 1e12:
            return math.inf
        if abs(new - q) < 1e-13 * max(1.0, q):
            return new
        q = new
    return q


def moments_table(rows: Sequence[Criteria]) -> str:
    cols = [
        "activation",
        "E f(z)",
        "Var f(z)",
        "E f'(z)",
        "E f'(z)^2",
        "zero outputs",
        "zero grads",
    ]
    body = []
    for c in rows:
        ms = [c.at(s) for s in SCALES]

        def join(attr: str, ms=ms) -> str:
            return " / ".join(g(getattr(m, attr)) for m in ms)

        body.append(
            [
                c.label,
                join("mean"),
                join("var"),
                join("dmean"),
                join("dsecond"),
                " / ".join(f"{100 * m.zero_fraction:.3g}%" for m in ms),
                " / ".join(f"{100 * m.zero_grad_fraction:.3g}%" for m in ms),
            ]
        )
    return md(cols, body)


def gain_section(rows: Sequence[Criteria]) -> str:
    by = {c.name: c for c in rows}
    body = []
    for c in rows:
        if c.torch_gain is None:
            continue
        q_ours, q_torch = fixed_point(c, c.gain), fixed_point(c, c.torch_gain)
        same = abs(c.gain - c.torch_gain) < 1e-12 * c.gain
        body.append(
            [
                c.name,
                f"{c.gain:.6f}",
                f"{c.torch_gain:.6f}",
                "same" if same else f"{c.torch_gain / c.gain - 1:+.1%}",
                f"{c.std_normal.second:.6f}",
                g(q_ours, 6),
                g(q_torch, 6),
                f"{c.gain_backward:.4f}",
            ]
        )
    table_md = md(
        [
            "activation",
            "gain (ours)",
            "calculate_gain",
            "torch vs ours",
            "E f(z)^2",
            "q* (ours)",
            "q* (torch)",
            "backward gain",
        ],
        body,
    )
    tanh, sig, selu = by["tanh"], by["sigmoid"], by["selu"]
    missing = [
        f"{c.name} {c.gain:.4f}"
        for c in rows
        if c.torch_gain is None
        and c.name in ("gelu", "silu", "mish", "elu", "celu", "softplus", "hard_swish", "prelu")
    ]
    q_tanh = fixed_point(tanh, 5 / 3)
    q_sig = fixed_point(sig, 1.0)
    return f"""## Initialisation gain beside `torch.nn.init.calculate_gain`

The gain is **g = 1 / sqrt(E f(z)^2), z ~ N(0, 1)**: with weights drawn with variance
g^2 / fan_in, pre-activations of second moment 1 give the next layer pre-activations of
second moment g^2 E f(z)^2 = 1. It is the factor of He et al. (2015) for ReLU (sqrt 2)
and of LeCun / Glorot for a linear unit (1). The *backward gain* 1 / sqrt(E f'(z)^2) is
the same for the gradients. q* is the second moment a deep stack settles to with that
gain, the fixed point of q -> g^2 E f(sqrt(q) z)^2 reached from q = 1 (1 means "kept").

{table_md}

Where they differ, and why:

- **relu, leaky_relu, identity**: the same number; PyTorch's values are this second-moment
  gain (sqrt(2 / (1 + a^2)) for Leaky ReLU is exact for any slope a).
- **tanh**: PyTorch's 5/3 = 1.6667 is a heuristic (its documentation gives no derivation);
  the gain that keeps the second moment is {tanh.gain:.4f} (E tanh(z)^2 =
  {tanh.std_normal.second:.4f}): 5/3 is {5 / 3 / tanh.gain - 1:.1%} too large. With 5/3 a deep
  tanh stack settles at q* = {q_tanh:.4f} instead of 1: larger pre-activations, pushed
  further into saturation. The backward gain is {tanh.gain_backward:.4f}: no single
  factor keeps both passes, since E tanh'(z)^2 = {tanh.std_normal.dsecond:.4f} differs
  from E tanh(z)^2.
- **sigmoid**: PyTorch's 1 is no gain at all; sigmoid's outputs are not zero-centred
  (E = 0.5), so E f(z)^2 = {sig.std_normal.second:.4f} and the gain that keeps the
  second moment is {sig.gain:.4f}. With gain 1 the second moment falls to
  q* = {q_sig:.4f} in a deep stack, most of it the squared mean, not signal.
- **selu**: E selu(z)^2 = {selu.std_normal.second:.12f} (mean
  {g(selu.std_normal.mean)}, variance {selu.std_normal.var:.12f}) by construction, so the
  gain is {selu.gain:.6f}: the self-normalising fixed point needs weights of variance
  1/fan_in, which is what PyTorch's own warning says (use `'linear'`, not `'selu'`). Its
  3/4 is a value "found empirically" (pytorch/pytorch#50664) for gradient flow in
  rectangular layers; with it the forward second moment settles at
  q* = {fixed_point(selu, 0.75):.4f}.
- **missing** in PyTorch (it raises ValueError): every other activation here, among
  them {", ".join(missing)}; the table above gives each one's gain in the `gain` column.
"""


def cost_section(
    rows: Sequence[Criteria], repeats: int, n: int, threads: int | None
) -> tuple[str, dict]:
    report = relative_cost([(c.name, {}) for c in rows], repeats=repeats, n=n, threads=threads)
    m = report.machine
    body = sorted(
        (
            [
                lab,
                f"{v:.2f}",
                f"{report.torch_ratios[lab]:.2f}" if lab in report.torch_ratios else "-",
            ]
            for lab, v in report.ratios.items()
        ),
        key=lambda r: float(r[1]),
    )
    text = f"""## Relative cost: forward + backward time over ReLU's

Measured by `relative_cost` ({report.n:,} {report.dtype} elements, forward and backward,
{report.repeats} interleaved rounds after a warm-up, median; {report.threads} torch
threads) on {m["cpu"]}, {m["cores"]} cores, {m["date"]}; torch {m["torch"]}. The first
column is actlab's implementation (the catalogue's definition, computed in float64 for
float32 inputs so that it is exact, with its analytic derivative) over actlab's ReLU
({report.relu_seconds * 1e3:.1f} ms); the second PyTorch's native op over
`torch.nn.functional.relu` (PyTorch's ReLU takes {report.torch_relu:.2f} of actlab's). Ratios
from one run only (on a quiet machine); other machines and other loads give other ratios.

{md(["activation", "actlab / actlab relu", "torch native / torch relu"], body)}
"""
    return text, m


def build(cost: bool, repeats: int, n: int, threads: int | None = None) -> str:
    t0 = time.perf_counter()
    rows = table(scales=SCALES)
    vector = [x for x in functions.names() if functions.get(x).kind != "elementwise"]
    main_table = md(COLUMNS, [cells(c) for c in rows])
    moments = moments_table(rows)
    gains = gain_section(rows)
    elapsed = time.perf_counter() - t0
    cost_text, m = cost_section(rows, repeats, n, threads) if cost else ("", machine.describe())
    command = "python tools/properties_table.py -o docs/properties.md"
    if cost:
        command += f" --cost --repeats {repeats}" + (f" --threads {threads}" if threads else "")
    return f"""# Properties of every activation, computed

Generated by `{command}`; the first table alone is `actlab props --format markdown`. The
tables take {elapsed:.1f} s{" (the cost section longer)" if cost else ""}; everything
but the cost is deterministic. actlab {m["actlab"]}, numpy {m["numpy"]}, torch
{m["torch"]}, Python {m["python"]}.

Nothing here is typed in: each number is computed from the function and its derivative
(`actlab.analysis.properties.criteria`), and the test suite checks every one against the
catalogue's declared metadata and against closed forms. Parameters are the defaults.

## How each criterion is computed

- **monotonic**: f non-decreasing on a grid of step 1/512 over [-40, 40] and out to
  +-3.4e38; where not, the minimum, polished to rounding error as the root of f'.
- **bounded below / above**: the infimum and supremum of f, with `>=` when it is reached
  and `>` when only approached (sigmoid never reaches 0).
- **saturates left / right**: whether f'(x) -> 0 as x -> -inf / +inf, and how fast,
  measured from |f'| far out: `f' = 0 for x < 0` (exactly zero past a point),
  `exp(-c|x|^k)` (k = 1 for sigmoid, tanh, ELU, SiLU; 2 for GELU; 3 for its tanh
  approximation), `|x|^-p` (a power law), or, when it does not saturate, the limit of f'.
- **max abs f'**: sup |f'|, and where it is reached (a kink's one-sided limit counts).
  Below 1 every unit shrinks back-propagated gradients; above 1 they can grow.
- **smoothness**: `discontinuous`, `C0` (f' jumps: kinks), `C1` (f'' jumps), `Cinf`.
- **zero-centred**: E f(z) = 0 for z ~ N(0, 1) (to 1e-9).
- **zero outputs / zero grads**: P(f(z) = 0 exactly), P(f'(z) = 0 exactly), z ~ N(0, 1):
  the sparsity of the outputs and the share of units that pass no gradient.
- **gain (torch)**: 1 / sqrt(E f(z)^2), z ~ N(0, 1), and in brackets
  `torch.nn.init.calculate_gain` where PyTorch has one (see below).

Expectations use Gauss-Legendre panels split at every kink and every jump of f or f''
(exact to rounding error: E relu(z)^2 = s^2/2 and SELU's mean 0 and variance 1 come out
to 1e-15).

## The criteria table

{main_table}

Not elementwise, so not in the table: {", ".join(vector)} (each output depends on the
whole vector along `dim`).

## Moments under N(0, s^2), s = {" / ".join(f"{s:g}" for s in SCALES)}

Each cell gives the value at s = {", ".join(f"{s:g}" for s in SCALES)}, in that order.
E f'(z)^2 is the factor by which a layer scales the second moment of the gradients.

{moments}

{gains}
{cost_text}"""


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", help="write here (default: print)")
    ap.add_argument("--cost", action="store_true", help="add the relative-cost section")
    ap.add_argument("--repeats", type=int, default=5, help="timing rounds (default: 5)")
    ap.add_argument("--elements", type=int, default=1_000_000, help="elements per timing")
    ap.add_argument("--threads", type=int, default=None, help="torch threads for the timing")
    args = ap.parse_args(argv)
    text = build(args.cost, args.repeats, args.elements, args.threads).rstrip() + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
