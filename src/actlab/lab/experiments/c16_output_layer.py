"""C16: does ReLU belong in hidden layers, and sigmoid/softmax/linear in the output layer?

The same MLP is trained with each combination of a hidden activation (ReLU or
sigmoid) and an output transformation applied to the last layer's outputs before
the softmax cross-entropy (the trainer's ``output`` key): none (linear logits,
i.e. a softmax output layer: the textbook choice for classification), ReLU,
sigmoid or tanh, paired by seed. Two parts:

* *ReLU at the output is worse*: ReLU outputs minus linear outputs, test accuracy;
* *ReLU is good in hidden layers*: ReLU hidden minus sigmoid hidden (both with
  linear outputs) is not significantly negative.

Note on the bounded outputs: a sigmoid or tanh applied before a softmax caps the
confidence the model can express (logits confined to (0, 1) or (-1, 1)), so its
loss cannot reach 0; the textbook "sigmoid output" of a binary classifier is a
sigmoid on one logit with a binary cross-entropy, which is the 2-class softmax on
linear logits (the "none" case). They are measured for completeness, not judged.

Data: MNIST-1D (10 classes; the Adam MLPs of ``_dynamics.adam_plan``, so the linear-
output runs are C4's) and, outside the smoke test, the binary breast-cancer set.
"""

from __future__ import annotations

from typing import Any

from . import Anchor, Context, Experiment, Outcome, Table, Verdict, register
from . import _dynamics as dyn

HIDDEN = ["relu", "sigmoid"]
#: Output transformations; None is the linear (softmax) output layer.
OUTPUTS: list[str | None] = [None, "relu", "sigmoid", "tanh"]
#: Differences of test accuracy inside +-1 point are of no consequence for choosing an
#: output layer: an interval inside that band shows "no worse", not just "not resolved".
EQUIV = 0.01
#: MNIST-1D MLP test accuracy published with the data set (Greydanus 2020, README table).
MNIST1D_MLP = 68.0


def _name(out: str | None) -> str:
    return "linear" if out is None else out


def _extract(row: dict[str, Any]) -> dict[str, Any]:
    last = row["history"][-1]
    return {
        "test_acc": last["test_acc"],
        "train_acc": last["train_acc"],
        "test_loss": last["test_loss"],
    }


def classify(out_dir: int, out_ci: tuple[float, float] | None, hid_dir: int) -> str:
    """One data set: does it support the claim, contradict it, or leave it unresolved?

    ``out_dir``/``hid_dir``: Holm-corrected directions of ReLU-output minus linear and of
    ReLU-hidden minus sigmoid-hidden (-1, 0, +1); ``out_ci``: the former's interval.
    """
    if out_dir == -1 and hid_dir >= 0:
        return "supports"
    equivalent = out_ci is not None and -EQUIV < out_ci[0] and out_ci[1] < EQUIV
    if hid_dir == -1 or out_dir == 1 or (out_dir == 0 and equivalent):
        return "contradicts"
    return "unresolved"


def decide(labels: list[str]) -> str:
    """All data sets' labels -> verdict; an unresolved data set defers to the others."""
    if "supports" in labels and "contradicts" in labels:
        return "depends"
    if "supports" in labels:
        return "supported"
    return "refuted"


