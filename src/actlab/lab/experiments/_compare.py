"""What the comparison claims (C9-C13) share: compact runs, paired tests, epochs to a threshold.

Every claim of the group reads the shared comparison sweep
(:func:`._common.comparison`): an MLP per activation, learning rate and seed on
each data set of the profile. :func:`load` keeps of each trial only the
per-epoch numbers the analyses use, so an experiment's ``data`` stays small and
tests can write it by hand:

    ``{"runs": {data_set: [{"activation", "lr", "seed", "train_err": [...],
    "train_loss": [...], "test_acc": [...], "dead": [...], "sparsity": [...],
    "grad_first": [...], "grad_last": [...]}, ...]}}``

(one value per epoch). Comparisons pair runs by seed (the seed fixes the
initialisation and the data order, so paired differences cancel that noise),
one cell per data set and learning rate, and correct a claim's family of tests
with Holm's method.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .. import stats
from . import Context
from ._common import comparison, datasets

#: Family-wise significance level of a claim's tests (Holm-corrected): the usual 5%.
ALPHA = 0.05
#: One accuracy point. Gains that papers report for a new activation are of this order
#: (Swish over ReLU: +0.6 to +0.9 top-1 points on ImageNet; PReLU over ReLU: +1.2), so a
#: difference inside it is "about the same" in the texts' sense, and an improvement below it
#: is not one the texts would call an improvement.
ACC_MARGIN = 0.01
#: Candidate training-error thresholds for "epochs to threshold": a 5-point grid, coarse
#: enough that the chosen threshold does not chase seed noise, fine enough to follow a curve.
THRESHOLD_GRID = tuple(round(0.05 * k, 2) for k in range(1, 19))  # 5% ... 90%


# --------------------------------------------------------------------------- loading


def compact(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The finished sweep rows, each reduced to the per-epoch series the analyses read."""
    out = []
    for r in rows:
        if r.get("status", "complete") != "complete" or not r.get("history"):
            continue
        h = r["history"]
        out.append(
            {
                "activation": r["activation"],
                "lr": float(r["lr"]),
                "seed": int(r["seed"]),
                "train_err": [1.0 - float(e["train_acc"]) for e in h],
                "train_loss": [float(e["train_loss"]) for e in h],
                "test_acc": [float(e["test_acc"]) for e in h],
                "dead": [float(e["dead_fraction"]) for e in h],
                "sparsity": [float(e["sparsity"]) for e in h],
                "grad_first": [float(e["grad_norms"][0]) for e in h],
                "grad_last": [float(e["grad_norms"][-1]) for e in h],
            }
        )
    return out


def load(ctx: Context) -> dict[str, list[dict[str, Any]]]:
    """``{data set: compact runs}`` of the shared comparison sweep under ``ctx.profile``."""
    return {d: compact(comparison(ctx, d)) for d in datasets(ctx.profile)}


def select(runs: Sequence[dict[str, Any]], activation: str, lr: float) -> dict[int, dict]:
    """``{seed: run}`` of one activation at one learning rate."""
    return {r["seed"]: r for r in runs if r["activation"] == activation and r["lr"] == lr}


def lrs(runs: Sequence[dict[str, Any]]) -> list[float]:
    return sorted({r["lr"] for r in runs})


def final_test_acc(run: dict[str, Any]) -> float:
    return run["test_acc"][-1]


# --------------------------------------------------------------------------- paired tests


@dataclass(frozen=True)
class Cell:
    """One paired comparison ``a - b`` on one data set at one learning rate."""

    data: str
    lr: float
    a: str
    b: str
    cmp: stats.Comparison
    p_holm: float = math.nan

    @property
    def where(self) -> str:
        return f"{self.data} at lr {self.lr:g}"

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA

    @property
    def better(self) -> bool:
        """``a`` significantly above ``b`` (Holm-corrected)."""
        return self.significant and self.cmp.mean_diff > 0

    @property
    def worse(self) -> bool:
        return self.significant and self.cmp.mean_diff < 0

    def text(self, scale: float = 100, unit: str = "points") -> str:
        c = self.cmp
        return (
            f"{self.a} - {self.b} on {self.where}: {c.mean_diff * scale:+.2f} {unit}, 95% CI "
            f"[{c.ci_low * scale:+.2f}, {c.ci_high * scale:+.2f}], Holm p {fmt_p(self.p_holm)} "
            f"(n = {c.n})"
        )

    def row(self, scale: float = 100) -> list[Any]:
        c = self.cmp
        return [
            self.data, f"{self.lr:g}", f"{self.a} - {self.b}", round(c.mean_diff * scale, 2),
            f"[{c.ci_low * scale:+.2f}, {c.ci_high * scale:+.2f}]", fmt_p(self.p_holm), c.n,
        ]  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        c = self.cmp
        return {
            "data": self.data, "lr": self.lr, "a": self.a, "b": self.b, "n": c.n,
            "mean_a": c.mean_a, "mean_b": c.mean_b, "diff": c.mean_diff,
            "ci_low": c.ci_low, "ci_high": c.ci_high, "p": c.p_value, "p_holm": self.p_holm,
        }  # fmt: skip


CELL_COLUMNS = ["data", "lr", "difference", "mean (points)", "95% CI", "Holm p", "seeds"]


