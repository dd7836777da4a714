"""What several experiments share: the comparison sweep and small helpers over sweep rows.

The comparison sweep (the seed texts' activations x learning rates x seeds, an
MLP on MNIST-1D and on digits) answers C9-C13 and feeds C18; experiments that
ask for it with the same profile get the same stored trials, trained once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import Context

#: The activations the seed texts compare (issue 5's grid).
COMPARED = ["sigmoid", "tanh", "relu", "relu6", "leaky_relu", "prelu", "rrelu", "elu",
            "softplus", "silu", "mish", "gelu"]  # fmt: skip


def comparison_plan(profile: str, data: str = "mnist1d") -> tuple[dict[str, Any], dict[str, list]]:
    """The (fixed, grid) of the comparison sweep on ``data`` under ``profile``."""
    fixed: dict[str, Any] = {
        "data": data,
        "model": "mlp",
        "hidden": [100, 100],
        "optimizer": "adam",
        "batch_size": 100,
    }
    if profile == "smoke":
        fixed.update(hidden=[32], epochs=2)
        grid = {"activation": COMPARED, "lr": [0.01], "seed": [0, 1]}
    elif profile == "quick":
        fixed["epochs"] = 20
        lrs = [0.001, 0.01] if data == "mnist1d" else [0.01]
        # 8 seeds x 2 learning rates fill one batched chunk (sweep.CHUNK = 16) per
        # activation; 5 seeds left C12/C13's intervals as wide as their 1-point margins.
        grid = {"activation": COMPARED, "lr": lrs, "seed": list(range(8))}
    else:
        fixed["epochs"] = 50
        grid = {"activation": COMPARED, "lr": [0.0003, 0.001, 0.003, 0.01], "seed": list(range(10))}
    return fixed, grid


def comparison(ctx: Context, data: str = "mnist1d") -> list[dict[str, Any]]:
    """The comparison sweep's rows (trained once per store and profile, then read back)."""
    fixed, grid = comparison_plan(ctx.profile, data)
    return ctx.sweep(f"comparison-{data}", fixed, grid)


def comparison_description(profile: str) -> str:
    """The comparison sweep in one line, for an experiment's ``setup``."""
    fixed, grid = comparison_plan(profile)
    lrs = "; ".join(f"{d} {comparison_plan(profile, d)[1]['lr']}" for d in datasets(profile))
    return (
        f"the comparison sweep: MLP {fixed['hidden']}, Adam, {fixed['epochs']} epochs, batch "
        f"{fixed['batch_size']}, learning rates {lrs}, seeds {grid['seed']}"
    )


def datasets(profile: str) -> list[str]:
    """The data sets the comparison runs on under ``profile``."""
    return ["mnist1d"] if profile == "smoke" else ["mnist1d", "digits"]


def group(rows: Iterable[dict[str, Any]], *keys: str) -> dict[tuple, list[dict[str, Any]]]:
    """Rows grouped by the values of ``keys`` (finished rows only), in first-seen order."""
    out: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r.get("status", "complete") == "complete":
            out[tuple(_hashable(r[k]) for k in keys)].append(r)
    return dict(out)


def by_seed(
    rows: Iterable[dict[str, Any]], metric: Callable[[dict[str, Any]], float]
) -> dict[int, float]:
    """``{seed: metric(row)}`` (for paired comparisons across shared seeds)."""
    return {int(r["seed"] if "seed" in r else r["config"]["seed"]): metric(r) for r in rows}


def final(key: str) -> Callable[[dict[str, Any]], float]:
    """A metric: the last epoch's ``key`` (e.g. ``final("test_acc")``)."""
    return lambda r: float(r["history"][-1][key])


def paired(a: dict[int, float], b: dict[int, float]) -> tuple[list[float], list[float]]:
    """Values of the seeds both have, in seed order."""
    seeds = sorted(set(a) & set(b))
    return [a[s] for s in seeds], [b[s] for s in seeds]


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def fmt_pct(x: float, digits: int = 1) -> str:
    """0.6731 -> '67.3%'."""
    return f"{100 * x:.{digits}f}%"


def names(specs: Sequence[str]) -> str:
    return ", ".join(specs)
