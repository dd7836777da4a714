"""C9-C13 (the comparison claims): each verdict follows the numbers, and each claim runs end to end.

The analyses are fed synthetic runs in the compact form of ``_compare.compact``; the
opposite pattern must give the opposite verdict, and the reason must quote the numbers.
"""

from __future__ import annotations

import math

import pytest

from actlab.lab import experiments as ex
from actlab.lab import report
from actlab.lab.experiments import _compare as cmp

SEEDS = range(5)
EPOCHS = 20


def _jitter(act: str, seed: int, scale: float) -> float:
    """A deterministic, activation- and seed-dependent wobble (so paired differences vary)."""
    return scale * (((seed * 7 + 3 * len(act) + ord(act[0])) % 5) - 2) / 2


def _run(act: str, lr: float, seed: int, *, acc: float = 0.6, tau: float = 4.0,
         sparsity: float = 0.0, dead: float = 0.0, grad_first: float = 0.5,
         noise: float = 0.002) -> dict:  # fmt: skip
    """One compact run: training error 0.9 e^(-t / tau), final test accuracy ``acc``."""
    t_scale = tau * (1 + _jitter(act, seed, 0.05))
    err = [0.9 * math.exp(-(t + 1) / t_scale) for t in range(EPOCHS)]
    a = acc + _jitter(act, seed, noise)
    return {
        "activation": act, "lr": lr, "seed": seed, "train_err": err,
        "train_loss": [e * 2 for e in err], "test_acc": [a * (1 - e) for e in err[:-1]] + [a],
        "dead": [dead] * EPOCHS, "sparsity": [sparsity] * EPOCHS,
        "grad_first": [grad_first] * EPOCHS, "grad_last": [1.0] * EPOCHS,
    }  # fmt: skip


def _runs(spec: dict[str, dict[str, dict]], lrs=(0.01,)) -> dict[str, list[dict]]:
    """``{data: {activation: kwargs}}`` -> compact runs for every lr and seed."""
    return {
        d: [_run(a, lr, s, **kw) for a, kw in acts.items() for lr in lrs for s in SEEDS]
        for d, acts in spec.items()
    }


# -- helpers --------------------------------------------------------------------------------
def test_epochs_to_interpolates_and_censors() -> None:
    assert cmp.epochs_to([0.8, 0.4, 0.2], 0.3) == pytest.approx(2.5)
    assert cmp.epochs_to([0.2, 0.1], 0.3) == 1.0  # the first epoch is the floor
    assert cmp.epochs_to([0.8, 0.7], 0.3) is None
    assert cmp.strictest_threshold([[0.8, 0.31], [0.5, 0.12]]) == 0.35
    assert cmp.strictest_threshold([[0.95, 0.93]]) is None


# -- C9 -------------------------------------------------------------------------------------
def _c9(relu_tau: float, tanh_tau: float, sigmoid_tau: float, digits: tuple | None = None):
    spec = {"mnist1d": {"relu": {"tau": relu_tau}, "tanh": {"tau": tanh_tau},
                        "sigmoid": {"tau": sigmoid_tau}}}  # fmt: skip
    if digits:
        spec["digits"] = {a: {"tau": t} for a, t in zip(("relu", "tanh", "sigmoid"), digits)}
    return {"runs": _runs(spec), "momentum": {}}


def test_c9_relu_faster_is_supported_and_slower_refuted() -> None:
    exp = ex.get("C9")
    out = exp.analyse(_c9(2.0, 6.0, 8.0))
    assert out.verdict.verdict == "supported"
    cell = out.evidence["cells"][0]
    assert f"{cell['ratio']:.2f}x" in out.verdict.reason and cell["ratio"] > 2.5
    assert out.anchors and out.anchors[0].published == 6.0
    out = exp.analyse(_c9(8.0, 2.0, 2.5))
    assert out.verdict.verdict == "refuted"
    assert all(c["status"] == "slower" for c in out.evidence["cells"])
    assert "x [" in out.verdict.reason


def test_c9_depends_on_the_data_set() -> None:
    out = ex.get("C9").analyse(_c9(2.0, 6.0, 8.0, digits=(8.0, 2.0, 2.5)))
    v = out.verdict
    assert v.verdict == "depends" and v.on == "the data set"
    assert "not faster" in v.boundary and "digits" in v.boundary


# -- C10 ------------------------------------------------------------------------------------
def _depth(softplus_ratio: float) -> dict:
    def per(r16: float) -> dict:
        return {"2": [0.4 + 0.01 * s for s in SEEDS], "16": [r16 * (1 + 0.02 * s) for s in SEEDS]}

    return {"he": {"relu": per(0.15), "softplus": per(softplus_ratio), "sigmoid": per(1e-7)}}


def _c10(softplus_acc: float, softplus_ratio: float = 1e-4) -> dict:
    spec = {"mnist1d": {"relu": {"acc": 0.62}, "softplus": {"acc": softplus_acc,
                                                            "grad_first": 0.1}}}  # fmt: skip
    return {"runs": _runs(spec, lrs=(0.001, 0.01)), "depth": _depth(softplus_ratio)}


def test_c10_softplus_not_better_is_supported_and_better_refuted() -> None:
    exp = ex.get("C10")
    out = exp.analyse(_c10(0.58))
    assert out.verdict.verdict == "supported" and not out.verdict.provisional
    assert "-4.00 points" in out.verdict.reason
    assert any("vanishes relative to ReLU" in f for f in out.findings)
    out = exp.analyse(_c10(0.66, softplus_ratio=0.15))
    assert out.verdict.verdict == "refuted"
    assert "+4.00 points" in out.verdict.reason and "mnist1d at lr 0.01" in out.verdict.reason
    assert any("does not vanish relative to ReLU" in f for f in out.findings)


