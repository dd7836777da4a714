"""C18: do the texts' criteria of a good activation pick out the activations that train better?

Seed 004 lists what a good activation should be: nonlinear, differentiable almost
everywhere, cheap, non-saturating, with a bounded range; and, for the modern ones
(SiLU, Mish, ELU), bounded below, unbounded above, smooth and non-monotonic. Each
criterion is computed here for the texts' twelve activations, not typed in:

* from :func:`actlab.analysis.properties.criteria` (the function and its analytic
  derivative on a dense grid): nonlinear (f' not constant), differentiable almost
  everywhere (no jumps of f), non-saturating (f' does not tend to 0 as x -> +inf:
  the texts call ReLU non-saturating although f' = 0 for x < 0, so it is the
  positive side they mean), bounded range, bounded below, unbounded above, smooth
  (no kink: C1 or smoother, as ELU with alpha = 1 is), non-monotonic;
* cheap: forward+backward under C1's :data:`~.c1_cost.MARGIN` times ReLU's, timed by
  C1's measurement on 16K elements (the size of these MLPs' activations, 100 units
  x batch 100), read back from the store when C1 has run.

Accuracy comes from the comparison sweep (MLP on MNIST-1D and digits): for each
activation, the mean final test accuracy over seeds at its best learning rate,
centred per data set and averaged over data sets. For each criterion the activations
that meet it are compared with those that do not (difference of mean scores) by an
exact permutation test over the twelve activations, Holm-corrected over criteria.
With twelve activations whose criteria overlap, the test has little power and a
single activation can carry a criterion: the findings say which activations are on
each side.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

from . import Context, Experiment, Outcome, Table, Verdict, register
from . import _cost as cost
from ._common import COMPARED, comparison, datasets, group

#: Significance level of the permutation tests. Their p counts the observed split among
#: all splits, so rejecting at p <= ALPHA keeps the false-positive rate at most ALPHA.
ALPHA = 0.05
#: Exact permutation test up to this many splits, a seeded Monte Carlo sample beyond.
EXACT_LIMIT = 50_000
#: The criteria, in the texts' order, with the question each answers.
CRITERIA: dict[str, str] = {
    "nonlinear": "f' is not constant",
    "differentiable a.e.": "f has no jumps (finitely many kinks)",
    "cheap": "forward+backward under C1's margin times ReLU's",
    "non-saturating": "f' does not tend to 0 as x -> +inf",
    "bounded range": "bounded below and above",
    "bounded below": "finite infimum",
    "unbounded above": "no finite supremum",
    "smooth": "no kink (C1 or smoother)",
    "non-monotonic": "f decreases somewhere",
    "all four modern": "bounded below, unbounded above, smooth and non-monotonic",
}


def criteria_rows(names: list[str]) -> dict[str, dict[str, Any]]:
    """The computed properties of each activation that the criteria read."""
    from ...analysis.properties import criteria

    out = {}
    for n in names:
        d = criteria(n, scales=(1.0,)).as_dict()
        out[n] = {
            k: d[k]
            for k in (
                "monotonic",
                "bounded_below",
                "bounded_above",
                "smoothness",
                "kinks",
                "saturates_left",
                "saturates_right",
                "min_derivative",
                "max_derivative",
                "min_value",
                "max_value",
            )
        }
    return out


def meets(props: dict[str, Any], fb_cost: float | None, margin: float) -> dict[str, bool | None]:
    """Which criteria one activation meets (None: not measured)."""
    bb, ba = bool(props["bounded_below"]), bool(props["bounded_above"])
    smooth = props["smoothness"] in ("C1", "Cinf")
    nonmono = not props["monotonic"]
    lo, hi = props["min_derivative"], props["max_derivative"]
    return {
        "nonlinear": lo is None or hi is None or not math.isclose(lo, hi),
        "differentiable a.e.": props["smoothness"] != "discontinuous",
        "cheap": None if fb_cost is None else fb_cost < margin,
        "non-saturating": not props["saturates_right"],
        "bounded range": bb and ba,
        "bounded below": bb,
        "unbounded above": not ba,
        "smooth": smooth,
        "non-monotonic": nonmono,
        "all four modern": bb and not ba and smooth and nonmono,
    }


def permutation_p(scores: dict[str, float], members: list[str], seed: int = 0) -> float:
    """Two-sided p of the difference of mean scores, members vs the rest, over all splits."""
    names = list(scores)
    k, m = len(members), len(names)
    total = sum(scores.values())

    def diff(group_: tuple[str, ...]) -> float:
        s = sum(scores[n] for n in group_)
        return s / k - (total - s) / (m - k)

    obs = abs(diff(tuple(members)))
    tol = 1e-12 * max(1.0, obs)
    if math.comb(m, k) <= EXACT_LIMIT:
        splits = list(itertools.combinations(names, k))
    else:
        rng = random.Random(seed)
        splits = [tuple(rng.sample(names, k)) for _ in range(EXACT_LIMIT)]
    hits = sum(abs(diff(g)) >= obs - tol for g in splits)
    return hits / len(splits)


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


@register
class Criteria(Experiment):
    id = "C18"
    title = "The criteria of a good activation"
    question = (
        "Among the texts' twelve activations, do those that meet each claimed criterion of a "
        "good activation reach a higher test accuracy than those that do not?"
    )

    def setup(self, profile: str) -> dict[str, Any]:
        from .c1_cost import PLANS

        return {
            "activations": ", ".join(COMPARED),
            "criteria": "; ".join(f"{k}: {v}" for k, v in CRITERIA.items()),
            "accuracy": "comparison sweep on " + ", ".join(datasets(profile)) + ": mean final "
            "test accuracy at each activation's best learning rate, centred per data set",
            "cost": f"C1's timing at {cost.human(PLANS[profile]['sizes'][0])} elements",
            "test": f"exact permutation test over the {len(COMPARED)} activations, Holm over "
            "criteria",
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        from .c1_cost import MARGIN, PLANS, native_timing

        props = ctx.measure("criteria", criteria_rows, names=list(COMPARED))
        plan = PLANS[ctx.profile]
        timing = native_timing(ctx, plan["sizes"][0])
        fb = {}
        for f in COMPARED:
            r = cost.ratio(timing, f"{f}/torch/fb", "relu/torch/fb")
            fb[f] = None if r is None else r[0]
        acc: dict[str, dict[str, dict[str, Any]]] = {}
        for ds in datasets(ctx.profile):
            per: dict[str, dict[float, list[float]]] = {}
            for (act, lr), rs in group(comparison(ctx, ds), "activation", "lr").items():
                vals = [float(r["final_test_acc"]) for r in rs]
                vals = [v for v in vals if math.isfinite(v)]
                if vals:
                    per.setdefault(act, {})[lr] = vals
            acc[ds] = {}
            for act, by_lr in per.items():
                means = {lr: sum(v) / len(v) for lr, v in by_lr.items()}
                best = max(means, key=means.get)
                acc[ds][act] = {"acc": means[best], "lr": best, "n": len(by_lr[best])}
        return {
            "properties": props,
            "fb_cost": fb,
            "cost_size": plan["sizes"][0],
            "margin": MARGIN,
            "accuracy": acc,
        }

    def analyse(self, data: dict[str, Any]) -> Outcome:
        from .. import stats

        acc = data["accuracy"]
        acts = [a for a in data["properties"] if all(a in acc[ds] for ds in acc)]
        # centre per data set, so that an easy data set does not dominate the mean
        score = {a: 0.0 for a in acts}
        for ds in acc:
            mean = sum(acc[ds][a]["acc"] for a in acts) / len(acts)
            for a in acts:
                score[a] += (acc[ds][a]["acc"] - mean) / len(acc)
        table = {
            a: meets(data["properties"][a], data["fb_cost"].get(a), data["margin"]) for a in acts
        }
        results: dict[str, dict[str, Any]] = {}
        for c in CRITERIA:
            yes = [a for a in acts if table[a][c]]
            no = [a for a in acts if table[a][c] is False]
            if not yes or not no:
                results[c] = {"testable": False, "yes": yes, "no": no}
                continue
            sub = {a: score[a] for a in yes + no}
            d = sum(sub[a] for a in yes) / len(yes) - sum(sub[a] for a in no) / len(no)
            per_ds = {
                ds: sum(acc[ds][a]["acc"] for a in yes) / len(yes)
                - sum(acc[ds][a]["acc"] for a in no) / len(no)
                for ds in acc
            }
            results[c] = {
                "testable": True,
                "yes": yes,
                "no": no,
                "diff": d,
                "per_dataset": per_ds,
                "p": permutation_p(sub, yes),
                "min_p": 2 / math.comb(len(sub), len(yes))
                if len(yes) * 2 == len(sub)
                else 1 / math.comb(len(sub), len(yes)),
            }
        testable = [c for c in CRITERIA if results[c]["testable"]]
        holm = stats.holm([results[c]["p"] for c in testable]) if testable else []
        for c, ph in zip(testable, holm):
            r = results[c]
            r["p_holm"] = ph
            r["reading"] = (
                "for"
                if r["p"] <= ALPHA and r["diff"] > 0
                else "against"
                if r["p"] <= ALPHA and r["diff"] < 0
                else "not separated"
            )
        fors = [c for c in testable if results[c]["reading"] == "for"]
        against = [c for c in testable if results[c]["reading"] == "against"]
        unsure = [c for c in testable if results[c]["reading"] == "not separated"]
        untestable = [c for c in CRITERIA if not results[c]["testable"]]
        weak = any(results[c]["p_holm"] > ALPHA for c in fors + against)
        few = len(acts) < len(COMPARED) or len(acc) < 2

        def say(c: str) -> str:
            r = results[c]
            return f"{c} ({_pts(r['diff'])} points, p = {r['p']:.2g})"

        def names(cs: list[str]) -> str:
            return ", ".join(say(c) for c in cs) or "none"

        if testable and len(fors) == len(testable):
            verdict = Verdict(
                "supported",
                f"Every testable criterion separates better from worse activations: {names(fors)}.",
                provisional=weak or few,
            )
        elif not fors:
            best = max(testable, key=lambda c: results[c]["diff"]) if testable else None
            claimed_way = sum(results[c]["diff"] > 0 for c in testable)
            verdict = Verdict(
                "refuted",
                f"No criterion picks out the better activations at p <= {ALPHA}"
                + (f"; the data contradict {names(against)}" if against else "")
                + f"; {claimed_way} of {len(testable)} testable criteria go the claimed way"
                + (
                    f", the largest gap being {say(best)}"
                    if best and results[best]["diff"] > 0
                    else ""
                )
                + ".",
                provisional=True,
            )
        else:
            verdict = Verdict(
                "depends",
                f"Of {len(testable)} testable criteria the accuracies favour {names(fors)}; "
                f"contradict {names(against)}; do not separate "
                + (", ".join(unsure) or "none")
                + ".",
                on="the criterion",
                boundary=f"supported: {', '.join(fors)}; contradicted: "
                f"{', '.join(against) or 'none'}; not separated: {', '.join(unsure) or 'none'}; "
                f"untestable (met by all or by none): {', '.join(untestable) or 'none'}",
                provisional=weak or few or bool(unsure),
            )

        ranked = sorted(acts, key=score.get, reverse=True)
        findings = [
            f"Accuracy relative to the average activation (points, mean over "
            f"{', '.join(acc)}): " + ", ".join(f"{a} {_pts(score[a])}" for a in ranked) + "."
        ]
        for c in CRITERIA:
            r = results[c]
            if not r["testable"]:
                who = "every" if r["yes"] else "no"
                findings.append(f"{c}: met by {who} activation compared, so not testable here.")
                continue
            per = ", ".join(f"{ds} {_pts(v)}" for ds, v in r["per_dataset"].items())
            findings.append(
                f"{c}: {', '.join(r['yes'])} vs {', '.join(r['no'])}: {_pts(r['diff'])} points "
                f"({per}); permutation p = {r['p']:.2g} (smallest possible {r['min_p']:.2g}), "
                f"Holm {r['p_holm']:.2g}: {r['reading']}."
            )
        cheap = results["cheap"]
        if cheap["testable"] or cheap["yes"]:
            costs = ", ".join(
                f"{a} {data['fb_cost'][a]:.2f}x" for a in acts if data["fb_cost"].get(a) is not None
            )
            findings.append(
                f"Forward+backward over ReLU's at {cost.human(data['cost_size'])} elements "
                f"(C1's timing): {costs}."
            )
        findings.append(
            f"{len(acts)} activations whose criteria overlap (bounded range is "
            f"{', '.join(results['bounded range']['yes']) or 'no one'}): a single activation "
            "can carry a criterion, so even a clear gap is weak evidence that the property "
            "itself matters."
        )
        columns = ["activation", *CRITERIA, *(f"{ds} acc" for ds in acc)]
        rows = []
        for a in ranked:
            cells: list[Any] = [a]
            for c in CRITERIA:
                v = table[a][c]
                cells.append("-" if v is None else "yes" if v else "no")
            cells += [f"{100 * acc[ds][a]['acc']:.1f}% (lr {acc[ds][a]['lr']})" for ds in acc]
            rows.append(cells)
        crit_table = Table("Criteria met (computed) and accuracy at the best lr", columns, rows)
        test_rows = [
            [
                c,
                len(results[c]["yes"]),
                len(results[c]["no"]),
                _pts(results[c]["diff"]) if results[c]["testable"] else "-",
                f"{results[c]['p']:.2g}" if results[c]["testable"] else "-",
                f"{results[c]['p_holm']:.2g}" if results[c]["testable"] else "-",
                results[c].get("reading", "untestable"),
            ]
            for c in CRITERIA
        ]
        test_table = Table(
            "Does meeting the criterion go with higher accuracy?",
            ["criterion", "met by", "not met by", "difference (points)", "p", "Holm p", "reading"],
            test_rows,
        )
        evidence = {
            "score_points": {a: round(100 * score[a], 3) for a in ranked},
            "criteria_met": table,
            "tests": {
                c: {k: v for k, v in r.items() if k not in ("yes", "no")}
                | {"met_by": r["yes"], "not_met_by": r["no"]}
                for c, r in results.items()
            },
            "supported": fors,
            "contradicted": against,
            "not_separated": unsure,
            "untestable": untestable,
        }
        return Outcome(verdict, evidence, findings, [crit_table, test_table], [])

    def figure(self, data: dict[str, Any], outcome: Outcome) -> Any:
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch

        score = outcome.evidence["score_points"]
        tests = outcome.evidence["tests"]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.6))
        acts = list(score)
        ax1.bar(range(len(acts)), [score[a] for a in acts], color="C0")
        ax1.axhline(0, color="black", lw=0.8)
        ax1.set_xticks(range(len(acts)), acts, rotation=60, ha="right", fontsize=7)
        ax1.set_ylabel("test accuracy vs average (points)")
        ax1.set_title("Activations, best learning rate", fontsize=9)
        crit = [c for c in CRITERIA if tests[c]["testable"]]
        colour: dict[str, str] = {"for": "green", "against": "red", "not separated": "grey"}
        ys = [100 * tests[c]["diff"] for c in crit]
        ax2.barh(range(len(crit)), ys, color=[colour[tests[c]["reading"]] for c in crit])
        for i, c in enumerate(crit):
            ax2.annotate(
                f"p={tests[c]['p']:.2g}",
                (ys[i], i),
                fontsize=7,
                va="center",
                ha="left" if ys[i] >= 0 else "right",
            )
        ax2.axvline(0, color="black", lw=0.8)
        span = max([abs(y) for y in ys] + [1e-9])
        ax2.set_xlim(min([0.0, *ys]) - 0.45 * span, max([0.0, *ys]) + 0.45 * span)
        ax2.set_yticks(range(len(crit)), crit, fontsize=7)
        ax2.invert_yaxis()
        ax2.set_xlabel("meets - does not (points)")
        ax2.set_title("Criterion met: accuracy gap", fontsize=9)
        ax2.legend(
            handles=[Patch(color=col, label=lab) for lab, col in colour.items()],
            fontsize=7,
            loc="best",
        )
        fig.suptitle(
            "C18: the criteria of a good activation against measured accuracy", fontsize=10
        )
        fig.tight_layout()
        return fig
