"""C10: is softplus, although smooth, no better than ReLU, and do its gradients vanish?

Softplus, log(1 + e^x), is a smooth ReLU; Glorot, Bordes and Bengio (2011) found
rectifiers no worse and usually better than softplus units, and the texts add
that its derivative, the logistic sigmoid, is below 1 everywhere, so gradients
can vanish. Two measurements, one per part:

* accuracy: softplus against ReLU in the shared comparison sweep, paired by seed,
  one test per data set and learning rate, Holm-corrected (the claim is "not
  better", so it fails if softplus is significantly better anywhere);
* vanishing: the gradient norm reaching the first hidden layer, relative to the
  last hidden layer's, (a) in the sweep's first epoch (two hidden layers), and
  (b) at initialisation in deeper MLPs on MNIST-1D, where a derivative below 1
  would compound layer by layer. Both functions get the same initialisation
  scheme (He's, with each function's own gain, and PyTorch's default, which the
  sweep uses); sigmoid, whose derivative is at most 1/4, is the reference for
  what vanishing looks like.
"""

from __future__ import annotations

import math
from typing import Any

from .. import stats
from . import Context, Experiment, Outcome, Table, Verdict, register
from . import _compare as cmp
from ._common import comparison_plan, datasets

#: With fewer seeds a t interval over seeds is too wide to trust: verdict provisional.
MIN_SEEDS = 5
#: "Vanishing" relative to ReLU: softplus's first-layer gradient (relative to its last hidden
#: layer's) below half of ReLU's. A halving per network is a large, visible loss of signal,
#: and smaller gaps are within what the initialisation scheme alone changes.
VANISH_FACTOR = 0.5
#: The saturating reference and the pair the claim compares.
DEPTH_ACTIVATIONS = ("relu", "softplus", "sigmoid")
INITS = ("he", "torch")


def depth_grads(depths: list[int], seeds: list[int], width: int, batch: int) -> dict[str, Any]:
    """First-over-last hidden-layer gradient norms of fresh MLPs on one MNIST-1D batch.

    Returns ``{init: {activation: {depth: [ratio per seed]}}}``.
    """
    import torch

    from ..data import load

    ds = load("mnist1d", seed=0, standardize=True)
    # float64: the vanishing gradients of deep sigmoid nets reach float32's subnormal range,
    # where the CPU slows down a hundredfold and the ratios lose their precision
    x = torch.from_numpy(ds.x_train[:batch]).double()
    y = torch.from_numpy(ds.y_train[:batch])
    threads = torch.get_num_threads()
    # one thread: these are small matrices, and on a shared machine several threads spin
    # against each other (tens of times slower in development runs)
    torch.set_num_threads(1)
    try:
        return _depth_grads(x, y, ds, depths, seeds, width)
    finally:
        torch.set_num_threads(threads)


def _depth_grads(x: Any, y: Any, ds: Any, depths: list[int], seeds: list[int], width: int) -> dict:
    import torch
    import torch.nn.functional as F

    from ..models import build

    out: dict[str, Any] = {}
    for init in INITS:
        out[init] = {}
        for act in DEPTH_ACTIVATIONS:
            out[init][act] = {}
            for depth in depths:
                ratios = []
                for seed in seeds:
                    torch.manual_seed(seed)
                    cfg = {"model": "mlp", "hidden": [width] * depth, "activation": act,
                           "init": init}  # fmt: skip
                    model = build(cfg, ds.input_shape, ds.n_outputs).double()
                    F.cross_entropy(model(x), y).backward()
                    g = [float(layer.weight.grad.norm()) for layer in model.layers]
                    ratios.append(g[0] / g[-1])
                out[init][act][str(depth)] = ratios
    return out


def _depth_plan(profile: str) -> dict[str, Any]:
    if profile == "smoke":
        return {"depths": [2, 4], "seeds": [0, 1], "width": 32, "batch": 200}
    if profile == "quick":
        return {"depths": [2, 4, 8, 16], "seeds": list(range(5)), "width": 100, "batch": 256}
    return {"depths": [2, 4, 8, 16, 32], "seeds": list(range(10)), "width": 100, "batch": 1000}


