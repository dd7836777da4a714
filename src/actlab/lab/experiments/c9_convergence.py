"""C9: do networks with ReLU converge faster than with sigmoid or tanh?

The claim's classic evidence is AlexNet's figure 1 (Krizhevsky, Sutskever, Hinton
2012): a four-layer CNN with ReLUs reached 25% training error on CIFAR-10 six
times faster (in epochs) than the same net with tanh, each with its own learning
rate, trained by SGD with momentum. We measure the same quantity, epochs until
the training error first falls to a threshold, for MLPs on each data set of the
shared comparison sweep (Adam), each activation at its own best learning rate
(lowest final training loss over the sweep's rates), paired by seed; and, as a
second arm, with SGD + momentum (AlexNet's optimiser) on MNIST-1D, ReLU against
tanh (and sigmoid in ``full``).

The threshold is the lowest training error on a 5-point grid that every compared
activation reaches in every seed within the budget, so no run is censored and
the epochs compare like with like; AlexNet's own 25% is used for the published
anchor where both ReLU and tanh reach it. Since the answer can depend on where
the threshold sits (a fast start and a fast finish are different things), the
ratio is also computed at every threshold both reach, and shown.
"""

from __future__ import annotations

import math
from typing import Any

from .. import stats
from . import Anchor, Context, Experiment, Outcome, Table, Verdict, register
from . import _compare as cmp
from ._common import datasets

BASELINE = "relu"
#: The activations the claim says ReLU converges faster than.
COMPETITORS = ("tanh", "sigmoid")
#: AlexNet's threshold: 25% training error (figure 1 of Krizhevsky et al. 2012).
ALEXNET_THRESHOLD = 0.25
#: AlexNet's published ratio: ReLU reached the threshold six times faster than tanh.
ALEXNET_RATIO = 6.0
#: Fewer seeds than this leave a t interval over seeds too wide to trust: verdict provisional.
MIN_SEEDS = 5
#: Adam is the comparison sweep's optimiser; the second arm uses AlexNet's.
ADAM, MOMENTUM = "Adam", "SGD+momentum"


def momentum_plan(profile: str) -> tuple[dict[str, Any], dict[str, list]] | None:
    """The (fixed, grid) of the SGD + momentum arm; the learning rates are SGD's, not Adam's."""
    fixed: dict[str, Any] = {
        "data": "mnist1d",
        "model": "mlp",
        "hidden": [100, 100],
        "optimizer": "momentum",
        "momentum": 0.9,
        "batch_size": 100,
    }
    if profile == "smoke":
        fixed.update(hidden=[32], epochs=2)
        return fixed, {"activation": ["relu", "tanh"], "lr": [0.1], "seed": [0, 1]}
    if profile == "quick":
        fixed["epochs"] = 10
        # 10 epochs, no sigmoid and two learning rates keep this arm within the claim's few
        # extra seconds: ReLU and tanh are the pair AlexNet compared, and 0.03 trained both
        # more slowly than 0.1 in development runs, so the grid starts at 0.1.
        return fixed, {"activation": ["relu", "tanh"], "lr": [0.1, 0.3], "seed": list(range(5))}
    fixed["epochs"] = 50
    return fixed, {
        "activation": ["relu", "tanh", "sigmoid"],
        "lr": [0.01, 0.03, 0.1, 0.3],
        "seed": list(range(10)),
    }


def _arm(runs: list[dict[str, Any]], data: str, arm: str) -> dict[str, Any]:
    """Best learning rates, the main threshold, and epochs to it per seed, for one data set."""
    present = [a for a in (BASELINE, *COMPETITORS) if any(r["activation"] == a for r in runs)]
    best = {a: cmp.best_lr(runs, a) for a in present}
    chosen = {a: cmp.select(runs, a, best[a]) for a in present}
    threshold = cmp.strictest_threshold(r["train_err"] for a in present for r in chosen[a].values())
    return {"arm": arm, "data": data, "best_lr": best, "threshold": threshold, "chosen": chosen}


