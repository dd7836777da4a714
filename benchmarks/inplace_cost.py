"""In-place activations: actlab's ``inplace=True`` beside PyTorch's, in a quiet loop.

Each call overwrites a buffer that is refilled from the same input before it, untimed;
the baseline that matches the work is a copy into an existing buffer (read one tensor,
write another), timed the same way. Medians of interleaved rounds, in microseconds, and
each in-place op over the copy. ``actlab bench --inplace`` times the same forms inside its
full run, where the autograd passes of the other cells slow the small ones down; this
script isolates them.

Usage:
    python benchmarks/inplace_cost.py [--size 1M] [--repeats 41] [names ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

import actlab
import actlab.functional as AF
from actlab.analysis.bench import native_inplace_op

DEFAULT = ("relu", "relu6", "leaky_relu", "hard_swish", "elu")


def measure(names: list[str], size: int, repeats: int) -> dict[str, dict[str, float]]:
    """Median microseconds per call: {name: {"actlab": .., "torch": ..}, "copy": {...}}."""
    x = torch.randn(size, generator=torch.Generator().manual_seed(0)) * 3
    buf = torch.empty_like(x)
    fns: dict[tuple[str, str], Callable[[], object]] = {("copy", "into"): lambda: None}
    for name in names:
        act = actlab.get(name)
        if not act.inplace:
            raise SystemExit(f"{name} has no in-place form")
        fns[(name, "actlab")] = lambda act=act: AF.apply(act, buf, inplace=True)
        op = native_inplace_op(act.name)
        if op is not None:
            fns[(name, "torch")] = lambda op=op: op(buf)
    times: dict[tuple[str, str], list[float]] = {k: [] for k in fns}
    for r in range(repeats + 3):  # 3 rounds of warm-up
        for k, f in fns.items():
            if k != ("copy", "into"):
                buf.copy_(x)
            t0 = time.perf_counter()
            if k == ("copy", "into"):
                buf.copy_(x)
            else:
                f()
            dt = time.perf_counter() - t0
            if r >= 3:
                times[k].append(dt)
    out: dict[str, dict[str, float]] = {}
    for (name, impl), v in times.items():
        out.setdefault(name, {})[impl] = statistics.median(v) * 1e6
    return out


def _size(text: str) -> int:
    t = text.strip().upper()
    mult = {"K": 1 << 10, "M": 1 << 20}.get(t[-1:], 1)
    return int(float(t[:-1] if t[-1:] in "KM" else t) * mult)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", default=list(DEFAULT))
    p.add_argument("--size", type=_size, default=1 << 20)
    p.add_argument("--repeats", type=int, default=41)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    res = measure(a.names, a.size, a.repeats)
    if a.json:
        print(json.dumps({"size": a.size, "threads": torch.get_num_threads(), "us": res}, indent=1))
        return
    copy = res.pop("copy")["into"]
    threads = torch.get_num_threads()
    print(f"{a.size} float32 elements, {threads} threads, medians in µs; a copy into a buffer:")
    print(f"{'copy':14s} {copy:8.0f}")
    print(f"{'in place':14s} {'actlab':>8s} {'torch':>8s} {'actlab/copy':>12s} {'torch/copy':>11s}")
    for name, r in res.items():
        t = r.get("torch", float("nan"))
        print(f"{name:14s} {r['actlab']:8.0f} {t:8.0f} {r['actlab'] / copy:12.2f} {t / copy:11.2f}")


if __name__ == "__main__":
    main()
