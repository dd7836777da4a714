"""The training-dynamics experiments (C4, C7, C8, C14, C16): verdicts follow the numbers.

Each analysis is fed synthetic data with a known pattern and its opposite; the
end-to-end smoke runs share one store (the claims share trials there too).
"""

from __future__ import annotations

import math
import random

import pytest

from actlab.lab import experiments as ex
from actlab.lab import report


def _jitter(seed: int, tag: str, scale: float = 0.004) -> float:
    """Small seed-to-seed noise, so paired differences have a spread; mean 0 over 6 seeds."""
    rng = random.Random(tag)
    half = [rng.uniform(-scale, scale) for _ in range(3)]
    vals = half + [-v for v in half]
    rng.shuffle(vals)
    return vals[seed % 6]


SEEDS = range(6)


# -- C4: sparsity --------------------------------------------------------------------------
def _c4_data(relu_sparsity: float, relu_gap: float, relu_drop: float) -> dict:
    """ReLU's accuracy gap and noise drop against the others' 0.10 and 0.08."""
    from actlab.lab.experiments.c4_sparsity import NON_SPARSE, SPARSE

    recs = []
    for a in [SPARSE, *NON_SPARSE]:
        for s in SEEDS:
            gap = relu_gap if a == SPARSE else 0.10
            drop = relu_drop if a == SPARSE else 0.08
            test = 0.6 + _jitter(s, "test")
            recs.append({
                "activation": a, "seed": s,
                "sparsity": relu_sparsity if a == SPARSE else 0.0,
                "sparsity_epoch1": relu_sparsity if a == SPARSE else 0.0,
                "train_acc": test + gap + _jitter(s, a + "gap"),
                "test_acc": test,
                "train_loss": 1.0, "test_loss": 1.0 + 3 * gap + _jitter(s, a + "loss"),
                "noise": {"0.5": test - drop + _jitter(s, a + "noise")},
            })  # fmt: skip
    init = {a: [0.5 if a == SPARSE else 0.0] * len(SEEDS) for a in [SPARSE, *NON_SPARSE]}
    return {"records": recs, "init_sparsity": init, "noise_levels": ["0.5"],
            "n_seeds": len(SEEDS)}  # fmt: skip


@pytest.mark.parametrize(
    "sparsity, gap, drop, verdict, quoted",
    [
        (0.6, 0.04, 0.03, "supported", "-6.0 points vs leaky_relu"),  # less overfit, more robust
        (0.6, 0.16, 0.14, "refuted", "+6.0 points vs elu"),  # sparse but worse everywhere
        (0.6, 0.10, 0.08, "refuted", "none of the 15"),  # sparse, no difference at all
        (0.1, 0.04, 0.03, "refuted", "less than the 25%"),  # not sparse
        (0.6, 0.04, 0.14, "depends", "+6.0 points vs tanh"),  # less overfit, less robust
    ],
)
def test_c4_verdict_follows_numbers(sparsity, gap, drop, verdict, quoted) -> None:
    out = ex.get("C4").analyse(_c4_data(sparsity, gap, drop))
    assert out.verdict.verdict == verdict, out.verdict.reason
    assert f"{100 * sparsity:.0f}%" in out.verdict.reason
    assert quoted in out.verdict.reason, out.verdict.reason
    if verdict == "depends":
        assert out.verdict.on and "better on" in out.verdict.boundary


def test_c4_two_noise_levels() -> None:
    """The full profile scores noise at two levels: each is a measure of its own."""
    data = _c4_data(0.6, 0.04, 0.03)
    for r in data["records"]:
        r["noise"]["1"] = r["noise"]["0.5"] - (0.02 if r["activation"] == "relu" else 0.10)
    data["noise_levels"] = ["0.5", "1"]
    out = ex.get("C4").analyse(data)
    assert set(out.evidence["measure_outcomes"]) == {"acc_gap", "loss_gap", "noise_drop@0.5",
                                                     "noise_drop@1"}  # fmt: skip
    assert out.verdict.verdict == "supported" and "(SD 1)" in out.verdict.reason


def test_c4_anchor_and_tables() -> None:
    out = ex.get("C4").analyse(_c4_data(0.6, 0.04, 0.03))
    assert out.anchors[0].published == 50.0 and out.anchors[0].ours == pytest.approx(50.0)
    assert len(out.tables[1].rows) == 3 * 5  # 3 measures x 5 non-sparse activations