def _ratio(
    chosen: dict[str, dict[int, dict]], comp: str, threshold: float
) -> dict[str, Any] | None:
    """Epochs of ``comp`` over ReLU's to ``threshold``, paired by seed (log scale for the CI)."""
    base, other = chosen.get(BASELINE, {}), chosen.get(comp, {})
    pairs = []
    for s in sorted(set(base) & set(other)):
        eb = cmp.epochs_to(base[s]["train_err"], threshold)
        eo = cmp.epochs_to(other[s]["train_err"], threshold)
        if eb is not None and eo is not None:
            pairs.append((s, eb, eo))
    if not pairs:
        return None
    logs_o = [math.log(eo) for _, _, eo in pairs]
    logs_b = [math.log(eb) for _, eb, _ in pairs]
    c = stats.compare_paired(logs_o, logs_b, labels=(comp, BASELINE))
    n = len(pairs)
    return {
        "threshold": threshold,
        "n": n,
        "epochs_relu": sum(eb for _, eb, _ in pairs) / n,
        "epochs_other": sum(eo for _, _, eo in pairs) / n,
        "ratio": math.exp(c.mean_diff),
        "ci_low": math.exp(c.ci_low) if math.isfinite(c.ci_low) else math.nan,
        "ci_high": math.exp(c.ci_high) if math.isfinite(c.ci_high) else math.nan,
        "p": c.p_value,
        # runs that reach the threshold within the first epoch: the measurement's floor
        "at_floor_relu": sum(eb <= 1.0 for _, eb, _ in pairs),
        "at_floor_other": sum(eo <= 1.0 for _, _, eo in pairs),
    }


def _status(cell: dict[str, Any]) -> str:
    """ReLU 'faster' or 'slower' when the Holm-corrected test says so, else 'no difference'."""
    if cell["p_holm"] < cmp.ALPHA:
        return "faster" if cell["ratio"] > 1 else "slower"
    return "no difference"


def _split(cells: list[dict[str, Any]]) -> str | None:
    """The fewest of (optimiser, data set, rival) whose values decide ReLU's status, named."""
    dims = (("arm", "the optimiser"), ("data", "the data set"), ("comp", "the rival"))
    return cmp.deciding(cells, dims)


def _cell_text(c: dict[str, Any]) -> str:
    return (
        f"{c['comp']}/ReLU {c['ratio']:.2f}x [{c['ci_low']:.2f}, {c['ci_high']:.2f}] to "
        f"{100 * c['threshold']:.0f}% error on {c['data']} ({c['arm']}; "
        f"{c['epochs_other']:.1f} vs {c['epochs_relu']:.1f} epochs)"
    )


def _threshold_finding(key: str, pts: list[dict[str, Any]]) -> str:
    """How the ratio moves with the threshold: where ReLU is first, where the rival is."""
    arm_name, data, comp = key.split("|")
    top = max(pts, key=lambda p: p["ratio"])
    strict = pts[0]
    first = [p for p in pts if p["ci_low"] > 1]
    behind = [p for p in pts if p["ci_high"] < 1]

    def span(ps: list[dict[str, Any]]) -> str:
        """Thresholds as runs of neighbours on the grid: '20%-65%, 80%'."""
        idx = [cmp.THRESHOLD_GRID.index(p["threshold"]) for p in ps]
        runs: list[list[int]] = []
        for i in idx:
            if runs and i == runs[-1][-1] + 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        pct = [[f"{100 * cmp.THRESHOLD_GRID[i]:.0f}%" for i in (r[0], r[-1])] for r in runs]
        return ", ".join(a if a == b else f"{a}-{b}" for a, b in pct)

    return (
        f"{comp}/ReLU on {data} ({arm_name}), at every threshold both reach "
        f"({100 * pts[0]['threshold']:.0f}%-{100 * pts[-1]['threshold']:.0f}% training error): "
        f"largest {top['ratio']:.2f}x at {100 * top['threshold']:.0f}%, "
        f"{strict['ratio']:.2f}x at the strictest; 95% CI above 1 (ReLU first) at "
        f"{span(first) or 'none'}; below 1 ({comp} first) at {span(behind) or 'none'}."
    )


