"""C11: do Leaky ReLU, PReLU and RReLU keep a gradient everywhere, and improve on ReLU somewhere?

The claim has two parts, measured separately and combined explicitly:

* **non-zero gradient almost everywhere**: the derivative of each function on the
  negative axis (from the catalogue's analytic derivative on a grid), and, in the
  trained networks of the shared comparison sweep, the share of hidden activations
  where the derivative is exactly zero and the share of dead units (zero output on
  every training example), against ReLU's;
* **improve speed or accuracy on some data sets**: each member against ReLU, paired
  by seed, one test per data set and learning rate, on final test accuracy and on
  epochs to a training-error threshold (the lowest error on a 5% grid that every
  compared run reaches at that learning rate), all tests Holm-corrected as one family.
  "On some data sets" is an existential claim: one significant improvement anywhere
  supports it if it is at least a named margin (:data:`~._compare.ACC_MARGIN`,
  :data:`SPEED_MARGIN`); it is refuted when none is found, and provisionally so
  unless every interval excludes improvements beyond the margins.

References: Maas, Hannun, Ng 2013 (leaky ReLU); He et al. 2015 (PReLU); Xu et al.
2015, "Empirical evaluation of rectified activations" (RReLU, and all three on
small image sets).
"""

from __future__ import annotations

import math
from typing import Any

from . import Context, Experiment, Outcome, Table, Verdict, register
from . import _compare as cmp
from ._common import comparison_description, datasets

BASELINE = "relu"
MEMBERS = ("leaky_relu", "prelu", "rrelu")
#: A 10% cut in epochs to the threshold: below it a speed-up is smaller than the
#: seed-to-seed spread of an epoch count of 5-20 epochs, and no text would call it faster.
SPEED_MARGIN = 0.10
#: With fewer seeds a t interval over seeds is too wide to trust: verdict provisional.
MIN_SEEDS = 5
#: The negative half-axis on which the derivative is examined (pre-activations of trained
#: MLPs lie well inside it).
NEG_GRID = (-20.0, 0.0, 2001)


def negative_slopes() -> dict[str, float]:
    """The smallest |f'(x)| for x < 0, from each function's analytic derivative (defaults)."""
    import numpy as np

    from ... import get

    lo, hi, n = NEG_GRID
    x = np.linspace(lo, hi, int(n))[:-1]  # x < 0 only
    out = {}
    for name in (BASELINE, *MEMBERS):
        entry = get(name)
        out[name] = float(np.min(np.abs(entry.grad(np, x, **entry.defaults))))
    return out


def _epochs_metric(threshold: float) -> Any:
    def metric(run: dict[str, Any]) -> float | None:
        e = cmp.epochs_to(run["train_err"], threshold)
        return None if e is None else -math.log(e)  # higher is faster, like accuracy

    return metric


def speed_cells(runs: dict[str, list[dict[str, Any]]]) -> list[cmp.Cell]:
    """Member vs ReLU on log epochs to each (data, lr)'s strictest common threshold."""
    cells = []
    acts = (BASELINE, *MEMBERS)
    for data, rs in runs.items():
        for lr in cmp.lrs(rs):
            sub = [r for r in rs if r["lr"] == lr and r["activation"] in acts]
            thr = cmp.strictest_threshold(r["train_err"] for r in sub)
            if thr is None:
                continue
            got = cmp.paired_cells({data: sub}, [(m, BASELINE) for m in MEMBERS],
                                   metric=_epochs_metric(thr))  # fmt: skip
            cells += [_with_threshold(c, thr) for c in got]
    return cells


def _with_threshold(c: cmp.Cell, thr: float) -> cmp.Cell:
    # the threshold travels in the data set label so the cell prints where it was measured
    return cmp.Cell(f"{c.data}, {100 * thr:.0f}% error", c.lr, c.a, c.b, c.cmp, c.p_holm)


def _speed_text(c: cmp.Cell) -> str:
    m = c.cmp
    return (
        f"{c.a} on {c.where}: {math.exp(m.mean_diff):.2f}x ReLU's speed, 95% CI "
        f"[{math.exp(m.ci_low):.2f}, {math.exp(m.ci_high):.2f}], Holm p {cmp.fmt_p(c.p_holm)}"
    )