# -- C7: zero-centred outputs ---------------------------------------------------------------
def _c7_data(loss: dict[str, float], loop_loss: dict[str, float], same_sigmoid: float) -> dict:
    from actlab.lab.experiments.c7_zero_centred import CENTRED_SIGMOID, LOOP_ACTS, SWEEP_ACTS

    recs = []
    for a in SWEEP_ACTS:
        for lr in (0.3, 1.0):
            for s in SEEDS:
                v = loss[a] + (0.2 if lr == 0.3 else 0.0) + _jitter(s, a, 0.01)
                recs.append({"activation": a, "lr": lr, "seed": s, "curve": [2.3, v],
                             "train_loss": v, "test_acc": 0.5})  # fmt: skip
    loop = {}
    for a in LOOP_ACTS:
        noncentred = a in ("sigmoid", "relu")
        same = (same_sigmoid if a == "sigmoid" else 1.0) if noncentred else 0.0
        loop[a] = {
            "same_b1": [same] * len(SEEDS),
            "same_b100": [0.4 if noncentred else 0.0] * len(SEEDS),
            "curve": [[2.3, loop_loss.get(a, 1.5) + _jitter(s, a, 0.01)] for s in SEEDS],
            "init_mean": [[0.5 if a == "sigmoid" else 0.0, 0.0]] * len(SEEDS),
        }
    assert CENTRED_SIGMOID in loop
    return {"records": recs, "loop": {"loop": loop, "hidden": 8, "steps": 2,
                                      "seeds": list(SEEDS)}, "epochs": 2}  # fmt: skip


def test_c7_verdict_follows_numbers() -> None:
    from actlab.lab.experiments.c7_zero_centred import CENTRED_SIGMOID

    exp = ex.get("C7")
    fast = {"sigmoid": 1.6, "tanh": 1.2, "relu": 1.3, "elu": 1.1}
    loop_fast = {"sigmoid": 1.6, CENTRED_SIGMOID: 1.4}
    out = exp.analyse(_c7_data(fast, loop_fast, 1.0))
    assert out.verdict.verdict == "supported", out.verdict.reason
    assert "100%" in out.verdict.reason and "-0.400" in out.verdict.reason
    assert out.evidence["best_lr"]["tanh"] == 1.0

    slow = {"sigmoid": 1.2, "tanh": 1.6, "relu": 1.1, "elu": 1.3}
    out = exp.analyse(_c7_data(slow, {"sigmoid": 1.4, CENTRED_SIGMOID: 1.6}, 1.0))
    assert out.verdict.verdict == "refuted", out.verdict.reason
    assert "+0.400" in out.verdict.reason

    mixed = {"sigmoid": 1.6, "tanh": 1.2, "relu": 1.1, "elu": 1.3}  # ReLU beats ELU
    out = exp.analyse(_c7_data(mixed, loop_fast, 1.0))
    assert out.verdict.verdict == "depends", out.verdict.reason
    assert "ELU vs ReLU" in out.verdict.boundary and "+0.200" in out.verdict.reason

    # the same-sign pattern absent: the mechanism fails whatever the speeds
    out = exp.analyse(_c7_data(fast, loop_fast, 0.3))
    assert out.verdict.verdict == "refuted" and "30%" in out.verdict.reason


# -- C8: input shifts -----------------------------------------------------------------------
def _c8_data(relu_drop: dict, tanh_drop: dict, bn_drop: dict) -> dict:
    """Accuracy lost per condition ((mean, scale) -> drop) for ReLU, tanh, ReLU + BN."""
    recs = []
    conds = [(0.0, 1.0), (5.0, 1.0), (0.0, 5.0)]
    for (act, norm), drops in (
        (("relu", None), relu_drop),
        (("tanh", None), tanh_drop),
        (("relu", "batch"), bn_drop),
    ):
        for c in conds:
            for s in SEEDS:
                d = drops.get(c, 0.0)
                recs.append({
                    "activation": act, "norm": norm, "shift_mean": c[0], "shift_scale": c[1],
                    "seed": s, "test_acc": 0.6 - d + _jitter(s, f"{act}{norm}{c}"),
                    "train_acc": 0.7, "dead": 0.05 + (d if act == "relu" and not norm else 0),
                    "dead_epoch1": 0.05,
                })  # fmt: skip
    return {"records": recs, "n_seeds": len(SEEDS)}


def test_c8_verdict_follows_numbers() -> None:
    exp = ex.get("C8")
    m, sc = (5.0, 1.0), (0.0, 5.0)
    out = exp.analyse(_c8_data({m: 0.2, sc: 0.1}, {m: 0.01, sc: 0.01}, {}))
    assert out.verdict.verdict == "supported", out.verdict.reason
    assert "-20.0 points" in out.verdict.reason and "25%" in out.verdict.reason

    out = exp.analyse(_c8_data({m: 0.2, sc: 0.1}, {m: 0.2, sc: 0.1}, {}))
    assert out.verdict.verdict == "refuted", out.verdict.reason
    assert "no more than tanh" in out.verdict.reason

    out = exp.analyse(_c8_data({m: 0.2}, {m: 0.01}, {}))  # the mean only
    assert out.verdict.verdict == "depends", out.verdict.reason
    assert "mean or the scale" in out.verdict.on and "mean +5" in out.verdict.boundary

    out = exp.analyse(_c8_data({m: 0.2, sc: 0.1}, {}, {m: 0.1}))  # BN does not remove it
    assert out.verdict.verdict == "depends" and "batch norm" in out.verdict.on
    assert "10.0 points at mean +5" in out.verdict.boundary


