"""What one actlab call costs beyond its kernel: tiny tensors, beside PyTorch's own ops.

On a 16-element float32 tensor an activation's arithmetic is a few nanoseconds, so the
time of a call is its overhead: argument checks, choosing the implementation, allocating
the output, the kernel call, and with autograd the Function's forward and backward. Each
line times actlab's call and PyTorch's equivalent in the same run (least of 7 rounds of
2000 calls, interleaved) and prints both and their difference.

Usage:
    python benchmarks/call_overhead.py [--size 16] [--rounds 7] [--calls 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch

import actlab
import actlab.functional as AF


def cases(size: int) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """(actlab call, PyTorch call) pairs, by name."""
    x = torch.randn(size)
    xg = torch.randn(size, requires_grad=True)
    g = torch.ones(size)
    lrelu, tlrelu = actlab.create("leaky_relu(negative_slope=0.2)"), torch.nn.LeakyReLU(0.2)

    def fwd_bwd(f: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], None]:
        return lambda: f(xg).backward(g)

    F = torch.nn.functional
    return {
        "leaky_relu(x, slope 0.2)": (
            lambda: AF.leaky_relu(x, negative_slope=0.2),
            lambda: F.leaky_relu(x, 0.2),
        ),
        "relu(x)": (lambda: AF.relu(x), lambda: torch.relu(x)),
        "silu(x)": (lambda: AF.silu(x), lambda: F.silu(x)),
        "module LeakyReLU(0.2)": (lambda: lrelu(x), lambda: tlrelu(x)),
        "relu forward+backward": (fwd_bwd(AF.relu), fwd_bwd(torch.relu)),
        "silu forward+backward": (fwd_bwd(AF.silu), fwd_bwd(F.silu)),
    }


def measure(size: int, rounds: int, calls: int) -> dict[str, dict[str, float]]:
    """Microseconds per call, the least over interleaved rounds."""
    fns = {
        (name, impl): f
        for name, pair in cases(size).items()
        for impl, f in zip(("actlab", "torch"), pair)
    }
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            for _ in range(calls // 20):  # warm: caches, the autograd engine
                f()
            t0 = time.perf_counter()
            for _ in range(calls):
                f()
            best[k] = min(best[k], (time.perf_counter() - t0) / calls * 1e6)
    out: dict[str, dict[str, float]] = {}
    for (name, impl), us in best.items():
        out.setdefault(name, {})[impl] = us
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    res = measure(a.size, a.rounds, a.calls)
    if a.json:
        print(json.dumps({"size": a.size, "threads": torch.get_num_threads(), "us": res}, indent=1))
        return
    print(f"{a.size}-element float32 tensors, {torch.get_num_threads()} threads, µs per call")
    print(f"{'call':28s} {'actlab':>8s} {'torch':>8s} {'extra':>8s}")
    for name, r in res.items():
        print(f"{name:28s} {r['actlab']:8.2f} {r['torch']:8.2f} {r['actlab'] - r['torch']:8.2f}")


if __name__ == "__main__":
    main()