def decide(cells: list[dict[str, Any]]) -> Verdict:
    """Supported if ReLU is faster in every cell, refuted if in none, else depends."""
    if not cells:
        return Verdict(
            "not testable here",
            "No compared activation reached a common training-error threshold within the "
            "budget; more epochs would be needed.",
        )
    faster = [c for c in cells if c["status"] == "faster"]
    others = [c for c in cells if c["status"] != "faster"]
    # too few seeds, or a rival's "not faster" measured where runs hit the one-epoch floor
    unsure = min(c["n"] for c in cells) < MIN_SEEDS or any(
        c["at_floor_relu"] or c["at_floor_other"] for c in others
    )
    if not others:
        return Verdict(
            "supported",
            "ReLU reaches the threshold in fewer epochs everywhere: "
            + "; ".join(_cell_text(c) for c in faster)
            + ".",
            provisional=unsure,
        )
    if not faster:
        return Verdict(
            "refuted",
            "ReLU is nowhere significantly faster: "
            + "; ".join(_cell_text(c) for c in others)
            + ".",
            provisional=unsure or any(c["status"] == "no difference" for c in others),
        )
    on = _split(cells) or "the optimiser, the data set and the rival"
    return Verdict(
        "depends",
        "ReLU is faster in "
        + "; ".join(_cell_text(c) for c in faster)
        + "; but not in "
        + "; ".join(f"{_cell_text(c)}: {c['status']}" for c in others)
        + ".",
        on=on,
        boundary="faster: "
        + ", ".join(f"{c['comp']} on {c['data']} ({c['arm']})" for c in faster)
        + "; not faster: "
        + ", ".join(f"{c['comp']} on {c['data']} ({c['arm']})" for c in others),
        provisional=unsure,
    )


