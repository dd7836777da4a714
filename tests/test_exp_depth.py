"""C2, C3, C5, C6 (depth and dying): verdicts follow synthetic numbers; smoke runs end to end."""

from __future__ import annotations

import math

import pytest

from actlab.lab import experiments as ex
from actlab.lab import report
from actlab.lab.experiments import _depth as D

DEPTHS = [2, 5, 10, 20]


# -- helpers that write synthetic measurements --------------------------------------------
def _net(act: str, init: str, depth: int, seed: int, first: float, last: float) -> dict:
    """A net whose first hidden layer's gradient is ``first`` and last hidden's ``last``."""
    return dict(activation=act, init=init, depth=depth, seed=seed,
                grads=[first, *([1.0] * (depth - 2)), last, 1.0])  # fmt: skip


def _grad(pattern: dict[tuple[str, str], str]) -> dict:
    """``pattern[(act, init)]``: "even" (ratio and scale 1) or "vanish" (both 10^-depth/2)."""
    nets = []
    for (a, i), kind in pattern.items():
        for d in DEPTHS:
            for s in range(3):
                v = 1.0 if kind == "even" or d == DEPTHS[0] else 10 ** (-d / 2)
                nets.append(_net(a, i, d, s, v, 1.0))
    return {"width": 32, "batch": 64, "nets": nets}


def _train(deepest: dict[tuple[str, str], int]) -> list[dict]:
    """Rows where (act, init) reaches 50% up to depth ``deepest[(act, init)]``, chance beyond."""
    rows = []
    for (a, i), top in deepest.items():
        for d in DEPTHS:
            for s in range(3):
                acc = 0.5 + 0.01 * s if d <= top else 0.1
                rows.append(dict(activation=a, init=i, depth=d, lr=0.1, seed=s, test_acc=acc,
                                 grad_first=1.0, grad_last=1.0))  # fmt: skip
    return rows


INITS = ("torch", "he")


# -- C2 ----------------------------------------------------------------------------------
def test_c2_supported_when_saturating_vanish_and_relu_trains_deeper() -> None:
    pat = {(a, i): "vanish" if a != "relu" else "even" for a in ("sigmoid", "tanh", "relu")
           for i in INITS}  # fmt: skip
    deep = {(a, i): 20 if a == "relu" else 2 for a in ("sigmoid", "tanh", "relu") for i in INITS}
    out = ex.get("C2").analyse({"grad": _grad(pat), "train": _train(deep)})
    assert out.verdict.verdict == "supported"
    assert "vanishes from depth 5" in out.verdict.reason
    assert D.fmt_ratio(10**-2.5) in out.verdict.reason  # the measured ratio is quoted
    assert "ReLU 20" in out.verdict.reason


def test_c2_refuted_when_relu_vanishes_too_and_trains_no_deeper() -> None:
    pat = {(a, i): "vanish" for a in ("sigmoid", "tanh", "relu") for i in INITS}
    deep = {(a, i): 5 for a in ("sigmoid", "tanh", "relu") for i in INITS}
    out = ex.get("C2").analyse({"grad": _grad(pat), "train": _train(deep)})
    assert out.verdict.verdict == "refuted"
    assert "ReLU vanishes from depth 5" in out.verdict.reason
    assert "ReLU 5" in out.verdict.reason


def test_c2_depends_on_init() -> None:
    pat = {(a, i): "vanish" for a in ("sigmoid", "tanh") for i in INITS}
    pat |= {("relu", "torch"): "vanish", ("relu", "he"): "even"}
    deep = {(a, i): 2 for a in ("sigmoid", "tanh") for i in INITS}
    deep |= {("relu", "torch"): 2, ("relu", "he"): 20}
    out = ex.get("C2").analyse({"grad": _grad(pat), "train": _train(deep)})
    v = out.verdict
    assert v.verdict == "depends" and "init" in v.on
    assert "holds for sigmoid/he, tanh/he" in v.boundary and "sigmoid/torch" in v.boundary
    assert out.evidence["trainable_depth"]["relu/he"] == 20


def test_c2_threshold_comes_from_the_shallow_nets() -> None:
    best = D.train_accuracy(_train({("relu", "he"): 20}))
    threshold, ref = D.train_threshold(best)
    assert ref == pytest.approx(0.51)
    assert threshold == pytest.approx(D.CHANCE + D.TRAIN_FRACTION * (0.51 - D.CHANCE))


# -- C3 ----------------------------------------------------------------------------------
def _relu(kinds: dict[str, str]) -> dict:
    pat = {("relu", i): k for i, k in kinds.items()}
    return {"grad": _grad(pat), "train": _train({("relu", i): 20 for i in kinds})}


