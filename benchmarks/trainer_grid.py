"""The lab's speed benchmark: the seeds' 12 activations x 10 seeds x 50 epochs on MNIST-1D.

Runs the grid of ``examples/sweeps/mnist1d_grid.toml`` through the batched trainer (one
chunk per activation, two worker processes, one thread each, as ``actlab sweep run``
does) and, in the same run, the plain one-model-at-a-time PyTorch loop for a sample of
the same trials (half of them before the grid, half after), and prints:

- the time of the grid and the plain loop's time per run (measured, not assumed),
- the speed-up: (plain time per run x 120) / grid time,
- the test-accuracy distribution per activation beside the MNIST-1D paper's MLP (68%),
- the floating-point work of the grid against its wall time (how close to the floor).

Usage:
    python benchmarks/trainer_grid.py [--epochs 50] [--seeds 10] [--plain-sample 12] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

ACTS = [
    "sigmoid",
    "tanh",
    "relu",
    "relu6",
    "leaky_relu",
    "prelu",
    "rrelu",
    "elu",
    "softplus",
    "silu",
    "mish",
    "gelu",
]


def flops_per_run(epochs: int, n_train: int = 4000, n_test: int = 1000) -> float:
    """Multiply-adds x 2 of a 40-100-100-10 MLP: 3x forward for a training step, 1x for eval."""
    fwd = 2 * (40 * 100 + 100 * 100 + 100 * 10)
    return epochs * (3 * fwd * n_train + fwd * (n_train + n_test))


def torch_loop(c: dict) -> float:
    """The plain PyTorch loop: nn.Sequential with torch.nn activations, Adam, test accuracy."""
    import torch
    from torch import nn

    from actlab.lab import data

    ds = data.load("mnist1d")
    x, y = torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train)
    xt, yt = torch.from_numpy(ds.x_test), torch.from_numpy(ds.y_test)
    native = {
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "relu": nn.ReLU,
        "relu6": nn.ReLU6,
        "leaky_relu": nn.LeakyReLU,
        "prelu": nn.PReLU,
        "rrelu": nn.RReLU,
        "elu": nn.ELU,
        "softplus": nn.Softplus,
        "silu": nn.SiLU,
        "mish": nn.Mish,
        "gelu": nn.GELU,
    }
    act = native[c["activation"]]
    torch.manual_seed(c["seed"])
    model = nn.Sequential(nn.Linear(40, 100), act(), nn.Linear(100, 100), act(), nn.Linear(100, 10))
    opt = torch.optim.Adam(model.parameters(), lr=c["lr"])
    gen = torch.Generator().manual_seed(c["seed"])
    acc = 0.0
    for _ in range(c["epochs"]):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), c["batch_size"]):
            idx = perm[i : i + c["batch_size"]]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():  # the same per-epoch evaluation the lab records
            model.eval()
            acc = (model(xt).argmax(1) == yt).float().mean().item()
            model(x)
            model.train()
    return acc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument(
        "--plain-sample",
        type=int,
        default=12,
        help="how many trials of the grid to also train with the plain loop",
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", help="also write the numbers to this file")
    args = ap.parse_args(argv)

    import torch

    from actlab.analysis import machine
    from actlab.lab import sweep, trainer

    fixed = {
        "data": "mnist1d",
        "model": "mlp",
        "hidden": [100, 100],
        "optimizer": "adam",
        "lr": 0.01,
        "batch_size": 100,
        "epochs": args.epochs,
    }
    spec = {
        "name": "bench",
        "fixed": fixed,
        "grid": {"activation": ACTS, "seed": list(range(args.seeds))},
    }
    trainer.resolve(fixed)
    from actlab.lab import data

    data.load("mnist1d")  # generate and cache before timing anything

    # the plain loops on a sample of trials (one thread, as each worker has)
    sample = [
        {**fixed, "activation": ACTS[i % len(ACTS)], "seed": i // len(ACTS)}
        for i in range(args.plain_sample)
    ]
    # half of the sample before the grid and half after it: the machine's speed drifts over
    # minutes (the same loop took 3.2-3.7 s a run in different runs), and the ratio should
    # not depend on which side of the grid a slow spell falls
    plain_acc: list[float] = []
    plain_s: list[float] = []  # per half: actlab's plain loop, then the textbook loop
    torch_s: list[float] = []

    def plain_loops(part: list[dict]) -> None:
        torch.set_num_threads(1)
        t0 = time.perf_counter()
        plain_acc.extend(trainer.train_plain(c).final["test_acc"] for c in part)
        plain_s.append(time.perf_counter() - t0)
        # ... and the textbook PyTorch loop with torch.nn's own activations: the baseline
        t0 = time.perf_counter()
        for c in part:
            torch_loop(c)
        torch_s.append(time.perf_counter() - t0)

    plain_loops(sample[0::2])  # every other activation, the rest after the grid
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = sweep.run(spec, store=Path(tmp) / "bench.db", workers=args.workers, progress=False)
        grid_s = time.perf_counter() - t0
        rows = sweep.rows(sweep.Sweep.from_dict(spec), Path(tmp) / "bench.db")
    plain_loops(sample[1::2])
    plain_per_run = sum(plain_s) / len(sample)
    torch_per_run = sum(torch_s) / len(sample)
    halves = [len(sample[0::2]), len(sample[1::2])]
    assert report.failed == 0, report.errors
    n_runs = len(ACTS) * args.seeds
    by_act = {a: [r["final_test_acc"] for r in rows if r["activation"] == a] for a in ACTS}
    flops = flops_per_run(args.epochs) * n_runs
    out = {
        "machine": machine.describe(),
        "runs": n_runs,
        "epochs": args.epochs,
        "workers": args.workers,
        "grid_seconds": grid_s,
        "plain_seconds_per_run": plain_per_run,
        "plain_sample": len(sample),
        "torch_loop_seconds_per_run": torch_per_run,
        "torch_loop_seconds_per_run_before_after": [t / k for t, k in zip(torch_s, halves) if k],
        "speedup": plain_per_run * n_runs / grid_s,
        "speedup_vs_torch_loop": torch_per_run * n_runs / grid_s,
        "gflop": flops / 1e9,
        "gflop_per_s": flops / grid_s / 1e9,
        "test_acc": {
            a: {
                "mean": statistics.mean(v),
                "sd": statistics.stdev(v) if len(v) > 1 else 0.0,
                "min": min(v),
                "max": max(v),
            }
            for a, v in by_act.items()
        },
        "plain_sample_test_acc_mean": statistics.mean(plain_acc),
    }
    print(
        f"machine: {out['machine']['cpu']}, {out['machine']['cores']} cores; "
        f"torch {out['machine']['torch']}"
    )
    print(
        f"grid: {n_runs} runs x {args.epochs} epochs in {grid_s:.1f} s "
        f"({args.workers} workers x 1 thread)"
    )
    print(
        f"plain loop: {plain_per_run:.2f} s per run (mean of {len(sample)}, 1 thread); "
        f"x {n_runs} = {plain_per_run * n_runs:.0f} s"
    )
    before_after = " / ".join(f"{t:.2f}" for t in out["torch_loop_seconds_per_run_before_after"])
    print(
        f"textbook PyTorch loop (torch.nn activations): {torch_per_run:.2f} s per run "
        f"({before_after} for the half of the sample run before / after the grid); "
        f"x {n_runs} = {torch_per_run * n_runs:.0f} s"
    )
    print(
        f"speed-up: {out['speedup']:.1f}x over actlab's plain loop, "
        f"{out['speedup_vs_torch_loop']:.1f}x over the textbook PyTorch loop"
    )
    print(
        f"work: {out['gflop']:.0f} GFLOP (train 3x forward + eval forward) -> "
        f"{out['gflop_per_s']:.1f} GFLOP/s"
    )
    print("test accuracy over seeds (MNIST-1D paper's MLP: 68%):")
    for a, s in out["test_acc"].items():
        print(
            f"  {a:11s} {100 * s['mean']:.1f} +/- {100 * s['sd']:.1f}  "
            f"[{100 * s['min']:.1f}, {100 * s['max']:.1f}]"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
