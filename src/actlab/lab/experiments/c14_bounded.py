"""C14: does a bounded output range (ReLU6, sigmoid, tanh) make a network more stable?

Stability is tested where it breaks: plain SGD over a ladder of learning rates up
to far beyond a sensible one, for bounded activations (ReLU6, sigmoid, tanh,
hard tanh) and unbounded ones (ReLU, Leaky ReLU, ELU), several seeds each (the
group's SGD trials, shared with C7). Two failure modes are told apart, because a
bounded hidden layer can only prevent one of them:

* *numerical blow-up*: the training loss becomes non-finite (inf or NaN);
* *a failed run*: blow-up, or a final training loss no better than a uniform guess
  (ln of the number of classes: the run ended where it started, or worse - the
  loss exploded through the unbounded output layer, or every unit died).

Per activation: the largest learning rate at which every seed still trains (it and
every smaller rate), and the smallest at which any seed blows up. The bounded and
unbounded groups are then compared on both. ReLU6 was introduced bounded for a
different reason (Krizhevsky 2010, "Convolutional deep belief networks on
CIFAR-10": to learn sparse features earlier); the texts credit it with stability.
"""

from __future__ import annotations

import math
from typing import Any

from . import Context, Experiment, Outcome, Table, Verdict, register
from . import _dynamics as dyn

BOUNDED = ["relu6", "sigmoid", "tanh", "hard_tanh"]
UNBOUNDED = ["relu", "leaky_relu", "elu"]
#: A difference in blow-up rate between the groups that counts: one run in ten. With
#: 4 activations x 4 seeds per rate, smaller differences are one or two runs.
BLOWUP_GAP = 0.1


def _extract(row: dict[str, Any]) -> dict[str, Any]:
    losses = [h["train_loss"] for h in row["history"]]
    last = row["history"][-1]
    return {
        "curve": losses,
        "train_loss": losses[-1],
        "test_acc": last["test_acc"],
        "blowup": not all(dyn.finite(x) for x in losses),
    }


def failed(r: dict[str, Any], chance: float) -> bool:
    """Blown up, or ended no better than a uniform guess."""
    return bool(r["blowup"]) or not dyn.finite(r["train_loss"]) or r["train_loss"] >= chance


def ladder(records: list[dict[str, Any]], act: str, chance: float) -> dict[str, Any]:
    """One activation: failures and blow-ups per rate, largest trainable rate, first blow-up."""
    lrs = sorted({float(r["lr"]) for r in records if r["activation"] == act})
    per_lr = {}
    for lr in lrs:
        rs = [r for r in records if r["activation"] == act and float(r["lr"]) == lr]
        per_lr[lr] = {
            "runs": len(rs),
            "failed": sum(failed(r, chance) for r in rs),
            "blowup": sum(bool(r["blowup"]) for r in rs),
            "acc": dyn.mean(r["test_acc"] for r in rs if not failed(r, chance)),
        }
    max_ok = None
    for lr in lrs:  # the rate and every smaller one train on every seed
        if per_lr[lr]["failed"]:
            break
        max_ok = lr
    first_blowup = next((lr for lr in lrs if per_lr[lr]["blowup"]), None)
    return {"per_lr": per_lr, "max_ok": max_ok, "first_blowup": first_blowup}