@pytest.mark.parametrize(
    "kinds, verdict",
    [
        ({"torch": "even", "xavier": "even", "he": "even"}, "supported"),
        ({"torch": "vanish", "xavier": "vanish", "he": "vanish"}, "refuted"),
        ({"torch": "vanish", "xavier": "vanish", "he": "even"}, "depends"),
    ],
)
def test_c3_verdict_follows_numbers(kinds: dict[str, str], verdict: str) -> None:
    out = ex.get("C3").analyse(_relu(kinds))
    assert out.verdict.verdict == verdict
    if verdict == "supported":
        assert "up to depth 20" in out.verdict.reason
    else:
        assert "vanishing from depth 5" in out.verdict.reason
        assert D.fmt_ratio(10**-2.5) in out.verdict.reason
    if verdict == "depends":
        assert "he" in out.verdict.boundary and "torch" in out.verdict.boundary


def test_c3_sees_uniform_shrinking_that_the_ratio_misses() -> None:
    """Xavier-like: first/last ratio 1 at every depth, but the first layer's gradient shrinks."""
    nets = []
    for d in DEPTHS:
        for s in range(3):
            v = 10 ** (-(d - 2) / 2)
            nets.append(dict(activation="relu", init="xavier", depth=d, seed=s,
                             grads=[v] * (d + 1)))  # fmt: skip
    out = ex.get("C3").analyse({"grad": {"nets": nets}, "train": []})
    assert out.verdict.verdict == "refuted"
    assert any("ratio alone would pass" in f for f in out.findings)


# -- C5 ----------------------------------------------------------------------------------
LRS = [0.01, 0.1, 1.0]