# -- C14: bounded activations ---------------------------------------------------------------
def _c14_data(fail_at: dict[str, float], nan: bool) -> dict:
    """Runs fail from ``fail_at[act]`` on (non-finite losses for unbounded ones if ``nan``)."""
    from actlab.lab.experiments.c14_bounded import BOUNDED, UNBOUNDED

    recs = []
    for a in BOUNDED + UNBOUNDED:
        for lr in (0.3, 1.0, 3.0, 10.0):
            for s in SEEDS[:4]:
                bad = lr >= fail_at[a]
                blow = bad and nan and a in UNBOUNDED
                loss = math.nan if blow else (3.0 if bad else 1.2)
                recs.append({"activation": a, "lr": lr, "seed": s, "curve": [2.3, loss],
                             "train_loss": loss, "test_acc": 0.1 if bad else 0.5,
                             "blowup": blow})  # fmt: skip
    return {"records": recs, "n_classes": 10, "lrs": [0.3, 1.0, 3.0, 10.0]}


def test_c14_verdict_follows_numbers() -> None:
    from actlab.lab.experiments.c14_bounded import BOUNDED, UNBOUNDED

    exp = ex.get("C14")
    fail = dict.fromkeys(BOUNDED, 99.0) | dict.fromkeys(UNBOUNDED, 3.0)
    out = exp.analyse(_c14_data(fail, nan=True))
    assert out.verdict.verdict == "supported", out.verdict.reason
    assert "relu 1" in out.verdict.reason and "relu6 10" in out.verdict.reason

    same = dict.fromkeys(BOUNDED + UNBOUNDED, 3.0)
    out = exp.analyse(_c14_data(same, nan=False))
    assert out.verdict.verdict == "refuted", out.verdict.reason
    assert "0% of bounded and 0% of unbounded" in out.verdict.reason

    out = exp.analyse(_c14_data(same, nan=True))  # only the NaNs differ
    assert out.verdict.verdict == "depends", out.verdict.reason
    assert "finite" in out.verdict.on and "50% of unbounded" in out.verdict.boundary

    reverse = dict.fromkeys(BOUNDED, 1.0) | dict.fromkeys(UNBOUNDED, 99.0)
    assert exp.analyse(_c14_data(reverse, nan=False)).verdict.verdict == "refuted"


# -- C16: output layer ----------------------------------------------------------------------
def _c16_data(relu_out: dict[str, float], relu_hidden: float = 0.6) -> dict:
    """ReLU-output accuracy per data set; linear outputs 0.6; sigmoid hidden 0.5."""
    recs = []
    for d, r_out in relu_out.items():
        for h in ("relu", "sigmoid"):
            for o in (None, "relu", "sigmoid", "tanh"):
                for s in SEEDS:
                    base = relu_hidden if h == "relu" else 0.5
                    acc = r_out if o == "relu" and h == "relu" else base
                    recs.append({"data": d, "activation": h, "output": o, "seed": s,
                                 "test_acc": acc + _jitter(s, f"{d}{h}{o}", 0.002),
                                 "train_acc": acc, "test_loss": 1.0})  # fmt: skip
    return {"records": recs, "n_seeds": len(SEEDS)}


def test_c16_verdict_follows_numbers() -> None:
    exp = ex.get("C16")
    out = exp.analyse(_c16_data({"mnist1d": 0.3, "breast_cancer": 0.5}))
    assert out.verdict.verdict == "supported", out.verdict.reason
    assert "-30.0 points" in out.verdict.reason and "+10.0 points" in out.verdict.reason

    out = exp.analyse(_c16_data({"mnist1d": 0.6, "breast_cancer": 0.6}))  # no worse
    assert out.verdict.verdict == "refuted", out.verdict.reason
    assert "within 1 point" in out.verdict.reason

    out = exp.analyse(_c16_data({"mnist1d": 0.3}, relu_hidden=0.4))  # ReLU hidden worse
    assert out.verdict.verdict == "refuted" and "worse than sigmoid" in out.verdict.reason

    out = exp.analyse(_c16_data({"mnist1d": 0.3, "breast_cancer": 0.6}))
    assert out.verdict.verdict == "depends", out.verdict.reason
    assert out.verdict.boundary == "holds on mnist1d; not on breast_cancer"


# -- end to end: the smoke profile, one store shared by the five claims ---------------------
@pytest.fixture(scope="module")
def smoke_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("dynamics")


@pytest.mark.parametrize("cid", ["C4", "C7", "C8", "C14", "C16"])
def test_smoke_end_to_end(cid, smoke_dir) -> None:
    r = report.run_claim(ex.get(cid), ex.Context(smoke_dir / "r.db", "smoke", workers=1),
                         smoke_dir)  # fmt: skip
    assert r.outcome is not None, r.error
    assert (smoke_dir / "figures" / f"{cid}.svg").exists()
    assert r.outcome.verdict.provisional  # 2 seeds decide nothing for sure
    assert r.outcome.findings and r.outcome.tables
