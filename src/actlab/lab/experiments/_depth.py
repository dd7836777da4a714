"""What the depth-and-dying experiments share: plans, measurements and small summaries.

C2 (vanishing gradients) and C3 (ReLU neither vanishes nor explodes) read the same two
measurements: the per-layer weight-gradient norms of freshly initialised MLPs
(:func:`grad_at_init`, through ``ctx.measure``) and a trainability sweep (test accuracy
after a fixed, short budget against depth), so a report trains and measures them once.
C5 (dying ReLU) and C6 (its remedies) share the dying sweep: ReLU MLPs trained with
momentum SGD over a ladder of learning rates and initialisations, whose per-epoch
``dead_units`` show both deaths and revivals; C6 adds the remedies at the same rates.

The Monte Carlo of :func:`born_dead` counts random deep, narrow ReLU nets that are dead
at initialisation (Lu, Shin, Su & Karniadakis, "Dying ReLU and Initialization: Theory
and Numerical Examples", Commun. Comput. Phys. 28 (2020) 1671-1706, arXiv:1903.06733).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

from . import Context

#: A net's gradients are "even" when the first layer's weight-gradient norm is within a
#: factor of 10 of the last hidden layer's, and within a factor of 10 of what a depth-2
#: net of the same kind gets. One learning rate serves every layer: beyond a factor of
#: 10 one end of the net moves at least ten times slower than the other (or than a
#: shallow net would), which no tuning of that one rate repairs; inside it, depth-2 nets
#: already differ by a factor of about 3 between seeds and functions.
BAND = 10.0
#: Gradient norms that underflow to exactly 0 are floored here so ratios stay finite.
FLOOR = 1e-300
#: Below this a ratio is printed as "<1e-30" (float32 gradients underflowed long before).
TINY = 1e-30
#: MNIST-1D has 10 balanced classes.
CHANCE = 0.1
#: A depth "trains" when its test accuracy (best learning rate, mean over seeds) keeps at
#: least half of the gain over chance that the best shallow net reaches in the same
#: budget: a net that learns only a little is told apart from one that learns at all.
TRAIN_FRACTION = 0.5
#: Accuracies this close to the trains/does-not-train line leave the verdict provisional.
ACC_MARGIN = 0.03
#: A run whose training loss is not finite or above this (in nats; chance is ln 10 = 2.3)
#: blew up: its dead-unit count is meaningless (NaN is not 0) and it is counted apart.
DIVERGED_LOSS = 10.0
#: A learning rate "kills" ReLUs when it leaves at least this fraction of the hidden units
#: dead (exact 0 on every training example) after training: a tenth of the width gone.
#: Below a few percent, single units flicker dead and alive from epoch to epoch
#: (the revival counts show it), which is not the permanent death the claim describes.
DEAD_THRESHOLD = 0.10
#: Significance level for paired tests (after Holm's correction where several are made).
ALPHA = 0.05


# --------------------------------------------------------------------------- plans


def grad_plan(profile: str) -> dict[str, Any]:
    """Gradient norms at initialisation: the nets measured under ``profile``."""
    if profile == "smoke":
        return dict(
            activations=["sigmoid", "tanh", "relu"],
            inits=["torch", "he"],
            depths=[2, 5, 10],
            width=16,
            seeds=[0, 1],
            batch=64,
        )
    if profile == "quick":
        return dict(
            activations=["sigmoid", "tanh", "relu", "elu", "selu"],
            inits=["torch", "xavier", "he"],
            depths=[2, 5, 10, 20, 50],
            width=32,
            seeds=[0, 1, 2],
            batch=256,
        )
    return dict(
        activations=["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu"],
        inits=["torch", "xavier", "he"],
        depths=[2, 5, 10, 20, 50, 100],
        width=64,
        seeds=list(range(5)),
        batch=512,
    )


def train_plan(profile: str) -> dict[str, Any]:
    """The trainability sweep: same width as :func:`grad_plan`, momentum SGD, short budget.

    Momentum SGD, not Adam: Adam divides each gradient by its own running size, which
    would hide the very gradient scale the claim is about.
    """
    if profile == "smoke":
        return dict(
            activations=["sigmoid", "tanh", "relu"],
            inits=["torch", "he"],
            depths=[2, 5],
            width=16,
            epochs=1,
            lrs=[0.1],
            seeds=[0, 1],
        )
    if profile == "quick":
        return dict(
            activations=["sigmoid", "tanh", "relu"],
            inits=["torch", "he"],
            depths=[2, 5, 10, 20],
            width=32,
            epochs=2,
            lrs=[0.01, 0.1],
            seeds=[0, 1, 2],
        )
    return dict(
        activations=["sigmoid", "tanh", "relu"],
        inits=["torch", "xavier", "he"],
        depths=[2, 5, 10, 20, 50],
        width=64,
        epochs=10,
        lrs=[0.01, 0.03, 0.1],
        seeds=list(range(5)),
    )


def dying_plan(profile: str) -> dict[str, Any]:
    """The dying sweep (ReLU, momentum SGD) and the remedies' settings under ``profile``.

    ``remedy_init`` is the initialisation C6 tests the remedies under: PyTorch's default,
    the one a reader of the texts gets without asking.
    """
    if profile == "smoke":
        return dict(
            hidden=[32, 32],
            epochs=2,
            lrs=[0.01, 0.1, 1.0],
            seeds=[0, 1],
            inits=["torch", "he"],
            remedy_init="torch",
        )
    if profile == "quick":
        return dict(
            hidden=[100, 100],
            epochs=5,
            lrs=[0.01, 0.1, 0.3, 0.5, 1.0],
            seeds=[0, 1, 2],
            inits=["torch", "he"],
            remedy_init="torch",
        )
    return dict(
        hidden=[100, 100],
        epochs=20,
        lrs=[0.003, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 1.0],
        seeds=list(range(5)),
        inits=["torch", "he", "xavier", "lecun"],
        remedy_init="torch",
    )


def born_dead_plan(profile: str) -> dict[str, Any]:
    """The Monte Carlo of nets dead at initialisation under ``profile``."""
    if profile == "smoke":
        return dict(widths=[2, 4], depths=[1, 2, 5, 10], nets=200, inputs=32, inits=["he", "torch"])
    if profile == "quick":
        return dict(
            widths=[2, 3, 4, 6, 10],
            depths=[1, 2, 5, 10, 20, 50],
            nets=1000,
            inputs=64,
            inits=["he", "torch"],
        )
    return dict(
        widths=[2, 3, 4, 5, 6, 8, 10],
        depths=[1, 2, 3, 5, 10, 20, 50, 100],
        nets=5000,
        inputs=256,
        inits=["he", "torch"],
    )


#: The remedies C6 tests (activation swaps at the baseline's learning rate).
REMEDY_ACTIVATIONS = ["leaky_relu", "prelu", "elu"]


# --------------------------------------------------------------------------- measurements


@functools.lru_cache(maxsize=1)
def _mnist1d() -> Any:
    """MNIST-1D, standardised (generating it takes seconds: once per process)."""
    from .. import data as data_mod

    return data_mod.load("mnist1d", seed=0, standardize=True)


def grad_at_init(
    activations: Sequence[str],
    inits: Sequence[str],
    depths: Sequence[int],
    width: int,
    seeds: Sequence[int],
    batch: int,
) -> dict[str, Any]:
    """Weight-gradient norms of fresh MLPs on one MNIST-1D batch (cross-entropy, backward).

    For every activation, initialisation, depth (number of hidden layers of ``width``)
    and seed: the Frobenius norm of each Linear layer's weight gradient, hidden layers
    first, output layer last. The net is :func:`actlab.lab.models.build`'s MLP, seeded
    like the trainer seeds it (``torch.manual_seed(seed)``).
    """
    import torch
    import torch.nn.functional as F

    from ..models import build

    ds = _mnist1d()
    x = torch.from_numpy(ds.x_train[:batch])
    y = torch.from_numpy(ds.y_train[:batch])
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the numbers must not depend on the machine's thread count
    nets = []
    try:
        for act in activations:
            for init in inits:
                for depth in depths:
                    for seed in seeds:
                        torch.manual_seed(seed)
                        cfg = {"hidden": [width] * depth, "activation": act, "init": init}
                        model = build(cfg, ds.input_shape, ds.n_outputs)
                        F.cross_entropy(model(x), y).backward()
                        grads = [float(m.weight.grad.norm()) for m in [*model.layers, model.out]]
                        nets.append(
                            dict(activation=act, init=init, depth=depth, seed=seed, grads=grads)
                        )
    finally:
        torch.set_num_threads(before)
    return {"width": width, "batch": batch, "nets": nets}


def gradients(ctx: Context) -> dict[str, Any]:
    """The stored gradient-at-initialisation measurement (shared by C2 and C3)."""
    return ctx.measure("grad-at-init", grad_at_init, **grad_plan(ctx.profile))


def trainability(ctx: Context) -> list[dict[str, Any]]:
    """The trainability sweep's rows, compacted (shared by C2 and C3)."""
    p = train_plan(ctx.profile)
    fixed = {
        "data": "mnist1d",
        "model": "mlp",
        "optimizer": "momentum",
        "batch_size": 100,
        "epochs": p["epochs"],
    }
    grid = {
        "activation": p["activations"],
        "init": p["inits"],
        "hidden": [[p["width"]] * d for d in p["depths"]],
        "lr": p["lrs"],
        "seed": p["seeds"],
    }
    out = []
    for r in ctx.sweep("depth-trainability", fixed, grid):
        if r.get("status") != "complete" or not r.get("history"):
            continue
        g = r["history"][-1]["grad_norms"]
        out.append(
            dict(
                activation=r["activation"],
                init=r["init"],
                depth=len(r["hidden"]),
                lr=r["lr"],
                seed=r["seed"],
                test_acc=float(r["final_test_acc"]),
                grad_first=float(g[0]),
                grad_last=float(g[-2]),
            )
        )
    return out


def _dying_fixed(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": "mnist1d",
        "model": "mlp",
        "hidden": p["hidden"],
        "batch_size": 100,
        "epochs": p["epochs"],
    }


def _compact_dying(r: dict[str, Any]) -> dict[str, Any] | None:
    if r.get("status") != "complete" or not r.get("history"):
        return None
    h = r["history"]
    return dict(
        activation=r["activation"],
        init=r["init"],
        optimizer=r["optimizer"],
        lr=r["lr"],
        seed=r["seed"],
        dead=float(h[-1]["dead_fraction"]),
        test_acc=float(h[-1]["test_acc"]),
        train_loss=float(h[-1]["train_loss"]),
        dead_history=[e["dead_units"] for e in h],
    )


def dying_rows(ctx: Context) -> list[dict[str, Any]]:
    """ReLU with momentum SGD over learning rates x initialisations (shared by C5 and C6)."""
    p = dying_plan(ctx.profile)
    fixed = {**_dying_fixed(p), "activation": "relu", "optimizer": "momentum"}
    grid = {"init": p["inits"], "lr": p["lrs"], "seed": p["seeds"]}
    rows = (_compact_dying(r) for r in ctx.sweep("dying", fixed, grid))
    return [r for r in rows if r is not None]


def remedy_rows(ctx: Context) -> list[dict[str, Any]]:
    """The remedies at the dying sweep's rates: other activations, and ReLU with Adagrad."""
    p = dying_plan(ctx.profile)
    base = {**_dying_fixed(p), "init": p["remedy_init"]}
    swaps = ctx.sweep(
        "dying-remedies",
        {**base, "optimizer": "momentum"},
        {"activation": REMEDY_ACTIVATIONS, "lr": p["lrs"], "seed": p["seeds"]},
    )
    adagrad = ctx.sweep(
        "dying-adagrad",
        {**base, "optimizer": "adagrad", "activation": "relu"},
        {"lr": p["lrs"], "seed": p["seeds"]},
    )
    rows = (_compact_dying(r) for r in [*swaps, *adagrad])
    return [r for r in rows if r is not None]


def born_dead(
    widths: Sequence[int],
    depths: Sequence[int],
    nets: int,
    inputs: int,
    inits: Sequence[str],
    seed: int = 0,
) -> dict[str, Any]:
    """Monte Carlo: the fraction of random ReLU MLPs that are dead at initialisation.

    A net is dead when some hidden layer outputs 0 in every unit for every input (then
    everything after it, and the net's output, is constant). Inputs are the first
    ``inputs`` MNIST-1D training examples (40 features). Weights are drawn as
    :func:`actlab.lab.models.init_weights` draws them: ``he`` N(0, 2/fan_in) with zero
    biases; ``torch`` PyTorch's default U(+-1/sqrt(fan_in)) for weights and biases.
    Both are symmetric, the case Lu et al. analyse. Every depth is the prefix of the
    deepest net (a prefix of a random net is a random net of that depth). Also counted:
    nets dead at the first input alone, the case the closed form describes exactly.
    """
    import torch

    x = torch.from_numpy(_mnist1d().x_train[:inputs])
    gen = torch.Generator().manual_seed(seed)
    deepest = max(depths)
    out: list[dict[str, Any]] = []
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the counts must not depend on the machine's thread count
    try:
        for init in inits:
            for width in widths:
                dead_set = torch.zeros(nets, dtype=torch.bool)
                dead_point = torch.zeros(nets, dtype=torch.bool)
                h = x.expand(nets, -1, -1).contiguous()
                counts: dict[int, tuple[int, int]] = {}
                for layer in range(1, deepest + 1):
                    fan_in = h.shape[-1]
                    # every net draws its weights, dead or not, so the draws of a net do
                    # not depend on which others died; only the live ones are propagated
                    if init == "he":
                        w = torch.randn(nets, fan_in, width, generator=gen)
                        w *= math.sqrt(2.0 / fan_in)
                        b = torch.zeros(nets, 1, width)
                    else:
                        bound = 1.0 / math.sqrt(fan_in)
                        w = (torch.rand(nets, fan_in, width, generator=gen) * 2 - 1) * bound
                        b = (torch.rand(nets, 1, width, generator=gen) * 2 - 1) * bound
                    live = torch.nonzero(~dead_set).flatten()
                    if len(live):
                        z = torch.relu(torch.baddbmm(b[live], h[live], w[live]))
                        zero = z == 0
                        dead_set[live] |= zero.all(2).all(1)
                        dead_point[live] |= zero[:, 0, :].all(1)
                        hn = torch.zeros(nets, h.shape[1], width)
                        hn[live] = z
                        h = hn
                    if layer in depths:
                        counts[layer] = (int(dead_set.sum()), int(dead_point.sum()))
                for depth in depths:
                    n_set, n_point = counts[depth]
                    out.append(
                        dict(init=init, width=width, depth=depth, nets=nets,
                             dead=n_set / nets, dead_point=n_point / nets)
                    )  # fmt: skip
    finally:
        torch.set_num_threads(before)
    return {"inputs": inputs, "input_dim": int(x.shape[1]), "cells": out}


