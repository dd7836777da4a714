"""C6: do Leaky ReLU, PReLU, ELU, a smaller learning rate and Adagrad fix dying ReLUs?

The baseline is C5's dying sweep (stored once for both): a ReLU MLP on MNIST-1D with
momentum SGD under PyTorch's default init (the one a reader of the texts gets), at every
learning rate where at least
``_depth.DEAD_THRESHOLD`` of its units end up dead (the "dying regime", found from the
data). Each remedy is run at the same rates and seeds and compared pair by pair (same
seed, same rate; for "a smaller learning rate", ReLU at the grid rate nearest a tenth of
the baseline's):

* Leaky ReLU (slope 0.01; Maas et al. 2013), PReLU (learned slope; He et al. 2015), ELU
  (Clevert et al. 2016): swapped in for ReLU, same optimiser and rate;
* a smaller learning rate: ReLU, momentum SGD, about 10x smaller;
* Adagrad (Duchi et al. 2011): ReLU with Adagrad at the same nominal rate. Adagrad's
  first step moves every weight by the full rate (the gradient divided by its own
  size), so the same number is not the same step size; its whole rate ladder is
  reported beside it.

A remedy works when it leaves fewer dead units without a significant loss of test
accuracy. "Fewer" is tested on the share of ReLU's dead units the remedy avoids in each
pair (1 - remedy's dead / ReLU's dead, against 0), because the pairs span rates where
ReLU loses a tenth and where it loses half of its units, and a difference in points
would mix the two scales; accuracy on the paired difference in points. Both are paired
t-tests, Holm-corrected over the remedies, at ``_depth.ALPHA``. A remedy that blows up
in more than half of its runs fails whatever the tests say. Leaky ReLU, PReLU and ELU
cannot output an exact 0, so their dead fraction is 0 by construction: for them the
accuracy comparison is the real test.
"""

from __future__ import annotations

import math
from typing import Any

from . import Context, Experiment, Outcome, Table, Verdict, register
from . import _depth as D
from .c5_dying import _dead_by

#: The remedies in the order the texts list them (labels used in sentences and tables).
REMEDIES = ["leaky_relu", "prelu", "elu", "smaller lr", "adagrad"]


def _smaller(lr: float, lrs: list[float]) -> float | None:
    """The grid rate nearest (in log) to a tenth of ``lr``, if one is at least 3x smaller."""
    cands = [x for x in lrs if x <= lr / 3]
    if not cands:
        return None
    return min(cands, key=lambda x: abs(math.log(x) - math.log(lr / 10)))


def _fmt_p(p: float) -> str:
    return "n/a" if not math.isfinite(p) else (f"{p:.3f}" if p >= 0.001 else "<0.001")