def paired_cells(
    runs: dict[str, Sequence[dict[str, Any]]],
    pairs: Sequence[tuple[str, str]],
    metric: Callable[[dict[str, Any]], float | None] = final_test_acc,
    *,
    confidence: float = 0.95,
) -> list[Cell]:
    """``a - b`` of ``metric``, paired by seed, per data set and learning rate (no correction).

    Seeds where ``metric`` is ``None`` for either run (e.g. a threshold never reached)
    are left out of that cell; a cell with no pair is skipped.
    """
    cells = []
    for data, rs in runs.items():
        for lr in lrs(rs):
            for a, b in pairs:
                ra, rb = select(rs, a, lr), select(rs, b, lr)
                seeds = sorted(set(ra) & set(rb))
                va = [metric(ra[s]) for s in seeds]
                vb = [metric(rb[s]) for s in seeds]
                keep = [i for i in range(len(seeds)) if va[i] is not None and vb[i] is not None]
                if not keep:
                    continue
                cmp = stats.compare_paired(
                    [va[i] for i in keep], [vb[i] for i in keep],
                    labels=(a, b), confidence=confidence,
                )  # fmt: skip
                cells.append(Cell(data, lr, a, b, cmp))
    return cells


def with_holm(cells: Sequence[Cell]) -> list[Cell]:
    """The cells with Holm-adjusted p-values over the whole family (an undefined p counts as 1)."""
    ps = [c.cmp.p_value if not math.isnan(c.cmp.p_value) else 1.0 for c in cells]
    return [replace(c, p_holm=p) for c, p in zip(cells, stats.holm(ps))]


def fmt_p(p: float) -> str:
    if math.isnan(p):
        return "= n/a"
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def where(cells: Iterable[Cell]) -> str:
    """'mnist1d at lr 0.01 (+3.10), digits at lr 0.01 (-0.40)' (differences in points)."""
    return ", ".join(f"{c.a} on {c.where} ({100 * c.cmp.mean_diff:+.2f})" for c in cells)


# --------------------------------------------------------------------------- convergence


def epochs_to(errors: Sequence[float], threshold: float) -> float | None:
    """Epochs until the training error first falls to ``threshold``; ``None`` if it never does.

    ``errors[i]`` is the error after epoch ``i + 1``. Between two evaluations the crossing
    is interpolated linearly (a fraction of an epoch); a crossing in the first epoch counts
    as 1, since the error before training is not recorded.
    """
    prev = None
    for i, e in enumerate(errors):
        if e <= threshold:
            if prev is None or prev == e:
                return float(i + 1)
            return i + (prev - threshold) / (prev - e)
        prev = e
    return None


def strictest_threshold(curves: Iterable[Sequence[float]]) -> float | None:
    """The lowest error on :data:`THRESHOLD_GRID` that every curve reaches; ``None`` if none."""
    worst = max((min(c) for c in curves), default=None)
    if worst is None:
        return None
    return next((t for t in THRESHOLD_GRID if t >= worst - 1e-12), None)


def best_lr(runs: Sequence[dict[str, Any]], activation: str) -> float | None:
    """The learning rate with the lowest mean final training loss (a convergence criterion)."""
    by_lr = {}
    for lr in lrs(runs):
        sel = select(runs, activation, lr)
        losses = [r["train_loss"][-1] for r in sel.values() if math.isfinite(r["train_loss"][-1])]
        if losses:
            by_lr[lr] = sum(losses) / len(losses)
    return min(by_lr, key=by_lr.get) if by_lr else None


def mean_curve(runs: Iterable[dict[str, Any]], key: str) -> list[float]:
    curves = [r[key] for r in runs]
    if not curves:
        return []
    n = min(len(c) for c in curves)
    return [sum(c[i] for c in curves) / len(curves) for i in range(n)]


# --------------------------------------------------------------------------- figures


def plot_cells(ax: Any, cells: Sequence[Cell], *, margin: float | None = None) -> None:
    """Paired differences with their 95% CIs, one marker per cell, grouped by comparison."""
    labels = []
    pairs = list(dict.fromkeys(f"{c.a} - {c.b}" for c in cells))
    for k, pair in enumerate(pairs):
        sel = [c for c in cells if f"{c.a} - {c.b}" == pair]
        xs = [len(labels) + i for i in range(len(sel))]
        ys = [100 * c.cmp.mean_diff for c in sel]
        lo = [100 * (c.cmp.mean_diff - c.cmp.ci_low) for c in sel]
        hi = [100 * (c.cmp.ci_high - c.cmp.mean_diff) for c in sel]
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", capsize=3, label=pair, color=f"C{k}")
        labels += [f"{c.data}\nlr {c.lr:g}" for c in sel]
    ax.axhline(0, color="0.4", lw=0.8)
    if margin is not None:
        for m in (-margin, margin):
            ax.axhline(100 * m, color="0.6", lw=0.8, ls="--")
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_ylabel("difference in test accuracy (points)")
    if len(pairs) > 1:
        ax.legend(fontsize=7)


def cells_dicts(cells: Sequence[Cell]) -> list[dict[str, Any]]:
    return [c.as_dict() for c in cells]


# --------------------------------------------------------------------------- verdict helpers


def deciding(items: Sequence[dict[str, Any]], dims: Sequence[tuple[str, str]]) -> str | None:
    """The fewest of ``dims`` (``(key, name)`` pairs) whose values fix every item's ``status``.

    E.g. ``"the learning rate"`` when each learning rate has one status across data sets,
    ``"the data set and the learning rate"`` when only the pair does; ``None`` if no pair does.
    """
    for size in (1, 2):
        for combo in itertools.combinations(dims, size):
            status: dict[tuple, set[str]] = {}
            for it in items:
                status.setdefault(tuple(it[k] for k, _ in combo), set()).add(it["status"])
            if len(status) > 1 and all(len(v) == 1 for v in status.values()):
                return " and ".join(name for _, name in combo)
    return None


def status(cell: Cell) -> str:
    """'better', 'worse' (Holm-significant) or 'no difference'."""
    return "better" if cell.better else "worse" if cell.worse else "no difference"


def finite(obj: Any) -> Any:
    """``obj`` with NaN and infinities replaced by ``None`` (results.json stays strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj
