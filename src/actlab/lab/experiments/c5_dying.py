"""C5: do ReLU units die (output 0 for every input) and never recover, from large rates or bad init?

Three parts, three measurements:

* dying against the learning rate and the initialisation: ReLU MLPs (two hidden layers
  of 100) on MNIST-1D trained with momentum SGD over a ladder of learning rates, under
  PyTorch's default, He and Xavier init (``_depth.dying_plan``; stored once and shared
  with C6). The trainer records after every epoch which hidden units output exactly 0
  on every training example; the final dead fraction against the learning rate gives
  the boundary rate (the smallest at which at least ``_depth.DEAD_THRESHOLD`` of the
  units are dead).
* never recover: the same per-epoch records show units dead at one epoch and alive at
  a later one. Any such revival refutes "never". A dead first-layer unit gets no
  gradient and its inputs are fixed, so only momentum's remaining velocity can move it;
  a dead second-layer unit can also be revived by the layer below changing.
* bad initialisation: besides the inits above, the "born dead" case of Lu, Shin, Su &
  Karniadakis (2020, "Dying ReLU and Initialization: Theory and Numerical Examples",
  Commun. Comput. Phys. 28:1671, arXiv:1903.06733): a deep, narrow ReLU net under a
  symmetric init is dead (some layer all zeros for every input, so the net is constant)
  with a probability that goes to 1 with depth. A Monte Carlo over random nets measures
  it on MNIST-1D inputs beside the closed form for one input derived in
  ``_depth.born_dead_formula`` (the paper's own finite-depth formula was not at hand).
"""

from __future__ import annotations

import math
from typing import Any

from . import Anchor, Context, Experiment, Outcome, Table, Verdict, register
from . import _depth as D
from .c2_vanishing import INIT_NAMES


def _dead_by(rows: list[dict[str, Any]]) -> dict[tuple[str, float], dict[str, Any]]:
    """Per (init, lr): dead fractions and accuracies of the runs that did not blow up."""
    from ..stats import summarize

    cells: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in rows:
        cells.setdefault((r["init"], float(r["lr"])), []).append(r)
    out = {}
    for key, rs in cells.items():
        ok = [r for r in rs if not D.diverged(r)]
        dead = [float(r["dead"]) for r in ok]
        s = summarize(dead) if len(dead) >= 2 else None
        out[key] = {
            "dead": D.mean(dead),
            "ci": (s.ci_low, s.ci_high) if s else (math.nan, math.nan),
            "acc": D.mean([float(r["test_acc"]) for r in rs]),
            "runs": len(rs),
            "diverged": len(rs) - len(ok),
        }
    return out


def boundaries(
    cells: dict[tuple[str, float], dict[str, Any]], inits: list[str], lrs: list[float]
) -> dict[str, float | None]:
    """Per init: the smallest learning rate leaving >= DEAD_THRESHOLD of the units dead."""
    out: dict[str, float | None] = {}
    for i in inits:
        hit = [lr for lr in lrs if cells.get((i, lr), {}).get("dead", 0.0) >= D.DEAD_THRESHOLD]
        out[i] = min(hit) if hit else None
    return out


