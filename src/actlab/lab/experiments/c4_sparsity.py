"""C4: does ReLU make activations sparse, and does sparsity give robustness and less overfitting?

Two parts, measured separately and combined explicitly:

(a) *sparse?* The fraction of hidden activations that are exactly zero on the
    training set, at initialisation (a forward pass of the untrained model, built
    exactly as the trainer builds it) and after training (the trainer's
    ``sparsity``), for ReLU and for activations without exact zeros: Leaky ReLU
    (ReLU with the zeros replaced by a 0.01 slope: the contrast closest to
    "sparsity alone"), ELU, softplus, tanh and sigmoid. Glorot, Bordes and Bengio
    (2011, "Deep sparse rectifier neural networks") note that a rectifier network
    starts with about half of its units at exactly zero.
(b) *does the sparsity buy robustness and less overfitting?* Each model is scored
    by its generalisation gap (train minus test accuracy; test minus train loss)
    and by the test accuracy it loses when Gaussian noise is added to the inputs
    (``eval_noise``, in units of the standardised inputs' SD). ReLU is compared with
    each non-sparse activation paired by seed (same initial draws and data order),
    with Holm's correction over the comparisons of one measure.

The models are the group's Adam MLPs on MNIST-1D (``_dynamics.adam_plan``), so C8
and C16 reuse the ReLU, tanh and sigmoid trials.
"""

from __future__ import annotations

from typing import Any

from . import Anchor, Context, Experiment, Outcome, Table, Verdict, register
from . import _dynamics as dyn

#: The sparse activation the texts mean, and the ones that never output an exact zero.
SPARSE = "relu"
NON_SPARSE = ["leaky_relu", "elu", "softplus", "tanh", "sigmoid"]
#: "Sparse" means at least a quarter of the activations exactly zero: far above the
#: 0% a function without a zero region gives, and half of the ~50% a rectifier has at
#: a symmetric initialisation, so a network that loses most of its zeros fails it.
SPARSE_MIN = 0.25
#: Measures of part (b); for every one of them lower is better.
MEASURES = {
    "acc_gap": "accuracy gap (train - test)",
    "loss_gap": "loss gap (test - train)",
    "noise_drop": "accuracy lost to input noise",
}


def _init_sparsity(
    activations: list[str], fixed: dict[str, Any], seeds: list[int]
) -> dict[str, list[float]]:
    """Fraction of exactly-zero hidden activations of the untrained models, per seed."""
    import torch

    from .. import data as data_mod
    from ..models import build

    ds = data_mod.load(fixed["data"], seed=0, standardize=True)
    x = torch.from_numpy(ds.x_train).flatten(1)
    out: dict[str, list[float]] = {}
    for act in activations:
        fracs = []
        for seed in seeds:
            torch.manual_seed(seed)  # the trainer's own initialisation for this seed
            model = build({**fixed, "activation": act}, ds.input_shape, ds.n_outputs)
            zeros = total = 0
            with torch.no_grad():
                h = x
                for layer, a in zip(model.layers, model.acts):
                    h = a(layer(h))
                    zeros += int((h == 0).sum())
                    total += h.numel()
            fracs.append(zeros / total)
        out[act] = fracs
    return out


def _extract(row: dict[str, Any]) -> dict[str, Any]:
    last = row["history"][-1]
    return {
        "sparsity": last["sparsity"],
        "sparsity_epoch1": row["history"][0]["sparsity"],
        "train_acc": last["train_acc"],
        "test_acc": last["test_acc"],
        "train_loss": last["train_loss"],
        "test_loss": last["test_loss"],
        "noise_acc": last.get("noise_acc", float("nan")),
    }


def _measure_outcome(directions: list[int]) -> str:
    """One measure over the comparisons with ReLU: ReLU lower (better) is direction -1."""
    wins, losses = directions.count(-1), directions.count(1)
    if wins and losses:
        return "mixed"
    if wins:
        return "sparse better"
    if losses:
        return "sparse worse"
    return "no difference"