def gradient_part(slopes: dict[str, float], zeros: dict[str, float]) -> tuple[bool, str, str]:
    """Whether every member keeps a non-zero derivative where ReLU's is zero; long, short why.

    ``zeros``: the share of hidden activations that are exactly zero in the trained nets.
    ReLU's derivative is zero exactly where its output is (x <= 0), so its share is the
    share of zero derivatives; a member whose slope on x < 0 is positive has none (PReLU's
    learned slope could reach 0: its nets' share of exact zeros would then show it).
    """
    members_ok = all(slopes[m] > 0 for m in MEMBERS) and all(
        zeros.get(m, 0.0) < zeros.get(BASELINE, 0.0) for m in MEMBERS if m in zeros
    )
    text = (
        f"ReLU's derivative is zero on {100 * zeros.get(BASELINE, math.nan):.1f}% of the hidden "
        "activations of the trained nets; the members' smallest |f'(x)| for x < 0 is "
        + ", ".join(f"{k} {slopes[k]:.3g}" for k in MEMBERS)
        + " (PReLU's initial slope, RReLU's test-time one), and their nets have exact zeros in "
        + ", ".join(f"{k} {100 * zeros[k]:.1f}%" for k in MEMBERS if k in zeros)
        + " of activations"
    )
    short = (
        f"ReLU's derivative is zero on {100 * zeros.get(BASELINE, math.nan):.1f}% of activations, "
        f"the members' slope on x < 0 is at least {min(slopes[m] for m in MEMBERS):.3g}"
    )
    return members_ok, text, short


def decide(gradient: tuple[bool, str, str], acc: list[cmp.Cell], speed: list[cmp.Cell]) -> Verdict:
    """Both parts must hold: a non-zero gradient, and an improvement somewhere."""
    gradient_ok, gradient_text, short = gradient
    if not gradient_ok:
        return Verdict("refuted", f"Not every member keeps a non-zero gradient: {gradient_text}.")
    if not acc and not speed:
        return Verdict("not testable here", "No member and ReLU runs share a seed.")
    # an improvement counts when it is significant and as large as the margins below
    # which no text would call one activation better or faster (a small significant gain
    # on one data set is the kind that more seeds, epochs and learning rates undo)
    better = [c for c in acc if c.better and c.cmp.mean_diff >= cmp.ACC_MARGIN]
    better += [c for c in speed if c.better and math.exp(c.cmp.mean_diff) >= 1 + SPEED_MARGIN]
    small = [c for c in [*acc, *speed] if c.better and c not in better]
    few = min(c.cmp.n for c in [*acc, *speed]) < MIN_SEEDS
    if better:
        return Verdict(
            "supported",
            f"The gradient part holds ({short}), and "
            + "; ".join(c.text() if c in acc else _speed_text(c) for c in better)
            + ".",
            provisional=few,
        )
    # no improvement found: is a worthwhile one excluded?
    open_acc = [c for c in acc if c.cmp.ci_high > cmp.ACC_MARGIN]
    open_speed = [c for c in speed if math.exp(c.cmp.ci_high) > 1 + SPEED_MARGIN]
    largest = max(acc, key=lambda c: c.cmp.ci_high) if acc else None
    fastest = max(speed, key=lambda c: c.cmp.ci_high) if speed else None
    bounds = []
    if largest:
        bounds.append(
            f"the largest accuracy gain the intervals allow is {100 * largest.cmp.ci_high:+.2f} "
            f"points ({largest.a} on {largest.where})"
        )
    if fastest:
        bounds.append(
            f"the largest speed-up {math.exp(fastest.cmp.ci_high):.2f}x "
            f"({fastest.a} on {fastest.where})"
        )
    worse = [c for c in [*acc, *speed] if c.worse]
    small_text = "; ".join(_speed_text(c) if c in speed else c.text() for c in small)
    return Verdict(
        "refuted",
        f"The gradient part holds ({short}), but no member improves accuracy or speed over "
        f"ReLU anywhere by the margins (Holm, {len(acc) + len(speed)} tests"
        + (f", {len(worse)} significantly worse" if worse else "")
        + (f"; significant but smaller: {small_text}" if small else "")
        + "); "
        + "; ".join(bounds)
        + f", against margins of {100 * cmp.ACC_MARGIN:g} point and {100 * SPEED_MARGIN:g}%.",
        # an interval reaching past a margin leaves room for an improvement this data missed
        provisional=few or bool(open_acc or open_speed),
    )


