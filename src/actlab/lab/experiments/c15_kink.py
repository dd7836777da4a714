"""C15: does ReLU's kink at 0 hurt gradient descent in practice?

ReLU has no derivative at 0; frameworks use 0 there (PyTorch) and the texts say
it does not matter because a pre-activation is practically never exactly 0
("gradient descent will almost never land on the non-differentiable point",
seed 004; "differentiable almost everywhere", seed 003). Two measurements:

1. **How often is the kink hit?** A ReLU MLP is trained on MNIST-1D with a short
   loop of our own, with a ReLU that counts, over every training step, the hidden
   pre-activations that are exactly 0 and those of them that receive a non-zero
   gradient (only there does the value chosen for ReLU'(0) change a weight
   update). It runs in float32, under ``torch.autocast`` with bfloat16 (mixed
   precision, float32 weights) and fully in bfloat16: Bertoin et al. (2021,
   "Numerical influence of ReLU'(0) on backpropagation", NeurIPS) showed that the
   value of ReLU'(0) can change training at lower precision. (Floating-point numbers
   are densest near 0, so a sum rarely rounds to exactly 0 in any precision; exact
   zeros come from structure, such as an all-zero input with a zero bias.)
2. **Does smoothing the kink help?** ReLU against a smooth near-copy,
   ``softplus(beta=10)`` (at most log(2)/10 = 0.07 from ReLU, all of it within
   about 0.3 of the kink), trained through the sweep engine with the comparison
   sweep's setup and seeds, so the ReLU runs are the comparison's own; paired by
   seed, Holm-corrected over the smooth variants and learning rates.

Supported when exact zeros are rare in every precision *and* no smooth variant is
significantly better; refuted when one is significantly better; when zeros are
frequent in some precision (and smoothing does not help in float32) the answer
depends on the precision.
"""

from __future__ import annotations

import math
from typing import Any

from . import Context, Experiment, Outcome, Table, Verdict, register
from ._common import by_seed, comparison_plan, final, fmt_pct, group, paired

#: A kink hit this rarely is no practical concern: one hidden pre-activation in 10,000.
#: In the 100-unit MLP at batch 100 that is about one gradient term per layer and step
#: against the 10,000 summed into each weight gradient, far below minibatch noise.
RARE = 1e-4
#: Significance level of the paired comparisons (after Holm's correction).
ALPHA = 0.05
#: A gain of accuracy worth smoothing for: 1 point. The texts' activations differ by a
#: few points on MNIST-1D; if the interval still allows a gain this large, the "not
#: better" is provisional.
MEANINGFUL = 0.01
#: |z| below this counts as "near the kink" (where softplus(beta=10) differs visibly).
NEAR = 0.1
#: The precisions the kink is counted in.
PRECISIONS = ("float32", "bfloat16-autocast", "bfloat16")
PLANS: dict[str, dict[str, Any]] = {
    "smoke": dict(
        count=dict(data="mnist1d", hidden=[32], epochs=2, lr=0.01),
        count_seeds=[0],
        smooth=["softplus(beta=10)"],
        lrs=[0.01],
    ),
    "quick": dict(
        count=dict(data="mnist1d", hidden=[100, 100], epochs=10, lr=0.01),
        count_seeds=[0],
        smooth=["softplus(beta=10)"],
        lrs=[0.01],
    ),
    "full": dict(
        count=dict(data="mnist1d", hidden=[100, 100], epochs=50, lr=0.01),
        count_seeds=[0, 1, 2],
        smooth=["softplus(beta=10)", "softplus(beta=50)", "squareplus(b=0.01)"],
        lrs=[0.001, 0.01],
    ),
}