def _first_epoch_ratio(run: dict[str, Any]) -> float:
    """First hidden layer's over the output layer's gradient norm, mean over epoch 1's steps."""
    return run["grad_first"][0] / run["grad_last"][0]


def _depth_factor(depth_data: dict[str, Any], init: str) -> dict[str, Any] | None:
    """Softplus's first/last gradient ratio over ReLU's at the deepest depth, paired by seed."""
    per = depth_data.get(init, {})
    if "softplus" not in per or "relu" not in per:
        return None
    deepest = max(per["relu"], key=int)
    sp, re = per["softplus"][deepest], per["relu"][deepest]
    c = stats.compare_paired([math.log(v) for v in sp], [math.log(v) for v in re])
    ref = per.get("sigmoid", {}).get(deepest)
    return {
        "init": init,
        "depth": int(deepest),
        "softplus": math.exp(sum(math.log(v) for v in sp) / len(sp)),
        "relu": math.exp(sum(math.log(v) for v in re) / len(re)),
        "sigmoid": math.exp(sum(math.log(v) for v in ref) / len(ref)) if ref else None,
        "factor": math.exp(c.mean_diff),
        "ci_low": math.exp(c.ci_low) if math.isfinite(c.ci_low) else math.nan,
        "ci_high": math.exp(c.ci_high) if math.isfinite(c.ci_high) else math.nan,
        "n": c.n,
    }


def _vanish_status(f: dict[str, Any]) -> str:
    if f["ci_high"] < VANISH_FACTOR:
        return "vanishes relative to ReLU"
    if f["ci_low"] > VANISH_FACTOR:
        return "does not vanish relative to ReLU"
    return "unresolved"


def decide(cells: list[cmp.Cell]) -> Verdict:
    """Supported unless softplus is significantly better than ReLU somewhere (Holm)."""
    if not cells:
        return Verdict("not testable here", "No softplus and ReLU runs share a seed.")
    better = [c for c in cells if c.better]
    if better:
        return Verdict(
            "refuted",
            "Softplus is significantly more accurate than ReLU on "
            + "; ".join(c.text() for c in better)
            + ".",
            provisional=min(c.cmp.n for c in better) < MIN_SEEDS,
        )
    worse = [c for c in cells if c.worse]
    open_up = [c for c in cells if c.cmp.ci_high > cmp.ACC_MARGIN]
    return Verdict(
        "supported",
        "Softplus is nowhere significantly more accurate than ReLU: "
        + "; ".join(c.text() for c in cells)
        + (f". It is significantly less accurate on {len(worse)} of {len(cells)}" if worse else "")
        + ".",
        # an interval reaching past the margin leaves room for a real improvement
        provisional=bool(open_up) or min(c.cmp.n for c in cells) < MIN_SEEDS,
    )