@register
class Leaky(Experiment):
    id = "C11"
    title = "Leaky ReLU, PReLU and RReLU against ReLU"
    question = (
        "Do Leaky ReLU, PReLU and RReLU keep a non-zero gradient where ReLU's is zero, and does "
        "at least one of them train faster or reach a higher test accuracy than ReLU on some "
        "data set?"
    )

    def setup(self, profile: str) -> dict[str, Any]:
        return {
            "data": ", ".join(datasets(profile)),
            "runs": comparison_description(profile),
            "activations": f"{', '.join(MEMBERS)} (catalogue defaults: leaky slope 0.01, PReLU "
            "slope learned from 0.25, RReLU slopes drawn in [1/8, 1/3] in training) vs relu",
            "gradient": "analytic derivative on x in [-20, 0); zero-derivative share and dead "
            "units in the trained nets (last epoch)",
            "improvement": "final test accuracy and epochs to a training-error threshold, paired "
            "by seed, per data set and learning rate; Holm over all tests",
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        runs = cmp.load(ctx)
        keep = {BASELINE, *MEMBERS}
        return {
            "runs": {d: [r for r in rs if r["activation"] in keep] for d, rs in runs.items()},
            "min_negative_slope": ctx.measure("c11-negative-slopes", negative_slopes),
        }

    def _unit_stats(self, data: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
        """Mean share of exact-zero activations and dead fraction per activation (last epoch)."""
        zero, dead = {}, {}
        for act in (BASELINE, *MEMBERS):
            rs = [r for rr in data["runs"].values() for r in rr if r["activation"] == act]
            if rs:
                zero[act] = sum(r["sparsity"][-1] for r in rs) / len(rs)
                dead[act] = sum(r["dead"][-1] for r in rs) / len(rs)
        return zero, dead

    def analyse(self, data: dict[str, Any]) -> Outcome:
        pairs = [(m, BASELINE) for m in MEMBERS]
        acc_raw = cmp.paired_cells(data["runs"], pairs)
        speed_raw = speed_cells(data["runs"])
        family = cmp.with_holm([*acc_raw, *speed_raw])
        acc, speed = family[: len(acc_raw)], family[len(acc_raw) :]
        zero, dead = self._unit_stats(data)
        gradient = gradient_part(data["min_negative_slope"], zero)
        ok, gtext, _ = gradient
        verdict = decide(gradient, acc, speed)
        findings = [
            f"Non-zero gradient: {gtext}.",
            "Dead units (zero output on every training example, last epoch, mean over runs): "
            + ", ".join(f"{k} {100 * v:.1f}%" for k, v in dead.items())
            + ".",
        ]
        for m in MEMBERS:
            mine = [c for c in acc if c.a == m]
            if mine:
                findings.append(
                    f"{m} vs ReLU, test accuracy: "
                    + "; ".join(
                        f"{c.where} {100 * c.cmp.mean_diff:+.2f} "
                        f"[{100 * c.cmp.ci_low:+.2f}, {100 * c.cmp.ci_high:+.2f}]"
                        for c in mine
                    )
                    + " points."
                )
            mine_s = [c for c in speed if c.a == m]
            if mine_s:
                findings.append(
                    f"{m} vs ReLU, speed (ReLU's epochs over {m}'s, to the threshold): "
                    + "; ".join(
                        f"{c.where} {math.exp(c.cmp.mean_diff):.2f}x "
                        f"[{math.exp(c.cmp.ci_low):.2f}, {math.exp(c.cmp.ci_high):.2f}]"
                        for c in mine_s
                    )
                    + "."
                )
        tables = [
            Table("Test accuracy, member - ReLU, paired by seed (points)", cmp.CELL_COLUMNS,
                  [c.row() for c in acc]),
            Table(
                "Speed: ReLU's epochs to the threshold over the member's (above 1: faster)",
                ["data, threshold", "lr", "member", "speed-up", "95% CI", "Holm p", "seeds"],
                [[c.data, f"{c.lr:g}", c.a, round(math.exp(c.cmp.mean_diff), 3),
                  f"[{math.exp(c.cmp.ci_low):.2f}, {math.exp(c.cmp.ci_high):.2f}]",
                  cmp.fmt_p(c.p_holm), c.cmp.n] for c in speed],
            ),
        ]  # fmt: skip
        evidence = {
            "gradient_part_holds": ok,
            "min_negative_slope": data["min_negative_slope"],
            "zero_output_share": zero,
            "dead_fraction": dead,
            "accuracy": cmp.cells_dicts(acc),
            "speed_log_epochs": cmp.cells_dicts(speed),
            "margins": {"accuracy": cmp.ACC_MARGIN, "speed": SPEED_MARGIN},
        }
        return Outcome(verdict, cmp.finite(evidence), findings, tables)

    def figure(self, data: dict[str, Any], outcome: Outcome) -> Any:
        import matplotlib.pyplot as plt

        acc = cmp.with_holm(cmp.paired_cells(data["runs"], [(m, BASELINE) for m in MEMBERS]))
        zero, dead = self._unit_stats(data)
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.4, 3.6), width_ratios=[1.6, 1])
        cmp.plot_cells(ax1, acc)
        ax1.set_title("Test accuracy, member - ReLU (95% CI)", fontsize=9)
        names = list(zero)
        xs = range(len(names))
        ax2.bar([x - 0.2 for x in xs], [100 * zero[n] for n in names], 0.4,
                label="exact-zero outputs (% of activations)")  # fmt: skip
        ax2.bar([x + 0.2 for x in xs], [100 * dead[n] for n in names], 0.4,
                label="dead units (% of units)")  # fmt: skip
        ax2.set_xticks(list(xs), names, rotation=30, ha="right", fontsize=8)
        ax2.set_ylabel("% (last epoch, mean over runs)")
        ax2.set_title("Where the gradient is zero", fontsize=9)
        ax2.legend(fontsize=6)
        fig.suptitle("C11: the leaky family against ReLU", fontsize=10)
        fig.tight_layout()
        return fig
