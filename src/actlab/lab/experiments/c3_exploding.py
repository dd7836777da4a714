"""C3: does ReLU cause neither vanishing nor exploding gradients, at any depth and initialisation?

The texts argue from ReLU's derivative (1 for x > 0), which says nothing about the
weights the gradient is multiplied by on the way back. So the measurement is C2's
(stored once for both): weight-gradient norms of freshly initialised ReLU MLPs of 2 to 50
hidden layers under PyTorch's default init (weights and biases U(+-1/sqrt(fan_in)),
i.e. a variance of 1/(3 fan_in), a sixth of what ReLU needs), Xavier/Glorot (1/fan_in:
half) and He (2/fan_in; He et al. 2015, "Delving deep into rectifiers"). Each net is
summarised by the first/last hidden-layer gradient ratio and by the first layer's
gradient relative to a depth-2 net's (see C2 for why both). ReLU passes the claim under
an init when both stay within [1/10, 10] (``_depth.BAND``) at every depth measured.
The trained nets of C2's sweep give the same ratio after training (the trainer's
per-epoch mean gradient norms), reported beside it.
"""

from __future__ import annotations

import math
from typing import Any

from . import Context, Experiment, Outcome, Table, Verdict, register
from . import _depth as D
from .c2_vanishing import INIT_NAMES


def _outside(s: dict[str, float]) -> float:
    """How far (as a factor) the worse of ratio and scale lies outside the band (< 1: inside)."""
    worst = max(abs(math.log10(max(s[k], D.FLOOR))) for k in ("ratio", "scale"))
    return 10 ** (worst - math.log10(D.BAND))