@register
class Dying(Experiment):
    id = "C5"
    title = "Dying ReLU: when units die, whether they recover"
    question = (
        "Do ReLU units end up outputting 0 for every training input, does that happen at large "
        "learning rates or under some initialisations, and do dead units never come back?"
    )

    def setup(self, profile: str) -> dict[str, Any]:
        p, b = D.dying_plan(profile), D.born_dead_plan(profile)
        return {
            "training": f"MNIST-1D, ReLU MLP {p['hidden']}, momentum SGD (0.9), batch 100, "
            f"{p['epochs']} epochs, lr {p['lrs']}, inits {', '.join(p['inits'])}, "
            f"seeds {p['seeds']}",
            "dead unit": "output exactly 0 on every training example (checked after each epoch)",
            "born dead": f"{b['nets']} random nets per cell, widths {b['widths']}, depths "
            f"{b['depths']}, inits {', '.join(b['inits'])}, on {b['inputs']} MNIST-1D inputs",
            "thresholds": f"dying: >= {D.DEAD_THRESHOLD:.0%} of hidden units dead; blown-up "
            f"runs (train loss > {D.DIVERGED_LOSS:g} or NaN) counted apart",
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        return {
            "dying": D.dying_rows(ctx),
            "born": ctx.measure("born-dead", D.born_dead, **D.born_dead_plan(ctx.profile)),
        }

    def analyse(self, data: dict[str, Any]) -> Outcome:
        rows = data["dying"]
        inits = list(dict.fromkeys(r["init"] for r in rows))
        lrs = sorted({float(r["lr"]) for r in rows})
        cells = _dead_by(rows)
        bound = boundaries(cells, inits, lrs)

        # deaths and revivals per layer, over every run that did not blow up
        deaths: list[int] = []
        revivals: list[int] = []
        revived_runs = 0
        finite = [r for r in rows if not D.diverged(r)]
        for r in finite:
            d, v = D.transitions(r["dead_history"])
            deaths = [a + b for a, b in zip(deaths, d)] if deaths else d
            revivals = [a + b for a, b in zip(revivals, v)] if revivals else v
            revived_runs += sum(v) > 0
        n_deaths, n_rev = sum(deaths), sum(revivals)

        born = data["born"]["cells"]
        narrow = min(c["width"] for c in born)
        deep = max(c["depth"] for c in born)
        b_he = {(c["width"], c["depth"]): c for c in born if c["init"] == born[0]["init"]}
        p_formula = D.born_dead_formula(narrow, deep)
        # the anchor: the narrowest width not yet all dead at the deepest depth (a width
        # whose nets are all dead agrees with the limit trivially)
        open_w = [w for (w, d), c in b_he.items() if d == deep and c["dead"] < 0.99]
        anchor_w = min(open_w) if open_w else narrow

        dies = any(b is not None for b in bound.values())
        everywhere = dies and all(b == lrs[0] for b in bound.values())

        def init_text(i: str) -> str:
            b = bound[i]
            name = INIT_NAMES.get(i, i)
            if b is None:
                top = max(D.finite_or(cells[(i, lr)]["dead"], 0.0) for lr in lrs)
                return f"{name} init: never {D.DEAD_THRESHOLD:.0%} dead up to lr {lrs[-1]:g} " \
                    f"(at most {top:.1%})"  # fmt: skip
            below = [D.finite_or(cells[(i, lr)]["dead"], 0.0) for lr in lrs if lr < b]
            c = cells[(i, b)]
            return f"{name} init: {c['dead']:.1%} dead from lr {b:g}" + (
                f", at most {max(below):.1%} below it" if below else " (the smallest lr tried)"
            )

        recovery = (
            f"dead units do come back: {n_rev} of {n_deaths} deaths were reversed at a later "
            f"epoch ({n_rev / n_deaths:.0%}; {revived_runs} of {len(finite)} runs), so 'never "
            "recover' is refuted"
            if n_rev
            else f"no dead unit ever came back ({n_deaths} deaths in {len(finite)} runs)"
        )
        widths = sorted({c["width"] for c in born})
        born_text = (
            f"at initialisation, depth-{deep} nets are born dead in "
            + "/".join(f"{b_he[(w, deep)]['dead']:.0%}" for w in widths)
            + " of random draws at widths "
            + "/".join(str(w) for w in widths)
            + " (closed form for one input: "
            + "/".join(f"{D.born_dead_formula(w, deep):.0%}" for w in widths)
            + ")"
        )

        # provisional: the boundary's dead fraction, or the one just below it, has a
        # confidence interval reaching across the threshold; or fewer than 3 seeds
        shaky = []
        for i, b in bound.items():
            if b is None:
                continue
            lo = cells[(i, b)]["ci"][0]
            if math.isfinite(lo) and lo < D.DEAD_THRESHOLD:
                shaky.append(i)
            prev = [lr for lr in lrs if lr < b]
            if prev and cells[(i, prev[-1])]["ci"][1] > D.DEAD_THRESHOLD:
                shaky.append(i)
        provisional = bool(shaky) or len({r["seed"] for r in rows}) < 3

        per_init = "; ".join(init_text(i) for i in inits)
        if not dies:
            verdict = Verdict(
                "refuted",
                f"Training did not kill {D.DEAD_THRESHOLD:.0%} of the units at any learning rate "
                f"or init tried ({per_init}); {recovery}; {born_text}.",
                provisional=provisional,
            )
        elif everywhere and not n_rev:
            verdict = Verdict(
                "supported",
                f"Units die at every learning rate tried ({per_init}) and {recovery}; {born_text}.",
                provisional=provisional,
            )
        else:
            found = {b for b in bound.values() if b is not None}
            same = len(found) == 1 and all(b is not None for b in bound.values())
            lead = (
                f"Units die only from lr {found.pop():g}, under every init"
                if same
                else "Units die only above a learning rate, and which one depends on the init"
            )
            verdict = Verdict(
                "depends",
                f"{lead} ({per_init}); {recovery}; {born_text}.",
                on="the learning rate" if same else "the learning rate, and the initialisation",
                boundary="; ".join(
                    f"{i}: from lr {bound[i]:g}" if bound[i] is not None else f"{i}: none"
                    for i in inits
                ),
                provisional=provisional,
            )

        findings = [f"Dead fraction after training: {per_init}."]
        accs = []
        for i in inits:
            if bound[i] is None:
                continue
            best_lr = max(lrs, key=lambda lr: cells[(i, lr)]["acc"])
            accs.append(
                f"{i}: {cells[(i, bound[i])]['acc']:.1%} at lr {bound[i]:g} against "
                f"{cells[(i, best_lr)]['acc']:.1%} at lr {best_lr:g}"
            )
        if accs:
            findings.append("Test accuracy where units die: " + "; ".join(accs) + ".")
        if deaths:
            layer1 = ""
            if len(deaths) > 1 and revivals[0]:
                layer1 = (
                    f" The {revivals[0]} layer-1 revivals can only come from momentum's leftover "
                    "velocity: a dead layer-1 unit's inputs are fixed and it gets no gradient."
                )
            elif len(deaths) > 1 and deaths[0]:
                layer1 = " No dead layer-1 unit came back."
            elif len(deaths) > 1:
                layer1 = (
                    " No layer-1 unit died: it would have to be negative on every (standardised) "
                    "training input at once; every death and revival is in the deeper layers."
                )
            findings.append(
                "Deaths / revivals by layer: "
                + ", ".join(
                    f"layer {k + 1}: {d} / {v}" for k, (d, v) in enumerate(zip(deaths, revivals))
                )
                + "."
                + layer1
            )
        blown = sum(c["diverged"] for c in cells.values())
        if blown:
            findings.append(f"{blown} runs blew up (loss > {D.DIVERGED_LOSS:g} or NaN) and are "
                            "left out of the dead fractions.")  # fmt: skip
        point_err = max(abs(c["dead_point"] - D.born_dead_formula(c["width"], c["depth"]))
                        for c in born)  # fmt: skip
        se = max(math.sqrt(p * (1 - p) / c["nets"]) for c in born
                 for p in [D.born_dead_formula(c["width"], c["depth"])])  # fmt: skip
        first_init = born[0]["init"]
        mc = {(c["width"], c["depth"]): c["dead"] for c in born if c["init"] == first_init}
        depths = sorted({c["depth"] for c in born})
        mid = [d for d in depths if d > 1] or depths
        ratio_lo = mc[(narrow, mid[0])] / D.born_dead_formula(narrow, mid[0])
        ratio_hi = mc[(narrow, deep)] / p_formula
        trend = (
            "the gap narrows with depth, as the inputs' representations align"
            if ratio_hi > ratio_lo + 0.1
            else "the gap does not narrow with depth here"
        )
        findings.append(
            f"Born dead ({first_init} init): at a single input the Monte Carlo matches the closed "
            f"form 1 - (1 - 2^-width)^depth within {point_err:.3f} (largest standard error "
            f"{se:.3f}). Over {data['born']['inputs']} inputs a net must be dead for all of them, "
            f"so fewer are: width {narrow} gives {ratio_lo:.0%} of the closed form at depth "
            f"{mid[0]} and {ratio_hi:.0%} at depth {deep}; {trend}. The closed form is this "
            "lab's derivation; Lu et al.'s finite-depth bound was not at hand, only their limit "
            "(1 as depth grows), shown as the anchor."
        )
        tables = [
            Table(
                "Dead fraction after training (mean over seeds; test accuracy)",
                ["init", *(f"lr {lr:g}" for lr in lrs)],
                [
                    [i, *(self._cell(cells.get((i, lr))) for lr in lrs)]
                    for i in inits
                ],
            ),
            Table(
                "Born dead at initialisation: Monte Carlo over inputs (one input) vs closed form",
                ["width", "depth", *(f"{i} init" for i in data["born"].get("inits", []) or
                                     dict.fromkeys(c["init"] for c in born)),
                 "closed form (one input)"],
                self._born_rows(born),
            ),
        ]  # fmt: skip
        anchor = Anchor(
            f"probability that a width-{anchor_w} ReLU net is born dead as depth grows",
            1.0,
            b_he[(anchor_w, deep)]["dead"],
            "Lu, Shin, Su & Karniadakis 2020, Commun. Comput. Phys. 28:1671 (arXiv:1903.06733)",
            f"theirs is the limit as depth -> infinity; ours is the Monte Carlo at depth {deep} "
            f"over {data['born']['inputs']} MNIST-1D inputs",
        )
        evidence = {
            "dead_threshold": D.DEAD_THRESHOLD,
            "boundary_lr": bound,
            "dead_fraction": {f"{i}/lr{lr:g}": cells[(i, lr)]["dead"] for i, lr in cells},
            "test_acc": {f"{i}/lr{lr:g}": cells[(i, lr)]["acc"] for i, lr in cells},
            "deaths_by_layer": deaths,
            "revivals_by_layer": revivals,
            "born_dead": {
                f"{c['init']}/w{c['width']}/d{c['depth']}": {
                    "monte_carlo": c["dead"],
                    "one_input": c["dead_point"],
                    "closed_form": D.born_dead_formula(c["width"], c["depth"]),
                }
                for c in born
            },
        }
        return Outcome(verdict, evidence, findings, tables, [anchor])

    @staticmethod
    def _cell(c: dict[str, Any] | None) -> str:
        if c is None:
            return ""
        text = f"{c['dead']:.1%} ({c['acc']:.0%})" if math.isfinite(c["dead"]) else "n/a"
        return text + (f", {c['diverged']}/{c['runs']} blew up" if c["diverged"] else "")

    @staticmethod
    def _born_rows(born: list[dict[str, Any]]) -> list[list[Any]]:
        inits = list(dict.fromkeys(c["init"] for c in born))
        by = {(c["init"], c["width"], c["depth"]): c for c in born}
        rows = []
        for w in sorted({c["width"] for c in born}):
            for d in sorted({c["depth"] for c in born}):
                cs = [by[(i, w, d)] for i in inits]
                rows.append(
                    [w, d, *(f"{c['dead']:.3f} ({c['dead_point']:.3f})" for c in cs),
                     f"{D.born_dead_formula(w, d):.3f}"]
                )  # fmt: skip
        return rows

    def figure(self, data: dict[str, Any], outcome: Outcome) -> Any:
        import matplotlib.pyplot as plt

        rows = data["dying"]
        inits = list(dict.fromkeys(r["init"] for r in rows))
        lrs = sorted({float(r["lr"]) for r in rows})
        cells = _dead_by(rows)
        colors = {
            "torch": "tab:red",
            "xavier": "tab:purple",
            "he": "tab:blue",
            "lecun": "tab:green",
        }
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8))
        for i in inits:
            c = colors.get(i, "0.3")
            ax1.plot(lrs, [cells[(i, lr)]["dead"] for lr in lrs], "-o", color=c, ms=4,
                     label=f"init {i}")  # fmt: skip
            pts = [
                (float(r["lr"]), r["dead"]) for r in rows if r["init"] == i and not D.diverged(r)
            ]
            ax1.plot([p[0] for p in pts], [p[1] for p in pts], ".", color=c, alpha=0.4)
        ax1.axhline(D.DEAD_THRESHOLD, color="0.5", lw=0.8, ls="--")
        D.depth_axis(ax1, lrs, "learning rate (momentum SGD)")
        ax1.set_ylabel("fraction of hidden units dead")
        ax1.set_title("After training (dots: seeds)")
        ax1.legend(fontsize=7)
        born = data["born"]["cells"]
        first = born[0]["init"]
        depths = sorted({c["depth"] for c in born})
        for k, w in enumerate(sorted({c["width"] for c in born})):
            col = plt.cm.viridis(k / max(1, len({c["width"] for c in born}) - 1))
            mc = {c["depth"]: c["dead"] for c in born if c["width"] == w and c["init"] == first}
            ax2.plot(depths, [mc[d] for d in depths], "o", color=col, ms=4, label=f"width {w}")
            ax2.plot(depths, [D.born_dead_formula(w, d) for d in depths], "-", color=col, lw=1)
        D.depth_axis(ax2, depths)
        ax2.set_ylabel("P(net dead at init)")
        ax2.set_title(f"Born dead ({first} init): dots MC, lines closed form")
        ax2.legend(fontsize=7)
        fig.suptitle("C5: dying ReLU on MNIST-1D and at initialisation", fontsize=10)
        fig.tight_layout()
        return fig
