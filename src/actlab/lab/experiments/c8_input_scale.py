"""C8: is ReLU sensitive to the mean and variance of its input, so that inputs need normalising?

The seed text's argument: if the inputs' mean and variance are large, many ReLU
units become inactive (output 0 for every example) and the model suffers. We
take MNIST-1D standardised (mean 0, SD 1 per feature: the normalised baseline),
then deliberately shift it (``x * scale + mean``, train and test alike: the
trainer's ``shift_mean``/``shift_scale``), and measure test accuracy and the
fraction of dead hidden units (exactly 0 on every training example) after
training, paired by seed against the unshifted baseline, for

* a ReLU MLP without normalisation (the claim's case);
* the same with batch normalisation before each activation (Ioffe & Szegedy 2015:
  normalising inside the network instead of the inputs);
* a tanh MLP without normalisation (the control: a shifted input saturates tanh,
  so "ReLU is sensitive" means more sensitive than this).

The Adam MLPs are the group's (``_dynamics.adam_plan``): the unshifted ReLU and tanh
runs are C4's trials.
"""

from __future__ import annotations

from typing import Any

from . import Context, Experiment, Outcome, Table, Verdict, register
from . import _dynamics as dyn

#: (activation, norm) of each variant; the first is the claim's case.
VARIANTS = [("relu", None), ("relu", "batch"), ("tanh", None)]
#: A loss of 2 points of test accuracy counts as "breaks": about twice the seed-to-seed
#: SD of these models' test accuracy, and a loss a practitioner would notice.
ACC_DROP = 0.02
#: A rise of 5 points in the fraction of dead units counts as "many units die": a
#: twentieth of the layer, well above the few dead units an unshifted run ends with.
DEAD_RISE = 0.05


def _conditions(profile: str) -> tuple[list[float], list[float]]:
    """(mean shifts at scale 1, scales at mean 0); 0 and 1 are the unshifted baseline."""
    return {
        "smoke": ([0.0, 5.0], []),
        "quick": ([0.0, 2.0, 5.0], [0.2, 5.0]),
        "full": ([0.0, 1.0, 2.0, 5.0, 10.0], [0.1, 0.2, 5.0, 20.0]),
    }[profile]


def _extract(row: dict[str, Any]) -> dict[str, Any]:
    last = row["history"][-1]
    return {
        "test_acc": last["test_acc"],
        "train_acc": last["train_acc"],
        "dead": last["dead_fraction"],
        "dead_epoch1": row["history"][0]["dead_fraction"],
    }


def cond_name(mean: float, scale: float) -> str:
    if mean == 0 and scale == 1:
        return "standardised"
    return f"mean +{mean:g}" if scale == 1 else f"scale x{scale:g}"


def status(breaks: bool, more_than_control: bool) -> str:
    """ReLU's sensitivity to one statistic (the mean, or the scale) of its input."""
    if not breaks:
        return "insensitive"
    return "more than tanh" if more_than_control else "as tanh"


def decide(mean: str, scale: str | None, bn_removes: bool) -> str:
    """The verdict from ReLU's sensitivity to the mean and to the scale, and batch norm's effect.

    ``supported``: both statistics break ReLU more than the tanh control, and batch
    norm removes it; ``refuted``: neither breaks it more than tanh; ``depends``
    otherwise (one statistic only, or batch norm does not remove it). ``scale`` is
    ``None`` when no scale was tested (then the mean decides alone).
    """
    stats_ = [mean] if scale is None else [mean, scale]
    if "more than tanh" not in stats_:
        return "refuted"
    if all(x == "more than tanh" for x in stats_) and bn_removes:
        return "supported"
    return "depends"