@register
class Remedies(Experiment):
    id = "C6"
    title = "Remedies for dying ReLUs"
    question = (
        "Where ReLU units die (momentum SGD at large learning rates), do Leaky ReLU, PReLU, "
        "ELU, a 10x smaller learning rate or Adagrad leave fewer dead units without losing "
        "test accuracy?"
    )

    def setup(self, profile: str) -> dict[str, Any]:
        p = D.dying_plan(profile)
        return {
            "baseline": f"C5's sweep: ReLU MLP {p['hidden']} on MNIST-1D, momentum SGD, "
            f"{p['remedy_init']} init, {p['epochs']} epochs, lr {p['lrs']}, seeds {p['seeds']}",
            "remedies": "leaky_relu (0.01), prelu, elu at the same lr; ReLU at ~lr/10; ReLU "
            "with Adagrad at the same nominal lr",
            "test": f"paired by seed and lr over the rates where ReLU loses >= "
            f"{D.DEAD_THRESHOLD:.0%} of its units; Holm-corrected paired t-tests, alpha {D.ALPHA}",
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        init = D.dying_plan(ctx.profile)["remedy_init"]
        base = [r for r in D.dying_rows(ctx) if r["init"] == init]
        return {"init": init, "baseline": base, "remedies": D.remedy_rows(ctx)}

    def analyse(self, data: dict[str, Any]) -> Outcome:
        from ..stats import compare_paired, holm

        base = [r for r in data["baseline"] if r["activation"] == "relu"]
        lrs = sorted({float(r["lr"]) for r in base})
        cells = _dead_by(base)
        init = data["init"]
        regime = [lr for lr in lrs if cells[(init, lr)]["dead"] >= D.DEAD_THRESHOLD]
        if not regime:
            top = max(lrs, key=lambda lr: D.finite_or(cells[(init, lr)]["dead"], -1.0))
            return Outcome(
                Verdict(
                    "not testable here",
                    f"ReLU lost at most {cells[(init, top)]['dead']:.1%} of its units (lr "
                    f"{top:g}), under the {D.DEAD_THRESHOLD:.0%} that defines dying here; larger "
                    "learning rates or longer training would be needed to test a remedy.",
                ),
                {"regime": [], "max_dead": cells[(init, top)]["dead"]},
            )

        def key(r: dict[str, Any]) -> tuple[float, int]:
            return float(r["lr"]), int(r["seed"])

        relu = {key(r): r for r in base}
        rem_rows = data["remedies"]
        runs: dict[str, dict[tuple[float, int], dict[str, Any]]] = {
            a: {
                key(r): r for r in rem_rows if r["activation"] == a and r["optimizer"] == "momentum"
            }
            for a in D.REMEDY_ACTIVATIONS
        }
        runs["adagrad"] = {
            key(r): r for r in rem_rows if r["activation"] == "relu" and r["optimizer"] == "adagrad"
        }
        runs["smaller lr"] = relu
        used_lr = {lr: _smaller(lr, lrs) for lr in regime}

        results: dict[str, dict[str, Any]] = {}
        for name in REMEDIES:
            if name not in runs:
                continue
            pairs = []
            for lr in regime:
                target = used_lr[lr] if name == "smaller lr" else lr
                if target is None:
                    continue
                for (blr, seed), b in relu.items():
                    if blr == lr and (target, seed) in runs[name]:
                        pairs.append((b, runs[name][(target, seed)]))
            if not pairs:
                continue
            finite = [(b, r) for b, r in pairs if not D.diverged(b) and not D.diverged(r)]
            dead_c = None
            avoided = [1 - r["dead"] / b["dead"] for b, r in finite if b["dead"] > 0]
            if avoided:
                dead_c = compare_paired(avoided, [0.0] * len(avoided), labels=(name, "none"))
            acc_c = compare_paired(
                [r["test_acc"] for _, r in pairs], [b["test_acc"] for b, _ in pairs],
                labels=(name, "relu"),
            )  # fmt: skip
            results[name] = {
                "pairs": len(pairs),
                "finite_pairs": len(finite),
                "blew_up": sum(D.diverged(r) for _, r in pairs),
                "dead": D.mean([r["dead"] for _, r in finite]),
                "dead_relu": D.mean([b["dead"] for b, _ in finite]),
                "dead_cmp": dead_c,
                "avoided": D.mean(avoided),
                "acc": acc_c.mean_a,
                "acc_relu": acc_c.mean_b,
                "acc_cmp": acc_c,
                "lrs": sorted({float(r["lr"]) for _, r in pairs}),
            }

        names = list(results)

        def p_of(c: Any) -> float:
            return c.p_value if c is not None and math.isfinite(c.p_value) else 1.0

        p_dead = holm([p_of(results[n]["dead_cmp"]) for n in names]) if names else []
        p_acc = holm([p_of(results[n]["acc_cmp"]) for n in names]) if names else []
        for n, pd_, pa in zip(names, p_dead, p_acc):
            r = results[n]
            dc, ac = r["dead_cmp"], r["acc_cmp"]
            r["p_dead"], r["p_acc"] = pd_, pa
            r["fewer_dead"] = dc is not None and dc.mean_diff > 0 and pd_ < D.ALPHA
            r["acc_worse"] = ac.mean_diff < 0 and pa < D.ALPHA
            r["acc_better"] = ac.mean_diff > 0 and pa < D.ALPHA
            no_drop = dc is None or dc.mean_diff <= 0
            mostly_blown = 2 * r["blew_up"] > r["pairs"]
            if r["fewer_dead"] and not r["acc_worse"]:
                r["works"], r["tentative"] = True, False
            elif r["acc_worse"] or mostly_blown or no_drop:
                r["works"], r["tentative"] = False, False
            else:  # a drop in dead units the test cannot resolve: lean on the point estimates
                r["works"], r["tentative"] = ac.mean_diff >= 0, True

        def text(n: str) -> str:
            r = results[n]
            ac = r["acc_cmp"]
            at = f"lr {', '.join(f'{x:g}' for x in r['lrs'])}" if n == "smaller lr" else "same lr"
            dead = (
                f"dead {r['dead']:.1%} vs {r['dead_relu']:.1%} (avoids {r['avoided']:.0%} of "
                f"ReLU's dead units, Holm p {_fmt_p(r['p_dead'])})"
                if r["dead_cmp"] is not None
                else "no run finished without blowing up"
            )
            blown = f", blew up in {r['blew_up']} of {r['pairs']} runs" if r["blew_up"] else ""
            return (
                f"{n} ({at}): {dead}, test accuracy {r['acc']:.1%} vs {r['acc_relu']:.1%} "
                f"({100 * ac.mean_diff:+.1f} points, 95% CI [{100 * ac.ci_low:.1f}, "
                f"{100 * ac.ci_high:.1f}], Holm p {_fmt_p(r['p_acc'])}){blown}"
            )

        works = [n for n in names if results[n]["works"]]
        fails = [n for n in names if not results[n]["works"]]

        def listing(group: list[str]) -> str:
            return ", ".join(n + (" (undecided)" if results[n]["tentative"] else "") for n in group)

        regime_text = (
            f"ReLU ({init} init, momentum) loses >= {D.DEAD_THRESHOLD:.0%} of its units at lr "
            + ", ".join(f"{lr:g} ({cells[(init, lr)]['dead']:.0%})" for lr in regime)
        )
        n_pairs = min((results[n]["pairs"] for n in names), default=0)
        near = [
            n
            for n in names
            for p in (results[n]["p_dead"], results[n]["p_acc"])
            if D.ALPHA / 5 <= p <= 2 * D.ALPHA
        ]
        tentative = [n for n in names if results[n]["tentative"]]
        provisional = bool(near or tentative) or n_pairs < 5
        detail = "; ".join(text(n) for n in names)
        if names and not fails:
            verdict = Verdict(
                "supported",
                f"{regime_text}; every remedy leaves fewer dead units without losing accuracy: "
                f"{detail}.",
                provisional=provisional,
            )
        elif names and not works:
            verdict = Verdict(
                "refuted",
                f"{regime_text}; no remedy both leaves fewer dead units and keeps accuracy: "
                f"{detail}.",
                provisional=provisional,
            )
        elif names:
            verdict = Verdict(
                "depends",
                f"{regime_text}; {listing(works)} work, {listing(fails)} do not: {detail}.",
                on="which remedy",
                boundary=f"works: {listing(works)}; does not: {listing(fails)}",
                provisional=provisional,
            )
        else:
            verdict = Verdict(
                "not testable here",
                f"{regime_text}, but no remedy run shares its rates and seeds.",
            )

        findings = [regime_text + "."]
        for n in names:
            r = results[n]
            if r["tentative"]:
                lean = "leans to working" if r["works"] else "leans to not working"
                findings.append(
                    f"Undecided, {lean}: {text(n)}; the drop in dead units is not significant "
                    f"with {r['finite_pairs']} pairs."
                )
            elif r["works"]:
                how = "and gains accuracy" if r["acc_better"] else "without a significant loss"
                findings.append(f"Works: {text(n)}; fewer dead units {how}.")
            else:
                why = []
                if r["dead_cmp"] is not None and r["dead_cmp"].mean_diff <= 0:
                    why.append("no fewer dead units")
                if r["acc_worse"]:
                    why.append("a significant loss of accuracy")
                tail = f"; {' and '.join(why)}" if why else ""
                findings.append(f"Does not work: {text(n)}{tail}.")
        zero = [n for n in D.REMEDY_ACTIVATIONS if n in results and results[n]["dead"] == 0.0]
        if zero:
            findings.append(
                f"{', '.join(zero)}: {0.0:.0%} dead by construction (no exact-0 outputs), so the "
                "accuracy comparison is the test that counts for them."
            )
        ada = {float(r["lr"]): r for r in rem_rows if r["optimizer"] == "adagrad"}
        if ada:
            ada_cells = _dead_by([r for r in rem_rows if r["optimizer"] == "adagrad"])
            findings.append(
                "Across the whole ladder, dead fraction with Adagrad vs momentum SGD at the same "
                "nominal lr: "
                + ", ".join(
                    f"lr {lr:g}: {ada_cells[(init, lr)]['dead']:.1%} vs "
                    f"{cells[(init, lr)]['dead']:.1%}"
                    for lr in lrs
                    if (init, lr) in ada_cells
                )
                + "."
            )
        rows = []
        for n in names:
            r = results[n]
            ac = r["acc_cmp"]
            has_dead = r["dead_cmp"] is not None
            rows.append(
                [
                    n,
                    ", ".join(f"{x:g}" for x in r["lrs"]),
                    f"{r['dead']:.1%}" if has_dead else "n/a",
                    f"{r['dead_relu']:.1%}" if has_dead else "n/a",
                    f"{r['avoided']:.0%}" if has_dead else "n/a",
                    _fmt_p(results[n]["p_dead"]),
                    f"{results[n]['acc']:.1%}",
                    f"{results[n]['acc_relu']:.1%}",
                    f"{100 * ac.mean_diff:+.1f} [{100 * ac.ci_low:.1f}, {100 * ac.ci_high:.1f}]",
                    _fmt_p(results[n]["p_acc"]),
                    f"{results[n]['blew_up']}/{results[n]['pairs']}",
                    ("yes" if r["works"] else "no") + (" (undecided)" if r["tentative"] else ""),
                ]
            )
        table = Table(
            "Remedies against ReLU in the dying regime (paired by seed and lr; Holm-corrected)",
            ["remedy", "lr", "dead", "dead (ReLU)", "ReLU's dead avoided", "p dead", "test acc",
             "test acc (ReLU)", "diff, points [95% CI]", "p acc", "blew up", "works"],
            rows,
        )  # fmt: skip
        per_lr = []
        for name, rs in (("relu (baseline)", base), *((n, list(runs[n].values())) for n in names)):
            c = _dead_by([{**r, "init": init} for r in rs])
            for lr in regime:
                at = used_lr[lr] if name == "smaller lr" else lr
                if at is None or (init, at) not in c:
                    continue
                cell = c[(init, at)]
                dead = f"{cell['dead']:.1%}" if math.isfinite(cell["dead"]) else "n/a"
                per_lr.append([name, f"{at:g}", dead, f"{cell['acc']:.1%}",
                               f"{cell['diverged']}/{cell['runs']}"])  # fmt: skip
        by_lr = Table(
            "The same, rate by rate (for 'smaller lr': the rate used instead)",
            ["run", "lr", "dead", "test acc", "blew up"],
            per_lr,
        )
        evidence = {
            "init": init,
            "dying_regime_lrs": regime,
            "dead_threshold": D.DEAD_THRESHOLD,
            "remedies": {
                n: {
                    "works": results[n]["works"],
                    "dead": results[n]["dead"],
                    "dead_relu": results[n]["dead_relu"],
                    "dead_avoided": results[n]["avoided"],
                    "p_dead_holm": results[n]["p_dead"],
                    "acc": results[n]["acc"],
                    "acc_relu": results[n]["acc_relu"],
                    "acc_diff": results[n]["acc_cmp"].mean_diff,
                    "acc_diff_ci": [results[n]["acc_cmp"].ci_low, results[n]["acc_cmp"].ci_high],
                    "p_acc_holm": results[n]["p_acc"],
                    "pairs": results[n]["pairs"],
                    "blew_up": results[n]["blew_up"],
                }
                for n in names
            },
        }
        return Outcome(verdict, evidence, findings, [table, by_lr])

    def figure(self, data: dict[str, Any], outcome: Outcome) -> Any:
        import matplotlib.pyplot as plt

        init = data["init"]
        series = {"relu (momentum)": [r for r in data["baseline"] if r["activation"] == "relu"]}
        for a in D.REMEDY_ACTIVATIONS:
            series[a] = [
                r for r in data["remedies"] if r["activation"] == a and r["optimizer"] == "momentum"
            ]
        series["relu (adagrad)"] = [r for r in data["remedies"] if r["optimizer"] == "adagrad"]
        lrs = sorted({float(r["lr"]) for r in data["baseline"]})
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8))
        for name, rows in series.items():
            if not rows:
                continue
            cells = _dead_by(rows)
            xs = sorted({float(r["lr"]) for r in rows})
            style = "-o" if name.startswith("relu") else "--s"
            ax1.plot(xs, [cells[(init, x)]["dead"] for x in xs], style, ms=4, label=name)
            ax2.plot(xs, [cells[(init, x)]["acc"] for x in xs], style, ms=4, label=name)
        regime = outcome.evidence.get("dying_regime_lrs") or []
        for ax in (ax1, ax2):
            D.depth_axis(ax, lrs, "learning rate")
            if regime:
                ax.axvspan(min(regime) / 1.3, max(regime) * 1.3, color="0.92", zorder=0)
        ax1.axhline(D.DEAD_THRESHOLD, color="0.5", lw=0.8, ls="--")
        ax1.set_ylabel("fraction of hidden units dead")
        ax1.set_title("Dead units (exact zeros)")
        ax2.axhline(D.CHANCE, color="0.7", lw=0.8, ls=":")
        ax2.set_ylabel("test accuracy")
        ax2.set_title("Test accuracy (blown-up runs at chance)")
        ax2.legend(fontsize=7)
        fig.suptitle(f"C6: remedies for dying ReLU, MNIST-1D, {init} init (shaded: dying regime)",
                     fontsize=10)  # fmt: skip
        fig.tight_layout()
        return fig