def compare_groups(lad: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The two parts: blow-up rate per group, and the largest trainable rates' separation."""

    def rate(acts: list[str]) -> float:
        runs = sum(v["runs"] for a in acts for v in lad[a]["per_lr"].values())
        bad = sum(v["blowup"] for a in acts for v in lad[a]["per_lr"].values())
        return bad / runs if runs else math.nan

    b_acts = [a for a in BOUNDED if a in lad]
    u_acts = [a for a in UNBOUNDED if a in lad]
    rb, ru = rate(b_acts), rate(u_acts)
    if ru - rb >= BLOWUP_GAP:
        blowup = "bounded"
    elif rb - ru >= BLOWUP_GAP:
        blowup = "unbounded"
    else:
        blowup = "same"
    # a rate below the whole ladder counts as 0: it trains at none of them
    ok_b = [lad[a]["max_ok"] or 0.0 for a in b_acts]
    ok_u = [lad[a]["max_ok"] or 0.0 for a in u_acts]
    if min(ok_b) > max(ok_u):
        trainable = "bounded"
    elif max(ok_b) < min(ok_u):
        trainable = "unbounded"
    elif sorted(ok_b) == sorted(ok_u) or (len(set(ok_b + ok_u)) == 1):
        trainable = "same"
    else:
        trainable = "mixed"
    return {"blowup_rate_bounded": rb, "blowup_rate_unbounded": ru, "blowup": blowup,
            "trainable": trainable}  # fmt: skip


def decide(blowup: str, trainable: str) -> str:
    """The verdict from the two parts.

    ``supported``: every bounded function trains at a larger rate than every unbounded
    one; ``refuted``: the unbounded train at larger rates, or bounded ones blow up more
    often, or nothing separates the groups; ``depends``: the bounded only blow up less
    (finite numbers, yet no larger trainable rate), or the trainable rates overlap.
    """
    if trainable == "bounded":
        return "supported"
    if trainable == "unbounded" or (blowup != "bounded" and trainable == "same"):
        return "refuted"
    if blowup == "unbounded":
        return "refuted"
    return "depends"


@register
class Bounded(Experiment):
    id = "C14"
    title = "Bounded activations and stability at large learning rates"
    question = (
        "Over a plain-SGD learning-rate ladder, do bounded activations (ReLU6, sigmoid, tanh, "
        "hard tanh) keep training, and keep their numbers finite, at rates where unbounded ones "
        "(ReLU, Leaky ReLU, ELU) fail?"
    )

    def setup(self, profile: str) -> dict[str, Any]:
        fixed, lrs = dyn.sgd_plan(profile)
        return {
            "bounded": ", ".join(BOUNDED),
            "unbounded": ", ".join(UNBOUNDED),
            "model": f"MLP {fixed['hidden']} on {fixed['data']}, plain SGD, batch "
            f"{fixed['batch_size']}, {fixed['epochs']} epochs, PyTorch default init",
            "learning rates": ", ".join(f"{x:g}" for x in lrs),
            "seeds": len(dyn.sgd_seeds(profile)),
            "failure": "training loss non-finite at any epoch (blow-up), or final training loss "
            ">= ln(classes) (no better than a uniform guess)",
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        fixed, lrs = dyn.sgd_plan(ctx.profile)
        rows = ctx.sweep(
            "c14-sgd-ladder",
            fixed,
            {"activation": BOUNDED + UNBOUNDED, "lr": lrs, "seed": dyn.sgd_seeds(ctx.profile)},
        )
        records = dyn.rows_to_records(rows, ["activation", "lr", "seed"], _extract)
        from .. import data as data_mod

        n_classes = data_mod.load(fixed["data"], seed=0).n_classes
        return {"records": records, "n_classes": n_classes, "lrs": lrs}

    def analyse(self, data: dict[str, Any]) -> Outcome:
        recs = data["records"]
        chance = math.log(data["n_classes"])
        acts = [a for a in BOUNDED + UNBOUNDED if any(r["activation"] == a for r in recs)]
        lad = {a: ladder(recs, a, chance) for a in acts}
        parts = compare_groups(lad)
        verdict_name = decide(parts["blowup"], parts["trainable"])
        n_seeds = len({r["seed"] for r in recs})

        def ok_list(group: list[str]) -> str:
            return ", ".join(f"{a} {dyn.lr_str(lad[a]['max_ok'])}" for a in group if a in lad)

        def blow_list(group: list[str]) -> str:
            return ", ".join(
                f"{a} {dyn.lr_str(lad[a]['first_blowup']).replace('none', 'never')}"
                for a in group
                if a in lad
            )

        def span(group: list[str]) -> str:
            v = sorted(lad[a]["max_ok"] or 0.0 for a in group if a in lad)
            return f"{v[0]:g}" if v[0] == v[-1] else f"{v[0]:g}-{v[-1]:g}"

        ok_text = (
            f"largest learning rate at which every seed still trains: bounded {ok_list(BOUNDED)}; "
            f"unbounded {ok_list(UNBOUNDED)}"
        )
        blow_text = (
            f"non-finite loss in {100 * parts['blowup_rate_bounded']:.0f}% of bounded and "
            f"{100 * parts['blowup_rate_unbounded']:.0f}% of unbounded runs (first at: bounded "
            f"{blow_list(BOUNDED)}; unbounded {blow_list(UNBOUNDED)})"
        )
        provisional = n_seeds < dyn.MIN_SEEDS
        if verdict_name == "supported":
            verdict = Verdict(
                "supported",
                f"Every bounded activation trains at a larger rate than every unbounded one: "
                f"{ok_text}; {blow_text}.",
                provisional=provisional,
            )
        elif verdict_name == "refuted":
            verdict = Verdict(
                "refuted",
                f"Bounded activations are not more stable: {ok_text}; {blow_text}.",
                provisional=provisional,
            )
        else:
            if parts["blowup"] == "bounded":
                on = "what 'stable' means: finite numbers, or a run that still trains"
                boundary = (
                    f"non-finite loss in {100 * parts['blowup_rate_bounded']:.0f}% of bounded vs "
                    f"{100 * parts['blowup_rate_unbounded']:.0f}% of unbounded runs; largest "
                    f"trainable lr {span(BOUNDED)} bounded vs {span(UNBOUNDED)} unbounded"
                )
                reason = (
                    f"Bounded activations keep the numbers finite more often ({blow_text}), but "
                    f"they do not all train at larger rates than the unbounded ones: {ok_text}."
                )
            else:
                on = "the activation, not boundedness"
                boundary = ok_text
                reason = (
                    f"The largest trainable rates of the two groups overlap: {ok_text}; "
                    f"{blow_text}."
                )
            verdict = Verdict(
                "depends",
                reason,
                on=on,
                boundary=boundary,
                provisional=provisional,
            )

        findings = [
            f"Blow-up (non-finite loss): {blow_text}.",
            f"Training at all: {ok_text} (failure: loss non-finite or >= ln "
            f"{data['n_classes']} = {chance:.3f} at the end).",
        ]
        best_acc = {
            a: max(
                (v["acc"] for v in lad[a]["per_lr"].values() if dyn.finite(v["acc"])),
                default=math.nan,
            )
            for a in acts
        }
        findings.append(
            "Best test accuracy over the ladder (runs that trained): "
            + ", ".join(f"{a} {100 * best_acc[a]:.1f}%" for a in acts)
            + "."
        )
        quiet = []  # bounded runs that failed with finite numbers: what their loss did
        for a in acts:
            if a not in BOUNDED:
                continue
            for lr, v in lad[a]["per_lr"].items():
                if v["failed"] > v["blowup"]:
                    losses = [r["train_loss"] for r in recs if r["activation"] == a
                              and float(r["lr"]) == lr and failed(r, chance)]  # fmt: skip
                    quiet.append(f"{a} at lr {lr:g} {dyn.mean(losses):.2f}")
        if quiet:
            findings.append(
                "Bounded activations that failed with finite numbers, mean final training loss "
                f"of the failed runs (a uniform guess: {chance:.2f}): " + "; ".join(quiet) + "."
            )
        lrs = sorted({float(r["lr"]) for r in recs})
        rows = []
        for a in acts:
            cells = []
            for lr in lrs:
                v = lad[a]["per_lr"].get(lr)
                cells.append(
                    "" if v is None else f"{v['failed']}/{v['runs']} failed, {v['blowup']} NaN"
                )
            rows.append([a, "bounded" if a in BOUNDED else "unbounded", *cells,
                         dyn.lr_str(lad[a]["max_ok"])])  # fmt: skip
        tables = [
            Table(
                f"Failed runs per learning rate (of {n_seeds} seeds)",
                ["activation", "range", *[f"lr {x:g}" for x in lrs], "largest trainable lr"],
                rows,
            )
        ]
        evidence = {
            **parts,
            "max_trainable_lr": {a: lad[a]["max_ok"] for a in acts},
            "first_blowup_lr": {a: lad[a]["first_blowup"] for a in acts},
            "best_test_acc": best_acc,
            "chance_loss": chance,
        }
        return Outcome(verdict, evidence, findings, tables)

    def figure(self, data: dict[str, Any], outcome: Outcome) -> Any:
        import matplotlib.pyplot as plt

        recs = data["records"]
        chance = math.log(data["n_classes"])
        acts = [a for a in BOUNDED + UNBOUNDED if any(r["activation"] == a for r in recs)]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.6))
        lads = {a: ladder(recs, a, chance)["per_lr"] for a in acts}
        lrs = sorted({float(r["lr"]) for r in recs})
        grid = [[100 * lads[a][x]["failed"] / lads[a][x]["runs"] if x in lads[a] else float("nan")
                 for x in lrs] for a in acts]  # fmt: skip
        ax1.imshow(grid, cmap="Reds", vmin=0, vmax=100, aspect="auto")
        for i, a in enumerate(acts):
            for j, x in enumerate(lrs):
                v = lads[a].get(x)
                if v is not None:
                    label = f"{v['failed']}/{v['runs']}" + (
                        f"\n{v['blowup']} NaN" if v["blowup"] else ""
                    )
                    dark = v["failed"] / v["runs"] > 0.6  # white text on the dark cells
                    ax1.text(j, i, label, ha="center", va="center", fontsize=7,
                             color="white" if dark else "black")  # fmt: skip
        ax1.set_xticks(range(len(lrs)), [f"{x:g}" for x in lrs])
        ax1.set_yticks(range(len(acts)),
                       [f"{a} ({'b' if a in BOUNDED else 'u'})" for a in acts])  # fmt: skip
        ax1.set_xlabel("learning rate (plain SGD)")
        ax1.set_title("failed runs (b: bounded, u: unbounded)", fontsize=9)
        for i, a in enumerate(acts):
            ls = "-" if a in BOUNDED else "--"
            accs = [
                dyn.mean(
                    r["test_acc"] if not failed(r, chance) else math.nan
                    for r in recs
                    if r["activation"] == a and float(r["lr"]) == x
                )
                for x in lrs
            ]
            ax2.plot(lrs, [100 * v for v in accs], ls=ls, color=f"C{i}", marker="o", ms=3,
                     label=a)  # fmt: skip
        ax2.set_xscale("log")
        ax2.set_xlabel("learning rate (plain SGD)")
        ax2.set_ylabel("test accuracy of runs that trained (%)")
        ax2.set_title("accuracy (solid: bounded, dashed: unbounded)", fontsize=9)
        ax2.legend(fontsize=7)
        fig.suptitle("C14: bounded vs unbounded activations over an SGD learning-rate ladder",
                     fontsize=10)  # fmt: skip
        fig.tight_layout()
        return fig