@register
class OutputLayer(Experiment):
    id = "C16"
    title = "Where ReLU belongs: hidden or output layer"
    question = (
        "Paired by seed, is an MLP with ReLU applied to its outputs less accurate than one with "
        "linear (softmax) outputs, while ReLU in the hidden layers is at least as good as sigmoid?"
    )

    def _datasets(self, profile: str) -> list[str]:
        return ["mnist1d"] if profile == "smoke" else ["mnist1d", "breast_cancer"]

    def _outputs(self, profile: str) -> list[str | None]:
        return OUTPUTS[:2] if profile == "smoke" else OUTPUTS  # smoke: the two judged ones

    def setup(self, profile: str) -> dict[str, Any]:
        p = dyn.adam_plan(profile)
        return {
            "hidden activations": ", ".join(HIDDEN),
            "outputs": ", ".join(_name(o) for o in self._outputs(profile))
            + " (applied to the last layer, then softmax cross-entropy)",
            "data": ", ".join(self._datasets(profile)),
            "model": f"MLP {p['hidden']}, Adam lr {p['lr']}, batch {p['batch_size']}, "
            f"{p['epochs']} epochs",
            "seeds": len(dyn.seeds(profile)),
            "tests": "test accuracy paired by seed; per data set, Holm over the two judged "
            "comparisons (ReLU vs linear outputs, ReLU vs sigmoid hidden); sigmoid and tanh "
            "outputs reported unadjusted",
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        fixed = dyn.adam_plan(ctx.profile)
        records = []
        for data in self._datasets(ctx.profile):
            rows = ctx.sweep(
                f"c16-output-{data}",
                {**fixed, "data": data},
                {
                    "activation": HIDDEN,
                    "output": self._outputs(ctx.profile),
                    "seed": dyn.seeds(ctx.profile),
                },
            )
            records += dyn.rows_to_records(rows, ["data", "activation", "output", "seed"],
                                           _extract)  # fmt: skip
        return {"records": records, "n_seeds": len(dyn.seeds(ctx.profile))}

    def analyse(self, data: dict[str, Any]) -> Outcome:
        recs = data["records"]
        datasets = list(dict.fromkeys(r["data"] for r in recs))
        outputs = [o for o in OUTPUTS if any(r["output"] == o for r in recs)]

        def acc(d: str, hidden: str, out: str | None) -> dict[int, float]:
            return dyn.per_seed(recs, "test_acc", data=d, activation=hidden, output=out)

        comps: dict[str, dict[str, Any]] = {}
        labels: dict[str, str] = {}
        for d in datasets:
            # the two comparisons the verdict rests on, Holm-corrected together
            judged = {
                "relu output": dyn.paired(
                    acc(d, "relu", "relu"), acc(d, "relu", None), ("relu output", "linear")
                ),
                "relu hidden": dyn.paired(
                    acc(d, "relu", None), acc(d, "sigmoid", None), ("relu hidden", "sigmoid")
                ),
            }
            dirs = dyn.holm_directions(list(judged.values()))
            comps[d] = {k: (c, dp, "Holm p") for (k, c), dp in zip(judged.items(), dirs)}
            for o in outputs[2:]:  # descriptive: not part of the verdict, so not corrected
                c = dyn.paired(acc(d, "relu", o), acc(d, "relu", None), (o, "linear"))
                comps[d][f"{o} output"] = (c, (0, c.p_value if c else 1.0), "p")
            out_c, (out_dir, _p), _ = comps[d]["relu output"]
            labels[d] = classify(
                out_dir,
                (out_c.ci_low, out_c.ci_high) if out_c is not None else None,
                comps[d]["relu hidden"][1][0],
            )
        verdict_name = decide(list(labels.values()))
        n = data["n_seeds"]

        def text(d: str, k: str) -> str:
            c, (_dir, p), pname = comps[d][k]
            return "n/a" if c is None else f"{dyn.ci_pts(c)}, {pname} = {p:.2g}"

        def summary(d: str) -> str:
            base = dyn.mean(acc(d, "relu", None).values())
            per = sorted(acc(d, "relu", "relu").values())
            return (
                f"{d} (ReLU hidden, linear output {100 * base:.1f}%): ReLU output minus linear "
                f"{text(d, 'relu output')} (per seed {100 * per[0]:.1f}-{100 * per[-1]:.1f}%); "
                f"ReLU hidden minus sigmoid hidden {text(d, 'relu hidden')}"
                if per
                else f"{d}: no runs"
            )

        def why(d: str) -> str:
            o, h = comps[d]["relu output"][1][0], comps[d]["relu hidden"][1][0]
            return {
                "supports": "ReLU outputs are significantly worse and ReLU hidden layers are not",
                "contradicts": "ReLU hidden layers are worse than sigmoid ones"
                if h == -1
                else "ReLU outputs are better than linear ones"
                if o == 1
                else f"ReLU outputs are within {100 * EQUIV:g} point of linear ones",
                "unresolved": "the difference is not resolved",
            }[labels[d]]

        all_text = "; ".join(summary(d) for d in datasets)
        per_set = "; ".join(f"on {d} {why(d)}" for d in datasets)
        provisional = n < dyn.MIN_SEEDS or "unresolved" in labels.values()
        if verdict_name == "supported":
            reason = (
                f"ReLU at the output costs accuracy, ReLU in hidden layers does not ({per_set})"
            )
            verdict = Verdict("supported", f"{reason}: {all_text}.", provisional=provisional)
        elif verdict_name == "refuted":
            reason = (
                "No data set shows ReLU outputs significantly worse than linear ones"
                if all(v == "unresolved" for v in labels.values())
                else f"{per_set[0].upper()}{per_set[1:]}"
            )
            verdict = Verdict("refuted", f"{reason}: {all_text}.", provisional=provisional)
        else:
            yes = [d for d in datasets if labels[d] == "supports"]
            no = [d for d in datasets if labels[d] == "contradicts"]
            verdict = Verdict(
                "depends",
                f"The claim holds on {', '.join(yes)} but not on {', '.join(no)} ({per_set}): "
                f"{all_text}.",
                on="the data set (number of classes)",
                boundary=f"holds on {', '.join(yes)}; not on {', '.join(no)}",
                provisional=provisional,
            )

        findings = []
        for d in datasets:
            findings.append(summary(d) + ".")
            others = [k for k in ("sigmoid output", "tanh output") if k in comps[d]]
            if others:
                findings.append(
                    f"{d}, other outputs on ReLU hidden layers, minus linear: "
                    + "; ".join(f"{k} {text(d, k)}" for k in others)
                    + " (applied before the softmax, these cap the model's confidence)."
                )
            sig_relu = dyn.paired(acc(d, "sigmoid", "relu"), acc(d, "sigmoid", None),
                                  ("relu output", "linear"))  # fmt: skip
            if sig_relu is not None:
                findings.append(
                    f"{d}, with sigmoid hidden layers, ReLU output minus linear: "
                    f"{dyn.ci_pts(sig_relu)} (unadjusted)."
                )
        rows = []
        for d in datasets:
            for h in HIDDEN:
                for o in outputs:
                    a = acc(d, h, o)
                    loss = dyn.per_seed(recs, "test_loss", data=d, activation=h, output=o)
                    rows.append([d, h, _name(o), round(100 * dyn.mean(a.values()), 1),
                                 round(dyn.mean(loss.values()), 3)])  # fmt: skip
        tables = [
            Table(
                f"Test accuracy and loss per hidden activation and output (means over {n} seeds)",
                ["data", "hidden", "output", "test acc %", "test loss"],
                rows,
            )
        ]
        evidence = {
            "per_data": {
                d: {
                    k: None
                    if c is None
                    else {"diff": c.mean_diff, "ci": [c.ci_low, c.ci_high], pname: dp[1]}
                    for k, (c, dp, pname) in comps[d].items()
                }
                for d in datasets
            },
            "labels": labels,
            "n_seeds": n,
        }
        anchors = []
        if "mnist1d" in datasets:
            anchors.append(
                Anchor(
                    "MNIST-1D test accuracy of a ReLU MLP with linear (softmax) outputs",
                    MNIST1D_MLP,
                    100 * dyn.mean(acc("mnist1d", "relu", None).values()),
                    "Greydanus 2020, Scaling down deep learning (MNIST-1D README table)",
                    "theirs trains longer with its own width and schedule; ours is the lab's "
                    "short Adam run, enough to compare output layers, not to match the benchmark",
                    unit="%",
                )
            )
        return Outcome(verdict, evidence, findings, tables, anchors)

    def figure(self, data: dict[str, Any], outcome: Outcome) -> Any:
        import matplotlib.pyplot as plt

        recs = data["records"]
        datasets = list(dict.fromkeys(r["data"] for r in recs))
        outputs = [o for o in OUTPUTS if any(r["output"] == o for r in recs)]
        fig, axes = plt.subplots(1, len(datasets), figsize=(8, 3.6), squeeze=False)
        for ax, d in zip(axes[0], datasets):
            xs = list(range(len(outputs)))
            for i, h in enumerate(HIDDEN):
                means, errs = [], []
                for o in outputs:
                    v = [
                        100 * r["test_acc"]
                        for r in recs
                        if (r["data"], r["activation"], r["output"]) == (d, h, o)
                    ]
                    m = dyn.mean(v)
                    means.append(m)
                    errs.append(
                        (sum((x - m) ** 2 for x in v) / (len(v) - 1)) ** 0.5 if len(v) > 1 else 0
                    )
                ax.bar([x + (i - 0.5) * 0.4 for x in xs], means, 0.4, yerr=errs, capsize=2,
                       label=f"{h} hidden")  # fmt: skip
            ax.set_xticks(xs, [_name(o) for o in outputs])
            ax.set_xlabel("output transformation")
            ax.set_ylabel("test accuracy (%, mean ± SD)")
            ax.set_title(d)
            ax.legend(fontsize=7)
        fig.suptitle("C16: activation at the output vs in the hidden layers", fontsize=10)
        fig.tight_layout()
        return fig