@register
class Exploding(Experiment):
    id = "C3"
    title = "ReLU: neither vanishing nor exploding gradients?"
    question = (
        "Do a ReLU MLP's gradients stay within a factor of 10 along the net (first vs last "
        "hidden layer) and with depth (first layer vs a depth-2 net's) for every depth and "
        "initialisation tested, at initialisation and after training?"
    )

    def setup(self, profile: str) -> dict[str, Any]:
        g, t = D.grad_plan(profile), D.train_plan(profile)
        return {
            "gradients at init": f"ReLU MLPs of width {g['width']}, depths {g['depths']}, "
            f"inits {', '.join(g['inits'])}, seeds {g['seeds']}; one MNIST-1D batch of "
            f"{g['batch']} (shared with C2)",
            "after training": f"C2's sweep: depths {t['depths']}, inits {', '.join(t['inits'])}, "
            f"{t['epochs']} epochs of momentum SGD; last epoch's mean gradient norms",
            "band": f"[1/{D.BAND:g}, {D.BAND:g}]",
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        return {"grad": D.gradients(ctx), "train": D.trainability(ctx)}

    def analyse(self, data: dict[str, Any]) -> Outcome:
        nets = [n for n in data["grad"]["nets"] if n["activation"] == "relu"]
        summary = D.grad_summary(nets)
        inits = list(dict.fromkeys(n["init"] for n in nets))
        depths = sorted({int(n["depth"]) for n in nets})
        deepest = depths[-1]
        best = D.train_accuracy([r for r in data["train"] if r["activation"] == "relu"])
        fails = {i: D.first_failure(summary, "relu", i) for i in inits}
        ok = [i for i in inits if fails[i] is None]
        bad = [i for i in inits if fails[i] is not None]

        def span(i: str, key: str) -> str:
            vs = [summary[("relu", i, d)][key] for d in depths]
            return f"{D.fmt_ratio(min(vs))}-{D.fmt_ratio(max(vs))}"

        def fail_text(i: str, who: str = "they") -> str:
            d, kind, s = fails[i]  # type: ignore[misc]
            at = summary[("relu", i, deepest)]
            return (
                f"under {INIT_NAMES.get(i, i)} init {who} are {kind} from depth {d} "
                f"(first/last {D.fmt_ratio(s['ratio'])}, first layer x{D.fmt_ratio(s['scale'])} "
                f"of depth {depths[0]}'s; at depth {deepest}: {D.fmt_ratio(at['ratio'])} and "
                f"x{D.fmt_ratio(at['scale'])})"
            )

        def ok_text(i: str, who: str = "they") -> str:
            return (
                f"under {INIT_NAMES.get(i, i)} init {who} stay in the band up to depth {deepest} "
                f"(first/last {span(i, 'ratio')}, first layer x{span(i, 'scale')})"
            )

        # provisional: an init judged even comes within a factor of 2 of the band's edge,
        # or one judged failing is, at the deepest depth, less than 2x outside it
        near = [i for i in ok for d in depths if _outside(summary[("relu", i, d)]) > 1 / 2] + [
            i for i in bad if _outside(summary[("relu", i, deepest)]) < 2
        ]
        provisional = bool(near) or len({n["seed"] for n in nets}) < 3
        texts = [ok_text(i) for i in ok] + [fail_text(i) for i in bad]
        band = f"[1/{D.BAND:g}, {D.BAND:g}]"
        if not bad:
            verdict = Verdict(
                "supported",
                f"ReLU's gradients stay within {band} at every depth and init: "
                + "; ".join(texts)
                + ".",
                provisional=provisional,
            )
        elif not ok:
            verdict = Verdict(
                "refuted",
                f"Under no initialisation tested do ReLU's gradients stay within {band}: "
                + "; ".join(texts)
                + ".",
                provisional=provisional,
            )
        else:
            verdict = Verdict(
                "depends",
                f"ReLU's gradients stay within {band} only with the right weight scale: "
                + "; ".join(texts)
                + ".",
                on="the initialisation (the weights' variance)",
                boundary=f"even to depth {deepest} under {', '.join(ok)}; "
                + "; ".join(f"{fails[i][1]} from depth {fails[i][0]} under {i}" for i in bad),  # type: ignore[index]
                provisional=provisional,
            )

        findings = [
            "U" + t[1:] + "."
            for t in [ok_text(i, "ReLU's gradients") for i in ok]
            + [fail_text(i, "ReLU's gradients") for i in bad]
        ]
        for i in bad:
            at = summary[("relu", i, deepest)]
            if D.out_of_band(at["ratio"], 1.0) is None and at["scale"] < 1 / D.BAND:
                findings.append(
                    f"Under {INIT_NAMES.get(i, i)} init the first/last ratio alone would pass "
                    f"({D.fmt_ratio(at['ratio'])} at depth {deepest}), yet the first layer gets "
                    f"x{D.fmt_ratio(at['scale'])} of a depth-{depths[0]} net's gradient: every "
                    "layer's gradient shrinks together, which the ratio cannot see."
                )
        trained = sorted({(i, d) for (_, i, d) in best})
        if trained:
            findings.append(
                "After the training budget (last-epoch mean gradient norms, best learning "
                "rate), ReLU's first/last ratio: "
                + "; ".join(
                    f"{INIT_NAMES.get(i, i)} init: "
                    + ", ".join(
                        f"depth {d} {D.fmt_ratio(best[('relu', i, d)]['trained_ratio'])}"
                        for (ii, d) in trained
                        if ii == i
                    )
                    for i in dict.fromkeys(i for i, _ in trained)
                )
                + "."
            )
        rows = []
        for i in inits:
            for d in depths:
                s = summary[("relu", i, d)]
                t = best.get(("relu", i, d))
                rows.append(
                    [
                        i,
                        d,
                        D.fmt_ratio(s["ratio"]),
                        D.fmt_ratio(s["scale"]),
                        D.out_of_band(s["ratio"], s["scale"]) or "even",
                        D.fmt_ratio(t["trained_ratio"]) if t else "",
                        f"{t['acc']:.1%}" if t else "",
                    ]
                )
        table = Table(
            "ReLU gradients: at initialisation (geometric mean over seeds) and after training",
            ["init", "depth", "first/last at init", f"first layer vs depth {depths[0]}",
             "state", "first/last after training", "test accuracy"],
            rows,
        )  # fmt: skip
        evidence = {
            "band": D.BAND,
            "even_under": ok,
            "fails_under": {
                i: {"depth": fails[i][0], "kind": fails[i][1], **fails[i][2]}  # type: ignore[index]
                for i in bad
            },
            "at_deepest": {i: summary[("relu", i, deepest)] for i in inits},
            "after_training_ratio": {
                f"{i}/{d}": best[("relu", i, d)]["trained_ratio"] for (i, d) in trained
            },
        }
        return Outcome(verdict, evidence, findings, [table])

    def figure(self, data: dict[str, Any], outcome: Outcome) -> Any:
        import matplotlib.pyplot as plt

        nets = [n for n in data["grad"]["nets"] if n["activation"] == "relu"]
        summary = D.grad_summary(nets)
        best = D.train_accuracy([r for r in data["train"] if r["activation"] == "relu"])
        inits = list(dict.fromkeys(n["init"] for n in nets))
        colors = {"torch": "tab:red", "xavier": "tab:purple", "he": "tab:blue"}
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8))
        for i in inits:
            ds = sorted(d for _, ii, d in summary if ii == i)
            c = colors.get(i, "0.3")
            for ax, key in ((ax1, "ratio"), (ax2, "scale")):
                ax.plot(ds, [max(summary[("relu", i, d)][key], 1e-12) for d in ds], "-o",
                        color=c, ms=3, label=f"init {i}")  # fmt: skip
            dt = sorted(d for _, ii, d in best if ii == i)
            if dt:
                ax1.plot(dt, [best[("relu", i, d)]["trained_ratio"] for d in dt], "s", mfc="none",
                         color=c, ms=6, label=f"init {i}, after training")  # fmt: skip
        for ax in (ax1, ax2):
            ax.axhspan(1 / D.BAND, D.BAND, color="0.9", zorder=0)
            D.depth_axis(ax, sorted({d for _, _, d in summary}))
            ax.set_yscale("log")
        ax1.set_ylabel("first / last hidden-layer gradient")
        ax1.set_title("Along the net")
        ax2.set_ylabel("layer-1 gradient / depth-2 net's\n(clipped at 1e-12)")
        ax2.set_title("With depth")
        ax1.legend(fontsize=7)
        fig.suptitle("C3: ReLU MLP weight gradients at init (grey band: within 10x)", fontsize=10)
        fig.tight_layout()
        return fig
