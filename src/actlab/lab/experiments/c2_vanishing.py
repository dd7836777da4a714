"""C2: do sigmoid/tanh gradients vanish in deep nets where ReLU's do not; does ReLU train deeper?

Two measurements, shared with C3 (stored once):

* gradients at initialisation: MLPs of 2 to 50 hidden layers (``_depth.grad_plan``)
  with each activation and initialisation (PyTorch's default, Xavier/Glorot, and
  ``he``, which here means each function's own variance-preserving gain), one MNIST-1D
  batch, cross-entropy, backward. Each net is summarised by two numbers: the first
  hidden layer's weight-gradient norm over the last hidden layer's (``ratio``: is the
  gradient uneven along the net?) and over the first layer's norm in a depth-2 net of
  the same kind (``scale``: how much of the gradient still reaches the input side as
  depth grows?). The ratio alone misses a net whose every layer gets a uniformly tiny
  gradient: with Xavier init a deep ReLU net's forward signal and backward signal both
  shrink by sqrt(2) per layer and cancel in the ratio, while the scale drops like
  2^(-depth/2). Vanishing means either number below 1/10 (``_depth.BAND``).
* trainability: test accuracy against depth after a short, fixed budget of momentum
  SGD (best of a few learning rates, mean over seeds); a depth "trains" when it keeps
  half the gain over chance of the best depth-2 net (``_depth.TRAIN_FRACTION``).

The claim holds for a saturating function f under an initialisation when f's gradients
vanish with depth, ReLU's stay in the band, and ReLU trains deeper than f. It is
judged per pair (f, init): the saturation argument (Glorot & Bengio 2010) predicts
vanishing for sigmoid under any init, while tanh with a gain above 1 is known to
explode instead (Schoenholz et al. 2017, "Deep information propagation"), and ReLU's
derivative of 1 only keeps gradients even if the weights' scale is right (He et al. 2015).
"""

from __future__ import annotations

from typing import Any

from . import Context, Experiment, Outcome, Table, Verdict, register
from . import _depth as D

#: The functions the claim says saturate.
SATURATING = ("sigmoid", "tanh")
#: The figure clips smaller gradient ratios to this (they underflow to 0 in float32).
CLIP = 1e-12
#: Names of the initialisations in sentences.
INIT_NAMES = {
    "torch": "PyTorch default",
    "xavier": "Xavier",
    "he": "gain-corrected (He)",
    "lecun": "LeCun",
    "orthogonal": "orthogonal",
}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _depth_text(d: int) -> str:
    return str(d) if d else "none"