def born_dead_formula(width: int, depth: int) -> float:
    """P(a width-``width`` ReLU net of ``depth`` hidden layers is dead at one input).

    This lab's derivation (not the paper's text, which was not at hand): at a fixed
    input, given a non-zero output of the layer below, each unit's pre-activation
    ``w . h + b`` is symmetric about 0 (symmetric weights independent of ``h``;
    symmetric or zero bias), so the ``width`` units are all off with probability
    ``2**-width``, independently of the other layers. The net survives ``depth`` layers
    with probability ``(1 - 2**-width)**depth``. Over a set of inputs a net is dead only
    if one layer is off for all of them, so this is an upper bound there, and the limit
    1 as depth grows is Lu et al.'s theorem.
    """
    return 1.0 - (1.0 - 2.0**-width) ** depth


# --------------------------------------------------------------------------- summaries


def geomean(values: Iterable[float]) -> float:
    """Geometric mean of positive numbers (zeros floored at :data:`FLOOR`)."""
    vs = [math.log(max(float(v), FLOOR)) for v in values]
    return math.exp(sum(vs) / len(vs)) if vs else math.nan


def fmt_ratio(x: float) -> str:
    """A gradient ratio for a sentence: 0.423, 3.1, 2.5e-07, <1e-30."""
    if not math.isfinite(x):
        return str(x)
    if x < TINY:
        return f"<{TINY:.0e}"
    if x < 0.01 or x >= 1000:
        return f"{x:.1e}"
    return f"{x:.3g}"


def grad_summary(nets: list[dict[str, Any]]) -> dict[tuple[str, str, int], dict[str, float]]:
    """Per (activation, init, depth): the geometric means over seeds of

    * ``ratio``: first hidden layer's weight-gradient norm / last hidden layer's;
    * ``scale``: first hidden layer's norm / the same at the shallowest depth measured
      (same activation and init): how much of the gradient reaches the first layer;
    * ``first``: the first layer's norm itself.
    """
    by: dict[tuple[str, str, int], list[list[float]]] = {}
    for n in nets:
        by.setdefault((n["activation"], n["init"], int(n["depth"])), []).append(n["grads"])
    shallowest: dict[tuple[str, str], int] = {}
    for a, i, d in by:
        shallowest[(a, i)] = min(d, shallowest.get((a, i), d))
    out = {}
    for (a, i, d), gs in by.items():
        first = geomean(g[0] for g in gs)
        base = geomean(g[0] for g in by[(a, i, shallowest[(a, i)])])
        out[(a, i, d)] = {
            "ratio": geomean(max(g[0], FLOOR) / max(g[-2], FLOOR) for g in gs),
            "scale": first / base if base > 0 else math.nan,
            "first": first,
        }
    return out


