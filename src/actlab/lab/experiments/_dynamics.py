"""What the training-dynamics experiments (C4, C7, C8, C14, C16) share.

Two training plans, so that experiments asking for the same configuration get the
same stored trials (trained once):

* :func:`adam_plan` - a small MLP on MNIST-1D trained with Adam, evaluated on the
  test set with Gaussian input noise as well (``eval_noise`` changes only the
  evaluation, so every trial of the plan carries the noise accuracy for free).
  C4 (sparsity), C8 (input shifts) and C16 (output layer) all start from it.
* :func:`sgd_plan` - the same kind of MLP trained with plain SGD over a ladder of
  learning rates (seeds and learning rates share one batched group). C14
  (stability at large steps) and C7 (convergence speed) read the same trials.

And small helpers over per-seed records: paired comparisons with Holm's
correction, a direction per comparison, and number formatting for sentences.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .. import stats

#: Significance level of every test in this group (after Holm's correction where a
#: family of comparisons answers one question).
ALPHA = 0.05
#: With fewer seeds a paired t-test has at most 2 degrees of freedom (critical t 4.3):
#: only huge effects resolve, and a verdict resting on it is provisional.
MIN_SEEDS = 4


def seeds(profile: str) -> list[int]:
    """Seeds per profile: 2 for the smoke test, 5 for the report, 10 for ``full``."""
    return {"smoke": [0, 1], "quick": list(range(5)), "full": list(range(10))}[profile]


def adam_plan(profile: str) -> dict[str, Any]:
    """The fixed settings every Adam trial of this group shares (without ``activation``)."""
    size = {
        "smoke": {"hidden": [16], "epochs": 2},
        # 10 epochs: MNIST-1D's MLPs reach most of their test accuracy and start to
        # overfit (train accuracy keeps rising, test accuracy flattens) by then.
        "quick": {"hidden": [64, 64], "epochs": 10},
        "full": {"hidden": [100, 100], "epochs": 30},
    }[profile]
    return {
        "data": "mnist1d",
        "model": "mlp",
        "optimizer": "adam",
        "lr": 0.01,
        "batch_size": 100,
        # noise of half the standardised inputs' SD: a visible perturbation (MNIST-1D's
        # own generator adds noise of that order) that does not reduce every model to chance
        "eval_noise": 0.5,
        **size,
    }


def sgd_plan(profile: str) -> tuple[dict[str, Any], list[float]]:
    """(fixed settings, learning-rate ladder) of the plain-SGD trials (C7, C14)."""
    fixed: dict[str, Any] = {"data": "mnist1d", "model": "mlp", "optimizer": "sgd",
                             "batch_size": 100}  # fmt: skip
    if profile == "smoke":
        return {**fixed, "hidden": [16], "epochs": 2}, [0.3, 10.0]
    if profile == "quick":
        # 4 learning rates x 4 seeds = 16 models: one batched chunk per activation
        return {**fixed, "hidden": [64, 64], "epochs": 6}, [0.3, 1.0, 3.0, 10.0]
    return {**fixed, "hidden": [100, 100], "epochs": 15}, [0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]


def sgd_seeds(profile: str) -> list[int]:
    """Seeds of the SGD ladder (4 in ``quick`` so that a chunk holds the whole ladder)."""
    return {"smoke": [0, 1], "quick": list(range(4)), "full": list(range(8))}[profile]


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def per_seed(records: Iterable[dict[str, Any]], metric: str, **match: Any) -> dict[int, float]:
    """``{seed: record[metric]}`` over the records whose fields equal ``match``."""
    out = {}
    for r in records:
        if all(r.get(k) == v for k, v in match.items()):
            out[int(r["seed"])] = float(r[metric])
    return out


def paired(
    a: dict[int, float], b: dict[int, float], labels: tuple[str, str]
) -> stats.Comparison | None:
    """``a - b`` over the seeds both have with finite values (``None`` with fewer than 2)."""
    common = sorted(s for s in set(a) & set(b) if finite(a[s]) and finite(b[s]))
    if len(common) < 2:
        return None
    return stats.compare_paired([a[s] for s in common], [b[s] for s in common], labels=labels)


def holm_directions(comps: Sequence[stats.Comparison | None]) -> list[tuple[int, float]]:
    """(direction, Holm-adjusted p) per comparison: +1 if a > b, -1 if a < b, 0 if unresolved."""
    ps = [c.p_value if c is not None and finite(c.p_value) else 1.0 for c in comps]
    adj = stats.holm(ps) if ps else []
    out = []
    for c, p in zip(comps, adj):
        if c is None or p >= ALPHA:
            out.append((0, float(p)))
        else:
            out.append((1 if c.mean_diff > 0 else -1, float(p)))
    return out


def mean(xs: Iterable[float]) -> float:
    v = [x for x in xs if finite(x)]
    return sum(v) / len(v) if v else float("nan")


def pts(x: float, digits: int = 1, sign: bool = True) -> str:
    """A difference of fractions in percentage points: 0.0123 -> '+1.2 points'."""
    return f"{100 * x:{'+' if sign else ''}.{digits}f} points"


def ci_pts(c: stats.Comparison, digits: int = 1, sign: bool = True) -> str:
    """'+1.2 points (95% CI [0.3, 2.1], n = 5)': a comparison of fractions in a sentence."""
    return (
        f"{pts(c.mean_diff, digits, sign)} (95% CI [{100 * c.ci_low:.{digits}f}, "
        f"{100 * c.ci_high:.{digits}f}], n = {c.n})"
    )


def ci_num(c: stats.Comparison, digits: int = 3) -> str:
    """'+0.123 (95% CI [0.05, 0.2], n = 5)': a comparison of plain numbers (losses)."""
    return (
        f"{c.mean_diff:+.{digits}f} (95% CI [{c.ci_low:.{digits}f}, {c.ci_high:.{digits}f}], "
        f"n = {c.n})"
    )


def lr_str(lr: float | None) -> str:
    return "none" if lr is None else f"{lr:g}"


def rows_to_records(
    rows: Iterable[dict[str, Any]], keys: Sequence[str], extract: Callable[[dict], dict]
) -> list[dict[str, Any]]:
    """Compact JSON records from sweep rows: the ``keys`` plus what ``extract`` reads."""
    out = []
    for r in rows:
        if r.get("status", "complete") != "complete" or not r.get("history"):
            continue
        out.append({**{k: r[k] for k in keys}, **extract(r)})
    return out