def decide(sparse: bool, measures: dict[str, str]) -> str:
    """Part (b) from the measures' outcomes, then the verdict from (a) and (b).

    Returns the verdict: ``supported`` only if ReLU is sparse and sparsity helps on
    some measure and hurts on none; ``refuted`` if it is not sparse, if it hurts and
    never helps, or if no measure resolves any difference; ``depends`` otherwise.
    """
    if not sparse:
        return "refuted"
    outcomes = set(measures.values())
    helps = "sparse better" in outcomes
    hurts = "sparse worse" in outcomes
    if helps and not hurts and "mixed" not in outcomes:
        return "supported"
    if not helps and "mixed" not in outcomes:
        return "refuted"
    return "depends"


@register
class Sparsity(Experiment):
    id = "C4"
    title = "Sparse activations, robustness and overfitting"
    question = (
        "Is a ReLU network's hidden layer sparse (many exact zeros) where other activations' "
        "are not, and is the sparse network less overfit and more robust to input noise?"
    )

    def _noise_levels(self, profile: str) -> list[float]:
        base = dyn.adam_plan(profile)["eval_noise"]
        return [base, 1.0] if profile == "full" else [base]

    def setup(self, profile: str) -> dict[str, Any]:
        p = dyn.adam_plan(profile)
        return {
            "activations": ", ".join([SPARSE, *NON_SPARSE]),
            "model": f"MLP {p['hidden']} on {p['data']}, Adam lr {p['lr']}, "
            f"batch {p['batch_size']}, {p['epochs']} epochs",
            "seeds": len(dyn.seeds(profile)),
            "sparsity": "fraction of hidden activations exactly 0 on the training set, "
            "at initialisation and after training",
            "robustness": "test accuracy lost with Gaussian input noise of SD "
            + ", ".join(f"{s:g}" for s in self._noise_levels(profile))
            + " (standardised units)",
            "overfitting": "train - test accuracy, test - train loss",
            "tests": f"paired t by seed, Holm over the {len(NON_SPARSE)} comparisons of each "
            f"measure, alpha {dyn.ALPHA}",
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        fixed = dyn.adam_plan(ctx.profile)
        seeds = dyn.seeds(ctx.profile)
        acts = [SPARSE, *NON_SPARSE]
        records: dict[tuple[str, int], dict[str, Any]] = {}
        for level in self._noise_levels(ctx.profile):
            rows = ctx.sweep(
                f"c4-sparsity-noise{level:g}",
                {**fixed, "eval_noise": level},
                {"activation": acts, "seed": seeds},
            )
            for rec in dyn.rows_to_records(rows, ["activation", "seed"], _extract):
                key = (rec["activation"], rec["seed"])
                noise = records.get(key, {}).get("noise", {})
                noise[f"{level:g}"] = rec.pop("noise_acc")
                records[key] = {**rec, "noise": noise}
        init = ctx.measure(
            "c4-init-sparsity",
            _init_sparsity,
            activations=acts,
            fixed={k: fixed[k] for k in ("data", "model", "hidden")},
            seeds=seeds,
        )
        return {
            "records": list(records.values()),
            "init_sparsity": init,
            "noise_levels": [f"{s:g}" for s in self._noise_levels(ctx.profile)],
            "n_seeds": len(seeds),
        }

    def analyse(self, data: dict[str, Any]) -> Outcome:
        recs = data["records"]
        acts = [SPARSE, *[a for a in NON_SPARSE if any(r["activation"] == a for r in recs)]]
        levels = data["noise_levels"]
        # one score per record and measure; noise measures per level
        scored = []
        for r in recs:
            base = {"activation": r["activation"], "seed": r["seed"]}
            s = {
                "acc_gap": r["train_acc"] - r["test_acc"],
                "loss_gap": r["test_loss"] - r["train_loss"],
            }
            for lv in levels:
                s[f"noise_drop@{lv}"] = r["test_acc"] - r["noise"][lv]
            scored.append({**base, **s})
        measures = {"acc_gap": MEASURES["acc_gap"], "loss_gap": MEASURES["loss_gap"]}
        for lv in levels:
            measures[f"noise_drop@{lv}"] = f"{MEASURES['noise_drop']} (SD {lv})"

        # (a) sparsity
        trained = {a: dyn.mean(r["sparsity"] for r in recs if r["activation"] == a) for a in acts}
        init = {a: dyn.mean(data["init_sparsity"].get(a, [])) for a in acts}
        densest_other = max(acts[1:], key=lambda a: trained[a])
        sparse = (
            trained[SPARSE] >= SPARSE_MIN and trained[SPARSE] - trained[densest_other] >= SPARSE_MIN
        )

        # (b) one family of paired comparisons per measure
        comps: dict[str, list[tuple[str, Any, int, float]]] = {}
        outcomes: dict[str, str] = {}
        for m in measures:
            relu = dyn.per_seed(scored, m, activation=SPARSE)
            cs = [dyn.paired(relu, dyn.per_seed(scored, m, activation=o), (SPARSE, o))
                  for o in acts[1:]]  # fmt: skip
            dirs = dyn.holm_directions(cs)
            comps[m] = [(o, c, d, p) for o, c, (d, p) in zip(acts[1:], cs, dirs)]
            outcomes[m] = _measure_outcome([d for d, _ in dirs])

        verdict_name = decide(sparse, outcomes)
        n = data["n_seeds"]
        # "no measurable benefit" rests on tests that could not resolve a difference
        nothing_resolved = (
            verdict_name == "refuted"
            and sparse
            and not any(o == "sparse worse" for o in outcomes.values())
        )
        provisional = n < dyn.MIN_SEEDS or nothing_resolved
        part_a = (
            f"ReLU leaves {100 * trained[SPARSE]:.0f}% of hidden activations exactly zero after "
            f"training ({100 * init[SPARSE]:.0f}% at initialisation); the densest other, "
            f"{densest_other}, {100 * trained[densest_other]:.1f}%"
        )

        def fmt(m: str, x: float) -> str:
            return f"{x:+.3f}" if m == "loss_gap" else dyn.pts(x)

        def summary(m: str) -> str:
            parts = []
            for o, c, d, p in comps[m]:
                if c is None:
                    continue
                tag = {-1: "ReLU lower", 1: "ReLU higher", 0: "unresolved"}[d]
                parts.append(f"vs {o} {fmt(m, c.mean_diff)} ({tag}, Holm p = {p:.2g})")
            return f"{measures[m]}, ReLU minus: " + "; ".join(parts)

        significant = []
        for m in measures:
            sig = [f"{fmt(m, c.mean_diff)} vs {o}" for o, c, d, _p in comps[m] if d != 0]
            if sig:
                significant.append(f"{measures[m]} {', '.join(sig)}")
        n_tests = sum(1 for m in measures for x in comps[m] if x[1] is not None)
        resolved = (
            "significant after Holm (ReLU minus other; lower favours ReLU): "
            + "; ".join(significant)
            if significant
            else f"none of the {n_tests} Holm-corrected paired comparisons is significant "
            f"(n = {n} seeds)"
        )
        helps = [measures[m] for m, o in outcomes.items() if o == "sparse better"]
        hurts = [measures[m] for m, o in outcomes.items() if o == "sparse worse"]
        mixed = [measures[m] for m, o in outcomes.items() if o == "mixed"]
        if verdict_name == "supported":
            verdict = Verdict(
                "supported",
                f"{part_a}; and the sparse network is significantly better on "
                f"{', '.join(helps)}, worse on none: {resolved}.",
                provisional=provisional,
            )
        elif verdict_name == "refuted" and not sparse:
            verdict = Verdict(
                "refuted",
                f"{part_a}: less than the {100 * SPARSE_MIN:.0f}% this lab calls sparse, "
                "so part (a) fails.",
                provisional=provisional,
            )
        elif verdict_name == "refuted":
            tail = (
                f"the sparse network is significantly worse on {', '.join(hurts)}"
                if hurts
                else "no overfitting or noise measure separates it from the non-sparse activations"
            )
            verdict = Verdict(
                "refuted",
                f"{part_a}; but sparsity buys nothing measurable: {tail}; {resolved}.",
                provisional=provisional,
            )
        else:
            verdict = Verdict(
                "depends",
                f"{part_a}; whether that helps depends on the measure and on the activation it "
                f"is compared with: {resolved}.",
                on="the measure (overfitting gap or noise robustness) and the activation compared",
                boundary="; ".join(
                    x for x in (
                        f"better on {', '.join(helps)}" if helps else "",
                        f"worse on {', '.join(hurts)}" if hurts else "",
                        f"mixed on {', '.join(mixed)}" if mixed else "",
                    ) if x
                ) or "no measure resolved",
                provisional=provisional,
            )  # fmt: skip

        findings = [
            f"Part (a): {part_a}. At initialisation: "
            + ", ".join(f"{a} {100 * init[a]:.1f}%" for a in acts)
            + "; after training: "
            + ", ".join(f"{a} {100 * trained[a]:.1f}%" for a in acts)
            + ".",
        ]
        lk = next((x for x in comps["acc_gap"] if x[0] == "leaky_relu"), None)
        if lk is not None and lk[1] is not None:
            lk_noise = comps[f"noise_drop@{levels[0]}"][acts[1:].index("leaky_relu")][1]
            findings.append(
                "Leaky ReLU differs from ReLU only by replacing the zeros with a 0.01 slope "
                f"(sparsity {100 * trained['leaky_relu']:.1f}%): ReLU minus Leaky ReLU, accuracy "
                f"gap {dyn.ci_pts(lk[1])}"
                + (f", noise drop {dyn.ci_pts(lk_noise)}" if lk_noise is not None else "")
                + "."
            )
        for m in measures:
            findings.append(f"Part (b), {summary(m)} ({outcomes[m]}).")
        test_acc = {a: dyn.mean(r["test_acc"] for r in recs if r["activation"] == a) for a in acts}
        train_acc = {
            a: dyn.mean(r["train_acc"] for r in recs if r["activation"] == a) for a in acts
        }
        gap = {a: train_acc[a] - test_acc[a] for a in acts}
        findings.append(
            "Train / test accuracy (mean of "
            f"{n} seeds): "
            + ", ".join(f"{a} {100 * train_acc[a]:.1f} / {100 * test_acc[a]:.1f}%" for a in acts)
            + "."
        )
        smallest = min(acts, key=lambda a: gap[a])
        if smallest == min(acts, key=lambda a: train_acc[a]):
            findings.append(
                f"The smallest accuracy gap ({dyn.pts(gap[smallest], sign=False)}) belongs to "
                f"{smallest}, which also fits the training set least "
                f"({100 * train_acc[smallest]:.1f}%): there a small gap means underfitting, "
                "not robustness."
            )
        per_act = []
        for a in acts:
            rs = [r for r in recs if r["activation"] == a]
            ss = [s for s in scored if s["activation"] == a]
            per_act.append(
                [a, round(100 * init[a], 1), round(100 * trained[a], 1),
                 round(100 * dyn.mean(r["train_acc"] for r in rs), 1),
                 round(100 * dyn.mean(r["test_acc"] for r in rs), 1),
                 round(100 * dyn.mean(s["acc_gap"] for s in ss), 1),
                 round(dyn.mean(s["loss_gap"] for s in ss), 3)]
                + [round(100 * dyn.mean(s[f"noise_drop@{lv}"] for s in ss), 1) for lv in levels]
            )  # fmt: skip
        columns = ["activation", "zeros at init %", "zeros trained %", "train acc %",
                   "test acc %", "acc gap pts", "loss gap"]  # fmt: skip
        columns += [f"noise drop pts (SD {lv})" for lv in levels]
        comp_rows = []
        for m in measures:
            k = 1 if m == "loss_gap" else 100  # losses as they are, accuracies in points
            for o, c, d, p in comps[m]:
                if c is not None:
                    comp_rows.append([
                        measures[m], o, round(k * c.mean_diff, 3),
                        f"[{k * c.ci_low:.2f}, {k * c.ci_high:.2f}]", round(p, 4),
                        {-1: "ReLU lower", 1: "ReLU higher", 0: "not resolved"}[d],
                    ])  # fmt: skip
        tables = [
            Table(f"Per activation (means over {n} seeds)", columns, per_act),
            Table(
                "ReLU minus each non-sparse activation, paired by seed (lower favours ReLU)",
                ["measure", "vs", "difference", "95% CI", "Holm p", "result"],
                comp_rows,
            ),
        ]
        evidence = {
            "sparse": sparse,
            "sparsity_trained": trained,
            "sparsity_init": init,
            "measure_outcomes": outcomes,
            "comparisons": {
                m: {
                    o: {"diff": c.mean_diff, "ci": [c.ci_low, c.ci_high], "p_holm": p}
                    for o, c, _d, p in comps[m]
                    if c is not None
                }
                for m in measures
            },
            "n_seeds": n,
        }
        anchors = [
            Anchor(
                "fraction of a rectifier network's hidden units at exactly 0 at initialisation",
                50.0,
                100 * init[SPARSE],
                "Glorot, Bordes & Bengio 2011, Deep sparse rectifier neural networks (AISTATS)",
                "they state 'around 50%' for symmetric weight initialisation; PyTorch's default "
                "Linear init adds a random bias, which moves the fraction a little",
                unit="%",
            )
        ]
        return Outcome(verdict, evidence, findings, tables, anchors)

    def figure(self, data: dict[str, Any], outcome: Outcome) -> Any:
        import matplotlib.pyplot as plt

        recs = data["records"]
        acts = [SPARSE, *[a for a in NON_SPARSE if any(r["activation"] == a for r in recs)]]
        lv = data["noise_levels"][0]
        ev = outcome.evidence
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.6))
        xs = list(range(len(acts)))
        ax1.bar([x - 0.2 for x in xs], [100 * ev["sparsity_init"][a] for a in acts], 0.4,
                label="at initialisation")  # fmt: skip
        ax1.bar([x + 0.2 for x in xs], [100 * ev["sparsity_trained"][a] for a in acts], 0.4,
                label="after training")  # fmt: skip
        ax1.axhline(100 * SPARSE_MIN, color="grey", ls=":", lw=1, label="'sparse' threshold")
        ax1.set_xticks(xs, acts, rotation=30, ha="right")
        ax1.set_ylabel("hidden activations exactly 0 (%)")
        ax1.set_title("(a) sparsity")
        ax1.legend(fontsize=7)

        def vals(a: str, f: Any) -> list[float]:
            return [100 * f(r) for r in recs if r["activation"] == a]

        gap = [vals(a, lambda r: r["train_acc"] - r["test_acc"]) for a in acts]
        drop = [vals(a, lambda r: r["test_acc"] - r["noise"][lv]) for a in acts]
        for i in range(len(acts)):
            ax2.scatter([i - 0.12] * len(gap[i]), gap[i], s=12, color="C0",
                        label="train - test acc" if i == 0 else None)  # fmt: skip
            ax2.scatter([i + 0.12] * len(drop[i]), drop[i], s=12, color="C3",
                        label=f"acc lost to noise SD {lv}" if i == 0 else None)  # fmt: skip
        ax2.set_xticks(xs, acts, rotation=30, ha="right")
        ax2.set_ylabel("percentage points (one dot per seed)")
        ax2.set_title("(b) overfitting and noise (lower is better)")
        ax2.legend(fontsize=7)
        fig.suptitle("C4: ReLU sparsity vs generalisation, MLP on MNIST-1D", fontsize=10)
        fig.tight_layout()
        return fig