def out_of_band(ratio: float, scale: float) -> str | None:
    """ "vanishing", "exploding", or None when both numbers are within [1/BAND, BAND]."""
    if ratio < 1 / BAND or scale < 1 / BAND:
        return "vanishing"
    if ratio > BAND or scale > BAND:
        return "exploding"
    return None


def band_margin(ratio: float, scale: float) -> float:
    """How far (as a factor >= 1) the nearer of the two numbers is from the band's edge."""
    logs = [abs(abs(math.log10(max(v, FLOOR))) - math.log10(BAND)) for v in (ratio, scale)]
    return 10 ** min(logs)


def first_failure(
    summary: dict[tuple[str, str, int], dict[str, float]], act: str, init: str
) -> tuple[int, str, dict[str, float]] | None:
    """The shallowest depth at which (act, init) leaves the band, what happens, the numbers."""
    for d in sorted(d for a, i, d in summary if a == act and i == init):
        s = summary[(act, init, d)]
        kind = out_of_band(s["ratio"], s["scale"])
        if kind:
            return d, kind, s
    return None


def train_accuracy(rows: list[dict[str, Any]]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Per (activation, init, depth): the best learning rate's mean test accuracy over seeds.

    Also the per-seed accuracies at that rate, and the mean first/last hidden-layer
    gradient ratio in the last epoch (from the trainer's per-epoch mean gradient norms).
    """
    cells: dict[tuple[str, str, int, float], list[dict[str, Any]]] = {}
    for r in rows:
        cells.setdefault((r["activation"], r["init"], int(r["depth"]), float(r["lr"])), []).append(
            r
        )
    best: dict[tuple[str, str, int], dict[str, Any]] = {}
    for (a, i, d, lr), rs in cells.items():
        accs = [float(r["test_acc"]) for r in rs]
        mean = sum(accs) / len(accs)
        if (a, i, d) not in best or mean > best[(a, i, d)]["acc"]:
            ratios = [max(r["grad_first"], FLOOR) / max(r["grad_last"], FLOOR) for r in rs]
            best[(a, i, d)] = {
                "acc": mean,
                "lr": lr,
                "accs": accs,
                "trained_ratio": geomean(ratios),
            }
    return best


def train_threshold(best: dict[tuple[str, str, int], dict[str, Any]]) -> tuple[float, float]:
    """(accuracy a depth must reach to count as trained, the shallow reference it derives from)."""
    shallow = min(d for _, _, d in best)
    ref = max(v["acc"] for (_, _, d), v in best.items() if d == shallow)
    return CHANCE + TRAIN_FRACTION * (ref - CHANCE), ref


def trainable_depth(
    best: dict[tuple[str, str, int], dict[str, Any]], act: str, init: str, threshold: float
) -> int:
    """The deepest depth up to which every depth of (act, init) trains (0: none does)."""
    deepest = 0
    for d in sorted(d for a, i, d in best if a == act and i == init):
        if best[(act, init, d)]["acc"] < threshold:
            break
        deepest = d
    return deepest


def transitions(dead_history: list[list[list[int]]]) -> tuple[list[int], list[int]]:
    """Per hidden layer: (deaths, revivals) along one run's epochs.

    A death is a unit dead at the end of an epoch that was alive at the end of the one
    before (units dead after the first epoch count as deaths: they were alive or not
    at initialisation, which is not recorded); a revival is the reverse.
    """
    if not dead_history:
        return [], []
    n_layers = len(dead_history[0])
    deaths = [len(dead_history[0][k]) for k in range(n_layers)]
    revivals = [0] * n_layers
    for prev, cur in itertools.pairwise(dead_history):
        for k in range(n_layers):
            p, c = set(prev[k]), set(cur[k])
            deaths[k] += len(c - p)
            revivals[k] += len(p - c)
    return deaths, revivals


def diverged(row: dict[str, Any]) -> bool:
    """The run blew up (non-finite or huge training loss)."""
    loss = float(row["train_loss"])
    return not math.isfinite(loss) or loss > DIVERGED_LOSS


def finite_or(x: float, default: float) -> float:
    """``x``, or ``default`` where ``x`` is NaN or infinite (every run of a cell blew up)."""
    return x if math.isfinite(x) else default


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def depth_axis(ax: Any, ticks: Sequence[float], label: str = "hidden layers") -> None:
    """A log x axis labelled at ``ticks`` only (matplotlib's minor labels overlap)."""
    from matplotlib.ticker import NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(list(ticks), [f"{t:g}" for t in ticks])
    ax.set_xlabel(label)