@register
class InputScale(Experiment):
    id = "C8"
    title = "ReLU and the mean and variance of its input"
    question = (
        "When standardised inputs are shifted or rescaled, does a ReLU MLP lose more test "
        "accuracy and more units (dead) than a tanh MLP, and does batch normalisation remove it?"
    )

    def setup(self, profile: str) -> dict[str, Any]:
        p = dyn.adam_plan(profile)
        means, scales = _conditions(profile)
        return {
            "variants": "; ".join(f"{a}, norm {n}" for a, n in VARIANTS),
            "shifts": "inputs x scale + mean after standardising: mean "
            + ", ".join(f"{m:g}" for m in means)
            + (" (scale 1); scale " + ", ".join(f"{s:g}" for s in scales) + " (mean 0)")
            * bool(scales),
            "model": f"MLP {p['hidden']} on {p['data']}, Adam lr {p['lr']}, "
            f"batch {p['batch_size']}, {p['epochs']} epochs",
            "seeds": len(dyn.seeds(profile)),
            "thresholds": f"breaks: test accuracy down >= {100 * ACC_DROP:g} points (paired, "
            f"Holm); many units die: dead fraction up >= {100 * DEAD_RISE:g} points",
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        fixed = dyn.adam_plan(ctx.profile)
        seeds = dyn.seeds(ctx.profile)
        means, scales = _conditions(ctx.profile)
        records = []
        keys = ["activation", "norm", "shift_mean", "shift_scale", "seed"]
        for act, norm in VARIANTS:
            base = {**fixed, "activation": act, "norm": norm}
            tag = f"c8-{act}-{norm or 'none'}"
            rows = ctx.sweep(f"{tag}-mean", {**base, "shift_scale": 1.0},
                             {"shift_mean": means, "seed": seeds})  # fmt: skip
            if scales:
                rows += ctx.sweep(f"{tag}-scale", {**base, "shift_mean": 0.0},
                                  {"shift_scale": scales, "seed": seeds})  # fmt: skip
            records += dyn.rows_to_records(rows, keys, _extract)
        return {"records": records, "n_seeds": len(seeds)}

    def analyse(self, data: dict[str, Any]) -> Outcome:
        recs = data["records"]
        base = (0.0, 1.0)
        conds = sorted(
            {(float(r["shift_mean"]), float(r["shift_scale"])) for r in recs},
            key=lambda c: (c[1] != 1, c[0], c[1]),
        )
        shifted = [c for c in conds if c != base]
        relu, bn, tanh = VARIANTS

        def seeds_of(v: tuple, c: tuple[float, float], m: str) -> dict[int, float]:
            return dyn.per_seed(recs, m, activation=v[0], norm=v[1], shift_mean=c[0],
                                shift_scale=c[1])  # fmt: skip

        def drop(v: tuple, c: tuple) -> dict[int, float]:
            """{seed: standardised accuracy - shifted accuracy}."""
            b, s = seeds_of(v, base, "test_acc"), seeds_of(v, c, "test_acc")
            return {k: b[k] - s[k] for k in set(b) & set(s)}

        # ReLU's drop against 0, Holm over the shifted conditions; ReLU's drop against tanh's
        relu_c = [dyn.paired(drop(relu, c), dict.fromkeys(drop(relu, c), 0.0), ("drop", "0"))
                  for c in shifted]  # fmt: skip
        relu_dir = dict(zip(shifted, dyn.holm_directions(relu_c)))
        relu_cmp = dict(zip(shifted, relu_c))
        vs_c = [dyn.paired(drop(relu, c), drop(tanh, c), ("relu", "tanh")) for c in shifted]
        vs_dir = dict(zip(shifted, dyn.holm_directions(vs_c)))
        vs_cmp = dict(zip(shifted, vs_c))
        mdrop = {v: {c: dyn.mean(drop(v, c).values()) for c in shifted} for v in VARIANTS}
        dead = {v: {c: dyn.mean(seeds_of(v, c, "dead").values()) for c in conds}
                for v in VARIANTS}  # fmt: skip

        breaks = [c for c in shifted if relu_dir[c][0] == 1 and mdrop[relu][c] >= ACC_DROP]
        more = [c for c in breaks if vs_dir[c][0] == 1 and vs_cmp[c].mean_diff >= ACC_DROP]
        means = [c for c in shifted if c[1] == 1]
        scales = [c for c in shifted if c[1] != 1]
        st_mean = status(any(c in breaks for c in means), any(c in more for c in means))
        st_scale = (
            status(any(c in breaks for c in scales), any(c in more for c in scales))
            if scales
            else None
        )
        bn_removes = all(mdrop[bn][c] < ACC_DROP for c in breaks)
        verdict_name = decide(st_mean, st_scale, bn_removes)
        n = data["n_seeds"]

        def line(c: tuple) -> str:
            return (
                f"{cond_name(*c)}: ReLU {dyn.pts(-mdrop[relu][c])} (dead units "
                f"{100 * dead[relu][base]:.0f}% -> {100 * dead[relu][c]:.0f}%), tanh "
                f"{dyn.pts(-mdrop[tanh][c])}, ReLU + batch norm {dyn.pts(-mdrop[bn][c])}"
            )

        def names(cs: list) -> str:
            return ", ".join(cond_name(*c) for c in cs) or "none"

        lines = "; ".join(line(c) for c in shifted)

        def says(st: str, what: str) -> str:
            return {
                "insensitive": f"shows no significant loss of {100 * ACC_DROP:g}+ points when the "
                f"{what} changes",
                "as tanh": f"loses accuracy when the {what} changes, but no more than tanh",
                "more than tanh": f"loses more accuracy than tanh when the {what} changes",
            }[st]

        parts = (
            f"ReLU {says(st_mean, 'mean')}"
            + (f", and {says(st_scale, 'scale')}" if st_scale else "")
            + f" (loses {100 * ACC_DROP:g}+ points: {names(breaks)}; {100 * ACC_DROP:g}+ more "
            f"than tanh: {names(more)})"
        )
        bn_text = (
            "batch norm removes every drop"
            if bn_removes
            else "batch norm leaves "
            + ", ".join(
                f"{dyn.pts(mdrop[bn][c], sign=False)} at {cond_name(*c)}"
                for c in breaks
                if mdrop[bn][c] >= ACC_DROP
            )
        )
        near = any(abs(mdrop[relu][c] - ACC_DROP) < ACC_DROP / 2 for c in shifted) or any(
            abs(vs_cmp[c].mean_diff - ACC_DROP) < ACC_DROP / 2 for c in breaks if vs_cmp[c]
        )
        provisional = n < dyn.MIN_SEEDS or near
        if verdict_name == "supported":
            verdict = Verdict(
                "supported",
                f"{parts}; {bn_text}. Test accuracy change vs standardised inputs: {lines}.",
                provisional=provisional,
            )
        elif verdict_name == "refuted":
            verdict = Verdict(
                "refuted",
                f"{parts}. Test accuracy change vs standardised inputs: {lines}.",
                provisional=provisional,
            )
        else:
            one = st_scale is not None and (st_mean == "more than tanh") != (
                st_scale == "more than tanh"
            )
            if one:
                on = "which statistic is off: the mean or the scale of the inputs"
                bnd = f"ReLU loses more than tanh at {names(more)}; not at " + names(
                    [c for c in shifted if c not in more]
                )
            else:
                on = "normalisation inside the network (batch norm) vs of the inputs"
                bnd = bn_text
            verdict = Verdict(
                "depends",
                f"{parts}; {bn_text}. Test accuracy change vs standardised inputs: {lines}.",
                on=on,
                boundary=bnd,
                provisional=provisional,
            )

        findings = [
            f"Standardised inputs, test accuracy: ReLU "
            f"{100 * dyn.mean(seeds_of(relu, base, 'test_acc').values()):.1f}%, ReLU + batch "
            f"norm {100 * dyn.mean(seeds_of(bn, base, 'test_acc').values()):.1f}%, tanh "
            f"{100 * dyn.mean(seeds_of(tanh, base, 'test_acc').values()):.1f}% "
            f"(mean of {n} seeds).",
        ]
        for c in shifted:
            rc, vc = relu_cmp[c], vs_cmp[c]
            findings.append(
                f"{cond_name(*c)}: ReLU loses "
                f"{dyn.ci_pts(rc, sign=False) if rc else 'n/a'} of accuracy (Holm p = "
                f"{relu_dir[c][1]:.2g}); dead units {100 * dead[relu][base]:.1f}% -> "
                f"{100 * dead[relu][c]:.1f}%"
                + (" (many die)" if dead[relu][c] - dead[relu][base] >= DEAD_RISE else "")
                + f"; ReLU's loss minus tanh's {dyn.ci_pts(vc) if vc else 'n/a'} (Holm p = "
                f"{vs_dir[c][1]:.2g}); with batch norm ReLU loses "
                f"{dyn.pts(mdrop[bn][c], sign=False)}."
            )
        rows = []
        for v in VARIANTS:
            for c in conds:
                acc = seeds_of(v, c, "test_acc")
                rows.append([
                    f"{v[0]}{' + BN' if v[1] else ''}", cond_name(*c),
                    round(100 * dyn.mean(acc.values()), 1),
                    "" if c == base else round(-100 * mdrop[v][c], 1),
                    round(100 * dead[v][c], 1),
                ])  # fmt: skip
        tables = [
            Table(
                f"Test accuracy and dead units after training (means over {n} seeds)",
                ["model", "inputs", "test acc %", "change vs standardised (pts)", "dead units %"],
                rows,
            )
        ]

        def key(v: tuple) -> str:
            return f"{v[0]}{'+bn' if v[1] else ''}"

        evidence = {
            "mean": st_mean,
            "scale": st_scale,
            "breaks": [cond_name(*c) for c in breaks],
            "more_than_tanh": [cond_name(*c) for c in more],
            "bn_removes": bn_removes,
            "accuracy_drop": {key(v): {cond_name(*c): mdrop[v][c] for c in shifted}
                              for v in VARIANTS},
            "dead_fraction": {key(v): {cond_name(*c): dead[v][c] for c in conds}
                              for v in VARIANTS},
            "n_seeds": n,
        }  # fmt: skip
        return Outcome(verdict, evidence, findings, tables)

    def figure(self, data: dict[str, Any], outcome: Outcome) -> Any:
        import matplotlib.pyplot as plt

        recs = data["records"]
        conds = sorted(
            {(float(r["shift_mean"]), float(r["shift_scale"])) for r in recs},
            key=lambda c: (c[1] != 1, c[0], c[1]),
        )
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.6))
        xs = list(range(len(conds)))
        width = 0.8 / len(VARIANTS)
        for i, (act, norm) in enumerate(VARIANTS):
            label = f"{act}{' + BN' if norm else ''}"
            acc, dead = [], []
            for c in conds:
                sel = [
                    r
                    for r in recs
                    if (r["activation"], r["norm"]) == (act, norm)
                    and (float(r["shift_mean"]), float(r["shift_scale"])) == c
                ]
                acc.append(100 * dyn.mean(r["test_acc"] for r in sel))
                dead.append(100 * dyn.mean(r["dead"] for r in sel))
            off = [x + (i - (len(VARIANTS) - 1) / 2) * width for x in xs]
            ax1.bar(off, acc, width, label=label)
            ax2.bar(off, dead, width, label=label)
        names = [cond_name(*c) for c in conds]
        for ax in (ax1, ax2):
            ax.set_xticks(xs, names, rotation=30, ha="right")
            ax.set_xlabel("inputs")
        ax1.set_ylabel("test accuracy (%)")
        ax1.set_title("accuracy")
        ax2.set_ylabel("dead hidden units (%)")
        ax2.set_title("units dead on every training example")
        ax1.legend(fontsize=7)
        fig.suptitle("C8: shifted and rescaled inputs (MNIST-1D MLP, Adam)", fontsize=10)
        fig.tight_layout()
        return fig