# -- C11 ------------------------------------------------------------------------------------
SLOPES = {"relu": 0.0, "leaky_relu": 0.01, "prelu": 0.25, "rrelu": 0.229}


def _c11(member_acc: dict[str, float], slopes=SLOPES) -> dict:
    acts = {"relu": {"acc": 0.62, "sparsity": 0.5, "dead": 0.05}}
    acts |= {m: {"acc": a} for m, a in member_acc.items()}
    return {"runs": _runs({"mnist1d": acts, "digits": acts}), "min_negative_slope": slopes}


def test_c11_one_improvement_supports_none_refutes() -> None:
    exp = ex.get("C11")
    out = exp.analyse(_c11({"leaky_relu": 0.62, "prelu": 0.65, "rrelu": 0.62}))
    assert out.verdict.verdict == "supported"
    assert "prelu - relu" in out.verdict.reason and "+3.00 points" in out.verdict.reason
    assert "50.0%" in out.verdict.reason
    out = exp.analyse(_c11({"leaky_relu": 0.62, "prelu": 0.62, "rrelu": 0.62}))
    assert out.verdict.verdict == "refuted" and not out.verdict.provisional
    assert "largest accuracy gain" in out.verdict.reason


def test_c11_a_significant_gain_below_the_margin_does_not_support() -> None:
    """+0.5 points with little seed noise: significant, but under the 1-point margin."""
    quiet = {"noise": 0.0002}
    acts = {"relu": {"acc": 0.62, "sparsity": 0.5, "dead": 0.05, **quiet}}
    acts |= {
        m: {"acc": 0.625 if m == "leaky_relu" else 0.62, **quiet} for m in SLOPES if m != "relu"
    }
    data = {"runs": _runs({"mnist1d": acts, "digits": acts}), "min_negative_slope": SLOPES}
    out = ex.get("C11").analyse(data)
    assert out.verdict.verdict == "refuted"
    assert "significant but smaller" in out.verdict.reason and "+0.50 points" in out.verdict.reason


def test_c11_zero_slope_refutes_the_gradient_part() -> None:
    out = ex.get("C11").analyse(
        _c11({"leaky_relu": 0.65, "prelu": 0.65, "rrelu": 0.65}, SLOPES | {"leaky_relu": 0.0})
    )
    assert out.verdict.verdict == "refuted" and "leaky_relu 0" in out.verdict.reason


# -- C12 ------------------------------------------------------------------------------------
def _c12(mnist: float, digits: float) -> dict:
    def acts(gain: float, base: float) -> dict:
        return {"relu": {"acc": base}, "silu": {"acc": base + gain}, "mish": {"acc": base + gain}}

    return {"runs": _runs({"mnist1d": acts(mnist, 0.62), "digits": acts(digits, 0.95)})}


def test_c12_verdicts_follow_the_differences() -> None:
    exp = ex.get("C12")
    out = exp.analyse(_c12(0.03, 0.02))
    assert out.verdict.verdict == "supported" and "+3.00 points" in out.verdict.reason
    assert {a.published for a in out.anchors} >= {68.0}
    out = exp.analyse(_c12(-0.03, -0.02))
    assert out.verdict.verdict == "refuted" and "-2.00 points" in out.verdict.reason
    out = exp.analyse(_c12(0.03, 0.0))
    v = out.verdict
    assert v.verdict == "depends" and v.on == "the data set"
    assert "digits" in v.boundary and "+3.00" in v.reason


# -- C13 ------------------------------------------------------------------------------------
CURVES = {"x": [-1.0, 0.0, 1.0], "mish": {"f": [-0.3, 0.0, 0.87], "df": [0.06, 0.6, 1.05]},
          "silu": {"f": [-0.27, 0.0, 0.73], "df": [0.07, 0.5, 0.93]}}  # fmt: skip


def _c13(gap: float, noise: float = 0.002) -> dict:
    acts = {"silu": {"acc": 0.65, "noise": noise}, "mish": {"acc": 0.65 + gap, "noise": noise}}
    return {"runs": _runs({"mnist1d": acts, "digits": acts}), "curves": CURVES, "margin": 0.01}


def test_c13_equivalence_supports_and_a_gap_refutes() -> None:
    exp = ex.get("C13")
    out = exp.analyse(_c13(0.001))
    assert out.verdict.verdict == "supported" and not out.verdict.provisional
    assert "+0.10 points" in out.verdict.reason
    assert any("at most 0.140" in f for f in out.findings)
    out = exp.analyse(_c13(0.03))
    assert out.verdict.verdict == "refuted" and "+3.00 points" in out.verdict.reason
    out = exp.analyse(_c13(0.004, noise=0.03))  # wide intervals: not resolved
    assert out.verdict.provisional and "Not resolved" in out.verdict.reason


# -- end to end (smoke profile; one store, so the comparison sweep trains once) -----------
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("compare") / "r.db"


@pytest.mark.parametrize("cid", ["C9", "C10", "C11", "C12", "C13"])
def test_claim_runs_end_to_end(cid, store, tmp_path) -> None:
    r = report.run_claim(ex.get(cid), ex.Context(store, "smoke", workers=1), tmp_path)
    assert r.outcome is not None, r.error
    assert (tmp_path / "figures" / f"{cid}.svg").exists()
    assert r.outcome.verdict.reason and r.outcome.findings


@pytest.mark.parametrize("profile", ["smoke", "quick", "full"])
def test_setup_describes_every_profile(profile) -> None:
    for cid in ("C9", "C10", "C11", "C12", "C13"):
        setup = ex.get(cid).setup(profile)
        assert setup and all(isinstance(v, str) and v for v in setup.values())