@register
class Softplus(Experiment):
    id = "C10"
    title = "Softplus against ReLU"
    question = (
        "Is softplus no more accurate than ReLU (paired by seed, per data set and learning "
        "rate), and do its gradients shrink toward the input more than ReLU's?"
    )

    def setup(self, profile: str) -> dict[str, Any]:
        fixed, grid = comparison_plan(profile)
        dp = _depth_plan(profile)
        return {
            "data": ", ".join(datasets(profile)),
            "accuracy": f"the comparison sweep: MLP {fixed['hidden']}, Adam, "
            f"{fixed['epochs']} epochs, learning rates {grid['lr']} (MNIST-1D), seeds "
            f"{grid['seed']}; final test accuracy, softplus - relu paired by seed, Holm",
            "gradients in training": "first hidden layer's over the output layer's weight "
            "gradient norm, mean over the first epoch",
            "gradients in depth": f"fresh MLPs of {dp['depths']} hidden layers of {dp['width']} "
            f"on {dp['batch']} MNIST-1D examples, seeds {dp['seeds']}, init {', '.join(INITS)}; "
            "first over last hidden layer's weight gradient norm",
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        runs = cmp.load(ctx)
        keep = {"relu", "softplus"}
        return {
            "runs": {d: [r for r in rs if r["activation"] in keep] for d, rs in runs.items()},
            "depth": ctx.measure("c10-depth-grads", depth_grads, **_depth_plan(ctx.profile)),
        }

    def analyse(self, data: dict[str, Any]) -> Outcome:
        cells = cmp.with_holm(cmp.paired_cells(data["runs"], [("softplus", "relu")]))
        verdict = decide(cells)
        findings = []
        grad_cells = cmp.paired_cells(
            data["runs"], [("softplus", "relu")], metric=_first_epoch_ratio
        )
        for c in grad_cells:
            findings.append(
                f"In training ({c.where}, first epoch) the first hidden layer's gradient is "
                f"{c.cmp.mean_a:.2f} of the output layer's with softplus and {c.cmp.mean_b:.2f} "
                f"with ReLU (difference {c.cmp.mean_diff:+.2f}, 95% CI "
                f"[{c.cmp.ci_low:+.2f}, {c.cmp.ci_high:+.2f}], n = {c.cmp.n})."
            )
        factors = [f for f in (_depth_factor(data["depth"], i) for i in INITS) if f]
        for f in factors:
            f["status"] = _vanish_status(f)
            ref = (
                f" (sigmoid, the saturating reference: {f['sigmoid']:.3g})" if f["sigmoid"] else ""
            )
            findings.append(
                f"Vanishing, {f['depth']} hidden layers at initialisation ({f['init']} init): the "
                f"first hidden layer's gradient is {f['softplus']:.3g} of the last one's with "
                f"softplus and {f['relu']:.3g} with ReLU{ref}; softplus/ReLU {f['factor']:.3g}, "
                f"95% CI [{f['ci_low']:.3g}, {f['ci_high']:.3g}]: {f['status']} "
                f"(the line is {VANISH_FACTOR:g})."
            )
        table = Table(
            "Test accuracy, softplus - ReLU, paired by seed (points)",
            cmp.CELL_COLUMNS,
            [c.row() for c in cells],
        )
        depth_rows = []
        for init, per in data["depth"].items():
            for act, by_depth in per.items():
                depth_rows.append(
                    [init, act]
                    + [f"{math.exp(sum(math.log(v) for v in vs) / len(vs)):.3g}"
                       for vs in by_depth.values()]
                )  # fmt: skip
        depths = list(next(iter(next(iter(data["depth"].values())).values())))
        dtable = Table(
            "First over last hidden layer's gradient norm at initialisation (geometric mean)",
            ["init", "activation", *[f"depth {d}" for d in depths]],
            depth_rows,
        )
        evidence = {
            "accuracy": cmp.cells_dicts(cells),
            "first_epoch_gradient_ratio": cmp.cells_dicts(grad_cells),
            "depth_factor": factors,
            "vanish_factor": VANISH_FACTOR,
        }
        return Outcome(verdict, cmp.finite(evidence), findings, [table, dtable])

    def figure(self, data: dict[str, Any], outcome: Outcome) -> Any:
        import matplotlib.pyplot as plt

        cells = cmp.with_holm(cmp.paired_cells(data["runs"], [("softplus", "relu")]))
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.4, 3.6))
        cmp.plot_cells(ax1, cells)
        ax1.set_title("Test accuracy, softplus - ReLU (95% CI)", fontsize=9)
        styles = {"he": "-", "torch": ":"}
        for init, per in data["depth"].items():
            for k, (act, by_depth) in enumerate(per.items()):
                xs = [int(d) for d in by_depth]
                ys = [math.exp(sum(math.log(v) for v in vs) / len(vs)) for vs in by_depth.values()]
                ax2.plot(xs, ys, styles.get(init, "-"), marker="o", ms=3, color=f"C{k}",
                         label=f"{act}, {init} init")  # fmt: skip
        ax2.set_xscale("log", base=2)
        ax2.set_yscale("log")
        ax2.set_xlabel("hidden layers")
        ax2.set_ylabel("first / last hidden-layer gradient")
        ax2.set_title("Gradient reaching the first layer, at init", fontsize=9)
        ax2.legend(fontsize=6)
        fig.suptitle("C10: softplus against ReLU", fontsize=10)
        fig.tight_layout()
        return fig