def _dying_row(init: str, lr: float, seed: int, dead: float, history=None, **kw) -> dict:
    n = round(dead * 200)
    hist = history or [[list(range(n // 2)), list(range(n - n // 2))]] * 3
    return dict(activation=kw.get("activation", "relu"), init=init,
                optimizer=kw.get("optimizer", "momentum"), lr=lr, seed=seed, dead=dead,
                test_acc=kw.get("acc", 0.5), train_loss=kw.get("loss", 1.0),
                dead_history=hist)  # fmt: skip


def _born() -> dict:
    cells = [
        dict(init="he", width=w, depth=d, nets=1000, dead=0.9 * D.born_dead_formula(w, d),
             dead_point=D.born_dead_formula(w, d))
        for w in (2, 4) for d in (1, 2, 10, 50)
    ]  # fmt: skip
    return {"inputs": 64, "input_dim": 40, "cells": cells}


def test_transitions_count_deaths_and_revivals() -> None:
    hist = [[[1], []], [[1, 2], [0]], [[2], []]]
    deaths, revivals = D.transitions(hist)
    assert deaths == [2, 1]  # layer 1: unit 1 (first epoch), unit 2; layer 2: unit 0
    assert revivals == [1, 1]  # layer 1: unit 1; layer 2: unit 0


def test_c5_supported_when_units_die_everywhere_and_stay_dead() -> None:
    rows = [_dying_row(i, lr, s, 0.3) for i in ("torch", "he") for lr in LRS for s in range(3)]
    out = ex.get("C5").analyse({"dying": rows, "born": _born()})
    assert out.verdict.verdict == "supported"
    assert "30.0% dead from lr 0.01" in out.verdict.reason
    assert "no dead unit ever came back" in out.verdict.reason


def test_c5_refuted_when_nothing_dies() -> None:
    rows = [_dying_row(i, lr, s, 0.0) for i in ("torch", "he") for lr in LRS for s in range(3)]
    out = ex.get("C5").analyse({"dying": rows, "born": _born()})
    assert out.verdict.verdict == "refuted"
    assert "at most 0.0%" in out.verdict.reason


def test_c5_depends_on_lr_and_revivals_refute_never() -> None:
    revive = [[[0, 1, 2], []], [[0], []], [[0], []]]  # two layer-1 units come back
    rows = []
    for i in ("torch", "he"):
        for lr in LRS:
            for s in range(3):
                top = lr == 1.0 or (i == "he" and lr == 0.1)
                rows.append(_dying_row(i, lr, s, 0.25 + 0.01 * s if top else 0.01,
                                       history=revive if top else None))  # fmt: skip
    out = ex.get("C5").analyse({"dying": rows, "born": _born()})
    v = out.verdict
    assert v.verdict == "depends" and "init" in v.on
    assert "torch: from lr 1" in v.boundary and "he: from lr 0.1" in v.boundary
    assert "'never recover' is refuted" in v.reason
    assert out.anchors and out.anchors[0].published == 1.0


def test_born_dead_formula_matches_a_single_layer() -> None:
    assert D.born_dead_formula(1, 1) == 0.5
    assert D.born_dead_formula(2, 3) == pytest.approx(1 - 0.75**3)


# -- C6 ----------------------------------------------------------------------------------
SEEDS = range(5)


def _c6(remedy_dead: dict[str, float], remedy_acc: dict[str, float], relu_dead=0.3) -> dict:
    base = []
    for lr in LRS:
        for s in SEEDS:
            dying = lr == 1.0
            base.append(_dying_row("he", lr, s, relu_dead + 0.01 * s if dying else 0.0,
                                   acc=0.2 + 0.01 * s if dying else 0.5))  # fmt: skip
    rem = []
    for name, dead in remedy_dead.items():
        act, opt = ("relu", "adagrad") if name == "adagrad" else (name, "momentum")
        for lr in LRS:
            for s in SEEDS:
                rem.append(_dying_row("he", lr, s, dead + (0.01 * s if dead else 0.0),
                                      acc=remedy_acc[name] + 0.003 * s * s, activation=act,
                                      optimizer=opt))  # fmt: skip
    return {"init": "he", "baseline": base, "remedies": rem}


ALL = ("leaky_relu", "prelu", "elu", "adagrad")


def test_c6_supported_when_every_remedy_works() -> None:
    data = _c6(dict.fromkeys(ALL, 0.0), dict.fromkeys(ALL, 0.45))
    out = ex.get("C6").analyse(data)
    assert out.verdict.verdict == "supported"
    assert "dead 0.0% vs 32.0%" in out.verdict.reason
    assert out.evidence["dying_regime_lrs"] == [1.0]
    assert out.evidence["remedies"]["smaller lr"]["works"]  # lr 0.1: no deaths, 50%


def test_c6_depends_when_some_remedies_fail() -> None:
    data = _c6({"leaky_relu": 0.0, "prelu": 0.0, "elu": 0.0, "adagrad": 0.3},
               {"leaky_relu": 0.45, "prelu": 0.45, "elu": 0.05, "adagrad": 0.2})  # fmt: skip
    out = ex.get("C6").analyse(data)
    v = out.verdict
    assert v.verdict == "depends" and v.on == "which remedy"
    assert "adagrad" in v.boundary.split("does not:")[1]
    assert "elu" in v.boundary.split("does not:")[1]  # fewer dead, but accuracy lost
    assert "leaky_relu" in v.boundary.split("does not:")[0]


def test_c6_a_remedy_that_blows_up_fails() -> None:
    data = _c6(dict.fromkeys(ALL, 0.0), dict.fromkeys(ALL, 0.45))
    for r in data["remedies"]:
        if r["activation"] == "prelu" and r["lr"] == 1.0:
            r["train_loss"], r["test_acc"] = math.nan, 0.1
    out = ex.get("C6").analyse(data)
    assert out.verdict.verdict == "depends"
    assert "prelu" in out.verdict.boundary.split("does not:")[1]
    assert "blew up in 5 of 5 runs" in out.verdict.reason


def test_c6_refuted_when_no_remedy_reduces_deaths() -> None:
    data = _c6(dict.fromkeys(ALL, 0.3), dict.fromkeys(ALL, 0.2))
    # the smaller rate must fail too: make ReLU die at lr 0.1 as well (both rates in regime)
    for r in data["baseline"]:
        if r["lr"] == 0.1:
            r["dead"] = 0.35
    for r in data["baseline"]:
        if r["lr"] == 0.01:
            r["dead"] = 0.35
    out = ex.get("C6").analyse(data)
    assert out.verdict.verdict == "refuted"
    assert "no remedy" in out.verdict.reason


def test_c6_not_testable_when_relu_never_dies() -> None:
    data = _c6(dict.fromkeys(ALL, 0.0), dict.fromkeys(ALL, 0.45), relu_dead=0.02)
    out = ex.get("C6").analyse(data)
    assert out.verdict.verdict == "not testable here"
    assert "at most 4.0%" in out.verdict.reason  # 0.02 + 0.01 x seed, mean over seeds 0-4


# -- end to end (smoke) ------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("depth")


@pytest.mark.parametrize("cid", ["C2", "C3", "C5", "C6"])
def test_smoke_end_to_end(cid: str, store) -> None:
    r = report.run_claim(ex.get(cid), ex.Context(store / "r.db", "smoke", workers=1), store)
    assert r.outcome is not None, r.error
    assert (store / "figures" / f"{cid}.svg").exists()
    assert r.outcome.verdict.reason and all(isinstance(f, str) for f in r.outcome.findings)
    if cid == "C5":
        born = r.outcome.evidence["born_dead"]
        # at a single input the Monte Carlo and the closed form agree (200 nets: 4 SE ~ 0.14)
        assert all(abs(v["one_input"] - v["closed_form"]) < 0.15 for v in born.values())
        assert not math.isnan(sum(v["monte_carlo"] for v in born.values()))
