"""What the monitor adds to a training step: a ~1M-parameter MLP and a small CNN on CPU.

Two copies of each model (same weights, same batches) are trained side by side,
one with ``actlab.Monitor`` attached for the whole run and one without; short
blocks of steps alternate between them (ABBA order), so that each pair of blocks
sees the same machine state (other processes come and go on a shared machine).
Reported: the median over pairs of the ratio of mean step times (with its
interquartile range), and the ratio of total times, which includes the monitor's
window closes (every 100 steps by default) and every hiccup of the machine.

    python benchmarks/monitor_overhead.py                 # default settings
    python benchmarks/monitor_overhead.py --every 4       # sampling every 4th step
    python benchmarks/monitor_overhead.py --markdown      # a docs/benchmarks.md section
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch import nn

import actlab
from actlab.analysis.machine import describe


def mlp() -> nn.Module:
    # 784-512-512-512-10: 932,362 parameters
    return nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(),
        nn.Linear(512, 512), nn.ReLU(),
        nn.Linear(512, 512), nn.ReLU(),
        nn.Linear(512, 10),
    )  # fmt: skip


def cnn() -> nn.Module:
    # CIFAR-sized input, 4 conv layers + 1 hidden linear: 591,274 parameters
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 128), nn.ReLU(), nn.Linear(128, 10),
    )  # fmt: skip


def measure(
    name: str,
    make: type | object,
    shape: tuple[int, ...],
    batch: int,
    blocks: int,
    steps: int,
    monitor_kwargs: dict,
) -> dict:
    torch.manual_seed(0)
    base = make()  # type: ignore[operator]
    models = {"off": base, "on": copy.deepcopy(base)}
    opts = {k: torch.optim.SGD(m.parameters(), lr=0.01) for k, m in models.items()}
    data = [torch.randn(batch, *shape) for _ in range(8)]
    labels = [torch.randint(0, 10, (batch,)) for _ in range(8)]
    loss_fn = nn.CrossEntropyLoss()
    mon = actlab.Monitor(models["on"], **monitor_kwargs).attach()
    times: dict[str, list[float]] = {"off": [], "on": []}
    pairs: list[float] = []
    counters = {"off": 0, "on": 0}

    def block(which: str) -> float:
        m, opt = models[which], opts[which]
        t0 = time.perf_counter()
        for _ in range(steps):
            i = counters[which] % len(data)
            counters[which] += 1
            opt.zero_grad(set_to_none=True)
            loss_fn(m(data[i]), labels[i]).backward()
            opt.step()
        return (time.perf_counter() - t0) / steps

    block("off")  # warm-up both
    block("on")
    for b in range(blocks):
        order = ("off", "on") if b % 2 == 0 else ("on", "off")
        for which in order:
            times[which].append(block(which))
        pairs.append(times["on"][-1] / times["off"][-1])
    mon.detach()
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    q1, _, q3 = statistics.quantiles(pairs, n=4)
    return {
        "model": name,
        "params": sum(p.numel() for p in base.parameters()),
        "batch": batch,
        "sites": len(mon.layers),
        "k": mon.sampling,
        "step_off_ms": 1e3 * off,
        "step_on_ms": 1e3 * on,
        "ratio_median": statistics.median(pairs),
        "ratio_iqr": (q1, q3),
        "ratio_total": sum(times["on"]) / sum(times["off"]),
        "steps_each": blocks * steps,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--blocks", type=int, default=60, help="blocks per variant (default 60)")
    ap.add_argument("--steps", type=int, default=5, help="steps per block (default 5)")
    ap.add_argument("--every", type=int, default=None, help="Monitor(every=...) (default: default)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--markdown", action="store_true", help="print a docs/benchmarks.md section")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    kw = {} if args.every is None else {"every": args.every}
    b, s = args.blocks, args.steps
    rows = [
        measure("MLP 784-512-512-512-10", mlp, (784,), 128, b, s, kw),
        measure("CNN 4 conv + 2 linear, 3x32x32", cnn, (3, 32, 32), 32, b, s, kw),
    ]
    machine = describe()
    settings = ", ".join(f"{k}={v}" for k, v in kw.items()) or "default settings"
    print(f"# monitor overhead ({settings}), {machine['date']}")
    print(
        f"# {machine['cpu']}, {machine['cores']} cores, {machine['torch_threads']} torch threads, "
        f"torch {machine['torch']}, Python {machine['python']}, actlab {machine['actlab']}"
    )
    head = (
        "| model | params | batch | sites | step without (ms) | step with (ms) "
        "| ratio (median of pairs, IQR) | ratio (total) | measured every k-th step |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['params']:,} | {r['batch']} | {r['sites']} | "
            f"{r['step_off_ms']:.2f} | {r['step_on_ms']:.2f} | {r['ratio_median']:.3f} "
            f"({r['ratio_iqr'][0]:.2f}-{r['ratio_iqr'][1]:.2f}) | "
            f"{r['ratio_total']:.3f} | {r['k']} |"
        )
    print("\n".join(lines))
    if args.markdown:
        print(f"\n{args.blocks} blocks x {args.steps} steps per variant, interleaved.")


if __name__ == "__main__":
    main()