def count_kinks(
    data: str, hidden: list[int], epochs: int, lr: float, seed: int, precision: str
) -> dict[str, Any]:
    """Train a ReLU MLP (Adam, batch 100) and count exact zeros among hidden pre-activations.

    Returns counts over every training step: ``zeros`` (z == 0), ``near`` (|z| < NEAR),
    ``total``, ``zeros_with_grad`` (z == 0 and a non-zero gradient arrives there), the
    steps where that happened at least once, and the final test accuracy.
    """
    from ._cost import threads

    # one thread, as the sweep's workers train: on a busy machine a second thread's
    # wake-up can cost more than these small matrix products
    with threads(1):
        return _count(data, hidden, epochs, lr, seed, precision)


def _count(
    data: str, hidden: list[int], epochs: int, lr: float, seed: int, precision: str
) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    from .. import data as data_mod
    from ..models import build

    counts = {"zeros": 0, "near": 0, "total": 0, "zeros_with_grad": 0}
    touched = [0]

    class CountingReLU(torch.autograd.Function):
        """ReLU with PyTorch's ReLU'(0) = 0, counting where the convention is used."""

        @staticmethod
        def forward(ctx: Any, z: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(z)
            counts["zeros"] += int((z == 0).sum())
            counts["near"] += int((z.abs() < NEAR).sum())
            counts["total"] += z.numel()
            return z.clamp_min(0)

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
            (z,) = ctx.saved_tensors
            hit = int(((z == 0) & (g != 0)).sum())
            counts["zeros_with_grad"] += hit
            touched[0] += hit > 0
            return g * (z > 0).to(g.dtype)

    class Counting(nn.Module):
        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return CountingReLU.apply(z)

    ds = data_mod.load(data, seed=0, standardize=True)
    xtr, ytr = torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train)
    xte, yte = torch.from_numpy(ds.x_test), torch.from_numpy(ds.y_test)
    torch.manual_seed(seed)
    model = build({"hidden": hidden, "activation": "relu"}, ds.input_shape, ds.n_outputs)
    model.acts = nn.ModuleList(Counting() for _ in hidden)
    if precision == "bfloat16":
        model = model.to(torch.bfloat16)
        xtr, xte = xtr.to(torch.bfloat16), xte.to(torch.bfloat16)
    autocast = precision == "bfloat16-autocast"
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n, bs, steps = xtr.shape[0], 100, 0
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, bs):
            idx = perm[i : i + bs]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                out = model(xtr[idx])
            loss = F.cross_entropy(out.float(), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
    train_counts = dict(counts)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        acc = float((model(xte).argmax(1) == yte).float().mean())
    return {
        **train_counts,
        "steps": steps,
        "steps_touched": touched[0],
        "test_acc": acc,
        "precision": precision,
        "seed": seed,
    }


def upper_bound(k: int, n: int, level: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate seen k times in n (k = 0: about 3/n)."""
    from scipy.stats import beta

    if n <= 0:
        return math.nan
    if k >= n:
        return 1.0
    return float(beta.ppf(level, k + 1, n - k))


def _short(n: float) -> str:
    """8000000 -> '8.0M'."""
    for unit, d in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= d:
            return f"{n / d:.1f}{unit}"
    return f"{int(n)}"


def _sci(x: float) -> str:
    return "0" if x == 0 else f"{x:.1e}"


@register
class Kink(Experiment):
    id = "C15"
    title = "ReLU's kink at 0"
    question = (
        "How often is a hidden pre-activation exactly 0 (where ReLU has no derivative) in "
        "float32 and bfloat16 training, and does a smooth near-copy of ReLU train better?"
    )

    def setup(self, profile: str) -> dict[str, Any]:
        p = PLANS[profile]
        fixed, grid = comparison_plan(profile, "mnist1d")
        c = p["count"]
        return {
            "counting runs": f"ReLU MLP {c['hidden']} on {c['data']}, Adam lr {c['lr']}, batch "
            f"100, {c['epochs']} epochs, seeds {p['count_seeds']}, in " + ", ".join(PRECISIONS),
            "smooth near-copies": ", ".join(p["smooth"]),
            "accuracy runs": f"MLP {fixed['hidden']} on mnist1d, Adam, lr {p['lrs']}, "
            f"{fixed['epochs']} epochs, seeds {grid['seed']} (the comparison sweep's setup)",
            "test": f"paired by seed, Holm over {len(p['smooth']) * len(p['lrs'])} comparisons, "
            f"alpha {ALPHA}",
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        p = PLANS[ctx.profile]
        counts = [
            ctx.measure("kink-count", count_kinks, **p["count"], seed=s, precision=prec)
            for prec in PRECISIONS
            for s in p["count_seeds"]
        ]
        fixed, grid = comparison_plan(ctx.profile, "mnist1d")
        # ReLU's runs with the comparison sweep's whole grid: the very trials (and batches)
        # the comparison trains, so whichever of the two runs first trains them for both
        rows = ctx.sweep("kink-relu", fixed, {**grid, "activation": ["relu"]})
        rows += ctx.sweep(
            "kink-smooth",
            fixed,
            {"activation": p["smooth"], "lr": p["lrs"], "seed": grid["seed"]},
        )
        accs: dict[str, dict[str, dict[int, float]]] = {}
        for (act, lr), rs in group(rows, "activation", "lr").items():
            accs.setdefault(act, {})[str(lr)] = by_seed(rs, final("test_acc"))
        return {"counts": counts, "accuracy": accs, "smooth": p["smooth"], "lrs": p["lrs"]}

    def analyse(self, data: dict[str, Any]) -> Outcome:
        from .. import stats

        per: dict[str, dict[str, float]] = {}
        for c in data["counts"]:
            d = per.setdefault(
                c["precision"],
                dict.fromkeys(
                    ("zeros", "near", "total", "zeros_with_grad", "steps", "steps_touched"), 0
                ),
            )
            for k in d:
                d[k] += c[k]
        rates = {
            prec: {
                **d,
                "rate": d["zeros"] / d["total"] if d["total"] else math.nan,
                "upper95": upper_bound(int(d["zeros"]), int(d["total"])),
                "grad_rate": d["zeros_with_grad"] / d["total"] if d["total"] else math.nan,
                "near_rate": d["near"] / d["total"] if d["total"] else math.nan,
            }
            for prec, d in per.items()
        }
        rare = {prec: r["upper95"] < RARE for prec, r in rates.items()}

        relu = data["accuracy"].get("relu", {})
        comps = []
        for s in data["smooth"]:
            for lr in data["lrs"]:
                a, b = paired(data["accuracy"].get(s, {}).get(str(lr), {}), relu.get(str(lr), {}))
                if len(a) >= 2:
                    comps.append(((s, lr), stats.compare_paired(a, b, labels=(s, "relu"))))
        adj = stats.holm([c.p_value if math.isfinite(c.p_value) else 1.0 for _, c in comps])
        better = [(k, c, p) for (k, c), p in zip(comps, adj) if p < ALPHA and c.mean_diff > 0]
        worse = [(k, c, p) for (k, c), p in zip(comps, adj) if p < ALPHA and c.mean_diff < 0]

        def comp_text(k: tuple, c: Any, p: float) -> str:
            return (
                f"{k[0]} - relu at lr {k[1]}: {100 * c.mean_diff:+.2f} points "
                f"(95% CI [{100 * c.ci_low:.2f}, {100 * c.ci_high:.2f}], Holm p = {p:.2g}, "
                f"n = {c.n})"
            )

        def zero_text(prec: str) -> str:
            r = rates[prec]
            return (
                f"{prec}: {int(r['zeros']):,} of {int(r['total']):,} pre-activations exactly 0 "
                f"(rate {_sci(r['rate'])}, 95% upper bound {_sci(r['upper95'])})"
            )

        def all_zero_text() -> str:
            same = {(int(r["zeros"]), int(r["total"])) for r in rates.values()}
            if len(same) > 1:
                return "; ".join(zero_text(p) for p in rates)
            ((k, n),) = same
            up = max(r["upper95"] for r in rates.values())
            return (
                f"{k:,} of {n:,} hidden pre-activations exactly 0 in each of "
                f"{', '.join(rates)}; 95% upper bound of the rate {_sci(up)}"
            )

        comp_all = "; ".join(comp_text(k, c, p) for (k, c), p in zip(comps, adj))
        if not comps:
            comp_all = "no paired accuracy runs"
        wide = [c for _, c in comps if c.ci_high > MEANINGFUL]
        few_seeds = any(c.n < 5 for _, c in comps) or not comps
        if better:
            verdict = Verdict(
                "refuted",
                "Smoothing the kink improved accuracy: "
                + "; ".join(comp_text(*b) for b in better)
                + ".",
                provisional=few_seeds,
            )
        elif all(rare.values()):
            verdict = Verdict(
                "supported",
                f"The kink is practically never hit ({all_zero_text()}), and the smooth "
                f"near-copy did not train better ({comp_all}).",
                provisional=bool(wide) or few_seeds,
            )
        else:
            hit = [p for p, ok in rare.items() if not ok]
            missed = [p for p, ok in rare.items() if ok]
            verdict = Verdict(
                "depends",
                "The kink is hit often in "
                + "; ".join(zero_text(p) for p in hit)
                + (" but rarely in " + "; ".join(zero_text(p) for p in missed) if missed else "")
                + f"; smoothing did not help in float32 ({comp_all}).",
                on="numeric precision",
                boundary=f"exact zeros above {RARE:g} of pre-activations in "
                + ", ".join(hit)
                + (f"; below it in {', '.join(missed)}" if missed else ""),
                provisional=True,
            )

        findings = []
        for prec, r in rates.items():
            same = (
                "so ReLU'(0) = 0 or 1 would have given the same updates bit for bit"
                if r["zeros_with_grad"] == 0
                else f"in {int(r['steps_touched'])} of {int(r['steps'])} steps the choice of "
                "ReLU'(0) changed the update"
            )
            findings.append(
                f"{zero_text(prec)}, over {int(r['steps'])} steps; "
                f"{int(r['zeros_with_grad']):,} of them received a non-zero gradient, {same}."
            )
        near = ", ".join(f"{p} {fmt_pct(r['near_rate'])}" for p, r in rates.items())
        findings.append(
            f"Pre-activations within {NEAR} of the kink, where a smooth copy differs from "
            f"ReLU: {near}; near is common, exactly at 0 is not."
        )
        for (k, c), p in zip(comps, adj):
            findings.append(
                f"Test accuracy {k[0]} {fmt_pct(c.mean_a)} vs relu {fmt_pct(c.mean_b)} at lr "
                f"{k[1]}: {comp_text(k, c, p)}."
            )
        if worse:
            findings.append(
                "The smooth version was significantly worse in: "
                + "; ".join(f"{k[0]} at lr {k[1]}" for k, _, _ in worse)
                + "."
            )
        accs = {}
        for cnt in data["counts"]:
            accs.setdefault(cnt["precision"], []).append(cnt["test_acc"])
        findings.append(
            "Counting runs' test accuracy: "
            + ", ".join(f"{p} {fmt_pct(sum(v) / len(v))}" for p, v in accs.items())
            + f" (mean of {len(next(iter(accs.values())))} seed(s))."
        )
        if wide and not better:
            findings.append(
                f"The intervals still allow a gain above {100 * MEANINGFUL:.0f} point from "
                "smoothing: more seeds (--profile full) would settle it (provisional)."
            )
        evidence = {
            "zeros": {
                p: {
                    k: (v if not isinstance(v, float) or math.isfinite(v) else None)
                    for k, v in r.items()
                }
                for p, r in rates.items()
            },
            "rare_threshold": RARE,
            "comparisons": {
                f"{k[0]} @ lr {k[1]}": {
                    "diff_points": 100 * c.mean_diff,
                    "ci_points": [100 * c.ci_low, 100 * c.ci_high],
                    "p": c.p_value,
                    "p_holm": p,
                    "n": c.n,
                }
                for (k, c), p in zip(comps, adj)
            },
        }
        table = Table(
            "Exact zeros among hidden pre-activations during training",
            [
                "precision",
                "pre-activations",
                "exactly 0",
                "95% upper bound of rate",
                "0 with non-zero gradient",
                f"|z| < {NEAR}",
            ],
            [
                [
                    p,
                    f"{int(r['total']):,}",
                    int(r["zeros"]),
                    _sci(r["upper95"]),
                    int(r["zeros_with_grad"]),
                    fmt_pct(r["near_rate"]),
                ]
                for p, r in rates.items()
            ],
        )
        acc_table = Table(
            "Test accuracy by seed (mnist1d)",
            ["activation", "lr", *[f"seed {s}" for s in sorted(relu.get(str(data["lrs"][0]), {}))]],
            [
                [a, lr, *[fmt_pct(v) for _, v in sorted(data["accuracy"][a][str(lr)].items())]]
                for a in ["relu", *data["smooth"]]
                for lr in data["lrs"]
                if str(lr) in data["accuracy"].get(a, {})
            ],
        )
        return Outcome(verdict, evidence, findings, [table, acc_table], [])

    def figure(self, data: dict[str, Any], outcome: Outcome) -> Any:
        import matplotlib.pyplot as plt

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.6))
        relu = data["accuracy"].get("relu", {})
        for i, s in enumerate(data["smooth"]):
            for j, lr in enumerate(data["lrs"]):
                a, b = paired(data["accuracy"].get(s, {}).get(str(lr), {}), relu.get(str(lr), {}))
                x0 = 2 * (i * len(data["lrs"]) + j)
                for va, vb in zip(a, b):
                    ax1.plot(
                        [x0, x0 + 1], [100 * vb, 100 * va], "o-", color=f"C{j}", alpha=0.6, ms=3
                    )
                ax1.plot([], [], "o-", color=f"C{j}", label=f"{s}, lr {lr}")
        ticks = [(2 * k, 2 * k + 1) for k in range(len(data["smooth"]) * len(data["lrs"]))]
        ax1.set_xticks([t for p in ticks for t in p], ["relu", "smooth"] * len(ticks))
        ax1.set_ylabel("test accuracy (%)")
        ax1.set_title("Same seeds: ReLU vs a smooth near-copy", fontsize=9)
        ax1.legend(fontsize=7)
        ev = outcome.evidence["zeros"]
        precs = list(ev)
        ups = [ev[p]["upper95"] for p in precs]
        obs = [ev[p]["rate"] for p in precs]
        ax2.bar(range(len(precs)), ups, color="lightgrey", label="95% upper bound")
        ax2.plot(
            range(len(precs)),
            [o if o > 0 else float("nan") for o in obs],
            "rs",
            label="measured rate",
        )
        for i, p in enumerate(precs):
            ax2.annotate(
                f"{int(ev[p]['zeros'])} of\n{_short(ev[p]['total'])}",
                (i, ups[i]),
                ha="center",
                va="bottom",
                fontsize=7,
            )
        ax2.axhline(RARE, color="red", ls="--", lw=0.8, label=f"'rare' ({RARE:g})")
        ax2.set_yscale("log")
        finite = [u for u in ups if u > 0]
        ax2.set_ylim(min([*finite, RARE]) / 20, max([*finite, RARE]) * 5)
        ax2.set_xticks(range(len(precs)), precs, fontsize=7)
        ax2.set_ylabel("fraction of pre-activations exactly 0")
        ax2.set_title("How often training hits the kink", fontsize=9)
        ax2.legend(fontsize=7, loc="center right")
        fig.suptitle("C15: ReLU's kink at 0", fontsize=10)
        fig.tight_layout()
        return fig