@register
class Convergence(Experiment):
    id = "C9"
    title = "Does ReLU converge faster than sigmoid and tanh?"
    question = (
        "In epochs to a training-error threshold, each activation at its own best learning "
        "rate, does a ReLU network get there sooner than a tanh or a sigmoid one?"
    )

    def setup(self, profile: str) -> dict[str, Any]:
        from ._common import comparison_plan

        fixed, grid = comparison_plan(profile)
        mom = momentum_plan(profile)
        return {
            "data": ", ".join(datasets(profile)),
            "model": f"MLP {fixed['hidden']}, batch {fixed['batch_size']}, "
            f"{fixed['epochs']} epochs",
            "arm 1 (the comparison sweep)": f"Adam, learning rates {grid['lr']} (MNIST-1D), "
            f"seeds {grid['seed']}",
            "arm 2 (AlexNet's optimiser)": "none"
            if mom is None
            else f"SGD + momentum 0.9 on MNIST-1D, {mom[0]['epochs']} epochs, "
            f"{', '.join(mom[1]['activation'])}, learning rates {mom[1]['lr']}, "
            f"seeds {mom[1]['seed']}",
            "measured": "epochs until the training error first falls to the threshold "
            "(interpolated between epochs), each activation at its best learning rate "
            "(lowest mean final training loss)",
            "threshold": "the lowest training error on a 5% grid that every compared run "
            "reaches; AlexNet's 25% for the anchor",
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        data: dict[str, Any] = {"runs": cmp.load(ctx), "momentum": {}}
        plan = momentum_plan(ctx.profile)
        if plan is not None:
            fixed, grid = plan
            rows = ctx.sweep(f"c9-momentum-{fixed['data']}", fixed, grid)
            data["momentum"] = {fixed["data"]: cmp.compact(rows)}
        return data

    def _arms(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        arms = [_arm(rs, d, ADAM) for d, rs in data["runs"].items()]
        arms += [_arm(rs, d, MOMENTUM) for d, rs in data.get("momentum", {}).items()]
        return arms

    def analyse(self, data: dict[str, Any]) -> Outcome:
        arms = self._arms(data)
        cells = []
        for arm in arms:
            if arm["threshold"] is None:
                continue
            for comp in COMPETITORS:
                r = _ratio(arm["chosen"], comp, arm["threshold"])
                if r is not None:
                    cells.append({"arm": arm["arm"], "data": arm["data"], "comp": comp, **r})
        ps = [c["p"] if not math.isnan(c["p"]) else 1.0 for c in cells]
        for c, p in zip(cells, stats.holm(ps)):
            c["p_holm"] = p
            c["status"] = _status(c)
        verdict = decide(cells)

        findings = []
        for arm in arms:
            lrs = ", ".join(f"{a} {lr:g}" for a, lr in arm["best_lr"].items())
            thr = arm["threshold"]
            findings.append(
                f"{arm['data']} ({arm['arm']}): best learning rates {lrs}; "
                + (f"every run reaches {100 * thr:.0f}% training error." if thr is not None
                   else "no common threshold on the grid is reached by every run.")
            )  # fmt: skip
        sweep = self._threshold_sweep(arms)
        for key, pts in sweep.items():
            if len(pts) >= 2:
                findings.append(_threshold_finding(key, pts))
        floors: dict[tuple[str, str, float], dict[str, str]] = {}
        for c in cells:
            f = floors.setdefault((c["arm"], c["data"], c["threshold"]), {})
            for name, k in (("ReLU", c["at_floor_relu"]), (c["comp"], c["at_floor_other"])):
                if k:
                    f[name] = f"{name} in {k} of {c['n']} seeds"
        for (arm_name, d, thr), f in floors.items():
            if f:
                findings.append(
                    f"On {d} ({arm_name}) the {100 * thr:.0f}% threshold is reached within the "
                    f"first epoch by {' and '.join(f.values())}: one epoch is the resolution "
                    "here, so a faster start cannot show."
                )
        anchors = self._anchors(arms)
        table = Table(
            "Epochs to the threshold, each activation at its best learning rate",
            ["optimiser", "data", "rival", "threshold", "ReLU epochs", "rival epochs",
             "rival/ReLU", "95% CI", "Holm p", "seeds", "ReLU is"],
            [[c["arm"], c["data"], c["comp"], f"{100 * c['threshold']:.0f}%",
              round(c["epochs_relu"], 2), round(c["epochs_other"], 2), round(c["ratio"], 2),
              f"[{c['ci_low']:.2f}, {c['ci_high']:.2f}]", cmp.fmt_p(c["p_holm"]), c["n"],
              c["status"]] for c in cells],
        )  # fmt: skip
        evidence = {
            "cells": cells,
            "best_lr": {f"{a['data']} ({a['arm']})": a["best_lr"] for a in arms},
            "threshold": {f"{a['data']} ({a['arm']})": a["threshold"] for a in arms},
            "ratio_by_threshold": sweep,
        }
        return Outcome(verdict, cmp.finite(evidence), findings, [table], anchors)

    def _threshold_sweep(self, arms: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """For each rival: the ratio at every grid threshold ReLU and the rival both reach."""
        out: dict[str, list[dict[str, Any]]] = {}
        for arm in arms:
            for comp in COMPETITORS:
                if comp not in arm["chosen"] or BASELINE not in arm["chosen"]:
                    continue
                pair = [arm["chosen"][BASELINE], arm["chosen"][comp]]
                reach = cmp.strictest_threshold(r["train_err"] for ch in pair for r in ch.values())
                if reach is None:
                    continue
                pts = []
                for t in cmp.THRESHOLD_GRID:
                    if t >= reach - 1e-12:
                        r = _ratio(arm["chosen"], comp, t)
                        if r is not None and r["n"] == len(arm["chosen"][BASELINE]):
                            pts.append(r)
                out[f"{arm['arm']}|{arm['data']}|{comp}"] = pts
        return out

    def _anchors(self, arms: list[dict[str, Any]]) -> list[Anchor]:
        anchors = []
        for arm in arms:
            if "tanh" not in arm["chosen"]:
                continue
            both = [arm["chosen"][BASELINE], arm["chosen"]["tanh"]]
            reach = cmp.strictest_threshold(r["train_err"] for ch in both for r in ch.values())
            if reach is None:
                continue
            thr = max(ALEXNET_THRESHOLD, reach)
            r = _ratio(arm["chosen"], "tanh", thr)
            if r is None or max(r["epochs_relu"], r["epochs_other"]) <= 1.0:
                continue  # both within the first epoch: no ratio to set beside AlexNet's
            anchors.append(
                Anchor(
                    f"epochs to {100 * thr:.0f}% training error, tanh over ReLU "
                    f"({arm['data']}, MLP, {arm['arm']})",
                    ALEXNET_RATIO,
                    r["ratio"],
                    "Krizhevsky, Sutskever, Hinton 2012 (AlexNet), figure 1",
                    "AlexNet timed a four-layer CNN on CIFAR-10 (no regularisation) with SGD + "
                    "momentum, one run per activation; ours is a two-layer MLP on a small data set"
                    + (
                        ", trained with Adam, whose per-weight step sizes offset tanh's smaller "
                        "gradients"
                        if arm["arm"] == ADAM
                        else ""
                    )
                    + "; the authors add that the size of the effect varies with the "
                    "architecture.",
                    unit="x",
                )
            )
        return anchors

    def figure(self, data: dict[str, Any], outcome: Outcome) -> Any:
        import matplotlib.pyplot as plt

        arms = self._arms(data)
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.4, 3.6))
        main = arms[0]
        for k, a in enumerate((BASELINE, *COMPETITORS)):
            if a not in main["chosen"]:
                continue
            curve = cmp.mean_curve(main["chosen"][a].values(), "train_err")
            ax1.plot(range(1, len(curve) + 1), [100 * e for e in curve], color=f"C{k}",
                     label=f"{a} (lr {main['best_lr'][a]:g})")  # fmt: skip
        if main["threshold"] is not None:
            ax1.axhline(100 * main["threshold"], color="0.5", ls="--", lw=0.8)
        ax1.set_xlabel("epoch")
        ax1.set_ylabel("training error (%), mean over seeds")
        ax1.set_title(f"{main['data']}, {main['arm']}, best lr each", fontsize=9)
        ax1.legend(fontsize=7)
        sweep = outcome.evidence["ratio_by_threshold"]
        for k, (key, pts) in enumerate(sweep.items()):
            if not pts:
                continue
            arm_name, d, comp = key.split("|")
            xs = [100 * p["threshold"] for p in pts]
            ax2.plot(xs, [p["ratio"] for p in pts], "o-", ms=3, color=f"C{k}",
                     label=f"{comp}/ReLU, {d}, {arm_name}")  # fmt: skip
            lo = [math.nan if p["ci_low"] is None else p["ci_low"] for p in pts]
            hi = [math.nan if p["ci_high"] is None else p["ci_high"] for p in pts]
            ax2.fill_between(xs, lo, hi, color=f"C{k}", alpha=0.15)
        ax2.axhline(1, color="0.4", lw=0.8)
        ax2.set_yscale("log")
        ax2.set_xlabel("training-error threshold (%)")
        ax2.set_ylabel("epochs ratio (rival / ReLU)")
        ax2.set_title("Above 1: ReLU gets there first", fontsize=9)
        ax2.legend(fontsize=6)
        fig.suptitle("C9: epochs to a training-error threshold", fontsize=10)
        fig.tight_layout()
        return fig