def _order(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _clause(fail: tuple[int, str, dict[str, float]] | None, act: str, deepest: int) -> str:
    if fail is None:
        return f"{act} stays in the band to depth {deepest}"
    d, kind, s = fail
    verb = "vanishes" if kind == "vanishing" else "explodes"
    return (
        f"{act} {verb} from depth {d} (first/last {D.fmt_ratio(s['ratio'])}, "
        f"first layer x{D.fmt_ratio(s['scale'])})"
    )


@register
class Vanishing(Experiment):
    id = "C2"
    title = "Vanishing gradients with depth: sigmoid/tanh against ReLU"
    question = (
        "At initialisation, do sigmoid and tanh gradients vanish as MLPs get deeper while ReLU's "
        "do not, and does ReLU therefore train at greater depths within the same budget?"
    )

    def setup(self, profile: str) -> dict[str, Any]:
        g, t = D.grad_plan(profile), D.train_plan(profile)
        return {
            "gradients at init": f"MLPs of width {g['width']}, depths {g['depths']}, "
            f"{', '.join(g['activations'])}; inits {', '.join(g['inits'])}; seeds {g['seeds']}; "
            f"one MNIST-1D batch of {g['batch']}, cross-entropy",
            "trainability": f"MNIST-1D, width {t['width']}, depths {t['depths']}, "
            f"{', '.join(t['activations'])}; inits {', '.join(t['inits'])}; momentum SGD "
            f"(0.9), lr {t['lrs']} (best kept), batch 100, {t['epochs']} epochs, "
            f"seeds {t['seeds']}",
            "thresholds": f"vanishing: ratio or scale < 1/{D.BAND:g}; trains: test accuracy >= "
            f"chance + {D.TRAIN_FRACTION:g} x (best depth-2 accuracy - chance)",
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        return {"grad": D.gradients(ctx), "train": D.trainability(ctx)}

    def analyse(self, data: dict[str, Any]) -> Outcome:
        nets = data["grad"]["nets"]
        summary = D.grad_summary(nets)
        acts = _order([n["activation"] for n in nets])
        grad_inits = _order([n["init"] for n in nets])
        g_depths = sorted({int(n["depth"]) for n in nets})
        deepest = g_depths[-1]
        best = D.train_accuracy(data["train"])
        threshold, ref = D.train_threshold(best)
        t_depths = sorted({d for _, _, d in best})
        train_inits = _order([r["init"] for r in data["train"]])
        inits = [i for i in grad_inits if i in train_inits]

        fails = {(a, i): D.first_failure(summary, a, i) for a in acts for i in grad_inits}
        tdepth = {
            (a, i): D.trainable_depth(best, a, i, threshold)
            for a in (*SATURATING, "relu")
            for i in train_inits
        }
        holds: dict[tuple[str, str], bool] = {}
        for i in inits:
            for a in SATURATING:
                f = fails[(a, i)]
                vanish = f is not None and f[1] == "vanishing"
                deeper = tdepth[("relu", i)] > tdepth[(a, i)]
                holds[(a, i)] = vanish and fails[("relu", i)] is None and deeper
        why = {
            i: f"{INIT_NAMES.get(i, i)} init: "
            + ", ".join(_clause(fails[(a, i)], a, deepest) for a in SATURATING)
            + f", {_clause(fails[('relu', i)], 'ReLU', deepest)}; trains to depth "
            + ", ".join(f"{a} {_depth_text(tdepth[(a, i)])}" for a in SATURATING)
            + f", ReLU {_depth_text(tdepth[('relu', i)])}"
            for i in inits
        }

        # provisional: an accuracy near the trains/does-not line, or a gradient number
        # within a factor of 2 of the band's edge where it decided a part
        near_acc = [
            f"{a}/{i} depth {d} ({v['acc']:.3f})"
            for (a, i, d), v in best.items()
            if abs(v["acc"] - threshold) < D.ACC_MARGIN
        ]
        near_grad = [
            f"{a}/{i}"
            for (a, i) in holds
            for f in [fails[(a, i)]]
            if f is not None and D.band_margin(f[2]["ratio"], f[2]["scale"]) < 2
        ]
        n_seeds = len({r["seed"] for r in data["train"]})
        provisional = bool(near_acc or near_grad) or n_seeds < 3

        yes = [k for k, v in holds.items() if v]
        no = [k for k, v in holds.items() if not v]
        detail = "; ".join(why[i] for i in inits)
        band = (
            f"(band: first/last ratio and first-layer gradient vs depth {g_depths[0]} within "
            f"[1/{D.BAND:g}, {D.BAND:g}])"
        )
        if holds and not no:
            verdict = Verdict(
                "supported",
                "Under every initialisation tested the saturating functions' gradients vanish "
                f"with depth while ReLU's stay in the band {band}, and ReLU trains deeper. "
                + detail
                + ".",
                provisional=provisional,
            )
        elif holds and not yes:
            verdict = Verdict(
                "refuted",
                f"No initialisation tested shows the claimed pattern {band}. " + detail + ".",
                provisional=provisional,
            )
        elif holds:
            verdict = Verdict(
                "depends",
                "The pattern holds only for "
                + ", ".join(f"{a} under {INIT_NAMES.get(i, i)} init" for a, i in yes)
                + f" {band}. "
                + detail
                + ".",
                on="the initialisation, and which saturating function",
                boundary="holds for "
                + ", ".join(f"{a}/{i}" for a, i in yes)
                + "; fails for "
                + ", ".join(f"{a}/{i}" for a, i in no),
                provisional=provisional,
            )
        else:
            verdict = Verdict(
                "not testable here",
                "The gradient study and the training sweep share no initialisation; both are "
                "needed for the same init to test the claim.",
            )

        findings = []
        for i in grad_inits:
            findings.append(
                f"{_cap(INIT_NAMES.get(i, i))} init, at depth {deepest}: first/last "
                "gradient ratio "
                + ", ".join(f"{a} {D.fmt_ratio(summary[(a, i, deepest)]['ratio'])}" for a in acts)
                + "; first-layer gradient relative to depth "
                + f"{g_depths[0]}: "
                + ", ".join(f"{a} {D.fmt_ratio(summary[(a, i, deepest)]['scale'])}" for a in acts)
                + "."
            )
        findings.append(
            f"Training ({len(t_depths)} depths up to {t_depths[-1]}): the best depth-{t_depths[0]} "
            f"net reaches {ref:.1%} test accuracy, so a depth trains at >= {threshold:.1%}. "
            "Deepest depth that trains: "
            + "; ".join(
                f"{INIT_NAMES.get(i, i)} init: "
                + ", ".join(f"{a} {_depth_text(tdepth[(a, i)])}" for a in (*SATURATING, "relu"))
                for i in train_inits
            )
            + " (none: not even the shallowest)."
        )
        for a in acts:
            if a in (*SATURATING, "relu"):
                continue
            ok = [i for i in grad_inits if fails[(a, i)] is None]
            if ok:
                findings.append(
                    f"{a} keeps its gradients within [1/{D.BAND:g}, {D.BAND:g}] up to depth "
                    f"{deepest} under {', '.join(INIT_NAMES.get(i, i) for i in ok)} init."
                )
        if near_acc:
            findings.append(
                f"Accuracies within {D.ACC_MARGIN:.0%} of the {threshold:.1%} line: "
                + ", ".join(near_acc)
                + "; another seed could move a trainable depth."
            )

        ratio_rows = [
            [a, i, *(D.fmt_ratio(summary[(a, i, d)]["ratio"]) for d in g_depths)]
            for a in acts
            for i in grad_inits
        ]
        scale_rows = [
            [a, i, *(D.fmt_ratio(summary[(a, i, d)]["scale"]) for d in g_depths)]
            for a in acts
            for i in grad_inits
        ]
        acc_rows = [
            [
                a,
                i,
                *(
                    f"{best[(a, i, d)]['acc']:.1%} (lr {best[(a, i, d)]['lr']:g})"
                    if (a, i, d) in best
                    else ""
                    for d in t_depths
                ),
                tdepth.get((a, i), ""),
            ]
            for a in (*SATURATING, "relu")
            for i in train_inits
        ]
        tables = [
            Table(
                "First/last hidden-layer gradient norm at initialisation (geometric mean over "
                "seeds)",
                ["activation", "init", *(f"depth {d}" for d in g_depths)],
                ratio_rows,
            ),
            Table(
                f"First-layer gradient norm relative to the depth-{g_depths[0]} net",
                ["activation", "init", *(f"depth {d}" for d in g_depths)],
                scale_rows,
            ),
            Table(
                "Test accuracy after the training budget (best lr, mean over seeds)",
                ["activation", "init", *(f"depth {d}" for d in t_depths), "trains to depth"],
                acc_rows,
            ),
        ]
        evidence = {
            "band": D.BAND,
            "train_threshold": threshold,
            "shallow_reference_acc": ref,
            "holds": {f"{a}/{i}": v for (a, i), v in holds.items()},
            "first_failure": {
                f"{a}/{i}": (None if f is None else {"depth": f[0], "kind": f[1], **f[2]})
                for (a, i), f in fails.items()
            },
            "trainable_depth": {f"{a}/{i}": v for (a, i), v in tdepth.items()},
            "at_deepest": {f"{a}/{i}": summary[(a, i, deepest)] for a in acts for i in grad_inits},
        }
        return Outcome(verdict, evidence, findings, tables)

    def figure(self, data: dict[str, Any], outcome: Outcome) -> Any:
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D

        summary = D.grad_summary(data["grad"]["nets"])
        best = D.train_accuracy(data["train"])
        threshold, _ = D.train_threshold(best)
        acts = [a for a in (*SATURATING, "relu")]
        inits = _order([n["init"] for n in data["grad"]["nets"]])
        colors = {"sigmoid": "tab:orange", "tanh": "tab:green", "relu": "tab:blue"}
        styles = {"torch": "--", "xavier": ":", "he": "-"}
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8))
        for a in acts:
            for i in inits:
                ds = sorted(d for aa, ii, d in summary if aa == a and ii == i)
                ys = [max(summary[(a, i, d)]["scale"], CLIP) for d in ds]
                ax1.plot(ds, ys, styles.get(i, "-."), color=colors[a], marker="o", ms=3)
                ds2 = sorted(d for aa, ii, d in best if aa == a and ii == i)
                if ds2:
                    ax2.plot(
                        ds2,
                        [best[(a, i, d)]["acc"] for d in ds2],
                        styles.get(i, "-."),
                        color=colors[a],
                        marker="o",
                        ms=3,
                    )
        ax1.axhspan(1 / D.BAND, D.BAND, color="0.9", zorder=0)
        ax1.set_yscale("log")
        ax1.set_ylim(bottom=CLIP / 3)
        D.depth_axis(ax1, sorted({d for _, _, d in summary}))
        ax1.set_ylabel(f"layer-1 gradient / depth-2's\n(clipped at {CLIP:.0e})")
        ax1.set_title("Gradient reaching layer 1 at init")
        ax2.axhline(threshold, color="0.4", lw=0.8)
        ax2.axhline(D.CHANCE, color="0.7", lw=0.8, ls=":")
        D.depth_axis(ax2, sorted({d for _, _, d in best}))
        ax2.set_ylabel("test accuracy")
        ax2.set_title("After the training budget (MNIST-1D)")
        handles = [Line2D([], [], color=colors[a], label=a) for a in acts] + [
            Line2D([], [], color="0.3", ls=styles.get(i, "-."), label=f"init {i}") for i in inits
        ]
        ax2.legend(handles=handles, fontsize=7, loc="upper right")
        fig.suptitle(
            "C2: gradients and trainability against depth (grey band: within 10x)", fontsize=10
        )
        fig.tight_layout()
        return fig
