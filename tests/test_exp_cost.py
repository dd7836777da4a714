"""C1 (cost), C15 (ReLU's kink) and C18 (criteria): verdicts follow the numbers; smoke runs."""

from __future__ import annotations

import pytest

from actlab.lab import experiments as ex
from actlab.lab import report
from actlab.lab.experiments import _cost as cost
from actlab.lab.experiments import c1_cost, c18_criteria

ROUNDS = 7


# -- C1: synthetic timings -----------------------------------------------------------------
def _series(c: float) -> list[float]:
    """``c`` seconds with a little round-to-round jitter (+-1%)."""
    return [c * (1 + 0.01 * ((r % 3) - 1)) for r in range(ROUNDS)]


def _run(n: int, fwd: dict[str, float], kernels: dict[str, float], fb: float = 3.0) -> dict:
    """A native run where ReLU and a copy cost 1, ``fwd`` sets functions' forward costs,
    ``kernels`` the bare kernels'; forward+backward is ``fb`` times the forward."""
    t: dict[str, list[float]] = {
        "copy/alloc@1": _series(1.0),
        "copy/out@1": _series(0.8),
        "tiny/alloc@1": _series(0.1),
    }
    for f in cost.FUNCTIONS:
        c = fwd.get(f, 1.0)
        t[f"{f}/torch/fwd@1"] = _series(c)
        t[f"{f}/torch/out@1"] = _series(0.8 * c)
        t[f"{f}/torch/fb@1"] = _series(fb * c)
    for k in cost.KERNELS:
        c = kernels.get(k, 1.0)
        t[f"{k}/kernel/fwd@1"] = _series(c)
        t[f"{k}/kernel/out@1"] = _series(0.8 * c)
        t[f"{k}/kernel/fb@1"] = _series(fb * c)
    return {"n": n, "threads": [1], "rounds": ROUNDS, "times": t, "machine": {"cpu": "test"}}


DEAR = {"sigmoid": 3.0, "tanh": 3.0, "silu": 3.0, "mish": 6.0, "elu": 3.0}
DEAR_KERNELS = {"exp": 2.5, "expm1": 2.5, "log1p": 2.5, "tanh": 3.0}
FLAT: dict[str, float] = {}  # everything costs what ReLU costs


def _cost_data(*runs: dict) -> dict:
    return {"native": list(runs), "actlab": [], "caches": {"L2": 1 << 19, "L3": 1 << 25}}


def test_c1_supported_when_exp_makes_them_dear() -> None:
    data = _cost_data(_run(1 << 14, DEAR, DEAR_KERNELS), _run(1 << 22, DEAR, DEAR_KERNELS))
    out = ex.get("C1").analyse(data)
    assert out.verdict.verdict == "supported", out.verdict.reason
    assert "tanh costs 3.0x ReLU" in out.verdict.reason
    assert "bare exp costs 2.5x" in out.verdict.reason
    assert out.tables and len(out.tables) == 2


def test_c1_refuted_when_everything_costs_a_copy() -> None:
    data = _cost_data(_run(1 << 14, FLAT, FLAT), _run(1 << 22, FLAT, FLAT))
    out = ex.get("C1").analyse(data)
    assert out.verdict.verdict == "refuted", out.verdict.reason
    assert "1.0x" in out.verdict.reason


def test_c1_depends_on_size() -> None:
    data = _cost_data(_run(1 << 14, DEAR, DEAR_KERNELS), _run(1 << 22, FLAT, FLAT))
    out = ex.get("C1").analyse(data)
    v = out.verdict
    assert v.verdict == "depends", v.reason
    assert "array size" in v.on
    assert "16K" in v.boundary and "4M" in v.boundary and "in every pass" in v.boundary
    assert "in no pass" in v.boundary


def test_c1_a_dear_fused_op_is_the_implementation_not_exp() -> None:
    # exp and its relatives cost what ReLU costs; Mish alone costs 13 times as much
    data = _cost_data(_run(1 << 20, {"mish": 13.0, "tanh": 1.0}, FLAT))
    (cell,) = [c for c in c1_cost.cells(data) if c["mode"] == "fwd"]
    assert c1_cost.classify_exp(cell, "mish") == "implementation"
    assert c1_cost.classify_exp(cell, "silu") == "cheap"
    out = ex.get("C1").analyse(data)
    assert any("mish forward at 1M: 13x ReLU" in f for f in out.findings), out.findings
    # (a) fails (sigmoid and tanh cost what ReLU costs) and (b) fails (not exp): refuted
    assert out.verdict.verdict == "refuted"
    assert "mish costs 13x" in out.verdict.reason and "bare exp costs 1.0x" in out.verdict.reason


def test_c1_anchor_at_one_million() -> None:
    out = ex.get("C1").analyse(_cost_data(_run(1 << 20, {"mish": 5.0}, FLAT)))
    mish = [a for a in out.anchors if a.what.startswith("mish")]
    assert mish and mish[0].published == 13.0 and mish[0].ours == pytest.approx(5.0, rel=0.05)


def test_best_of_threads_takes_the_faster_setting_per_round() -> None:
    run = {"times": {"a@2": [5.0, 1.0], "a@1": [2.0, 2.0], "b@2": [1.0, 1.0]}}
    assert cost.best_of_threads(run) == {"a": [2.0, 1.0], "b": [1.0, 1.0]}
    # the fastest rounds: a's 1.0 over b's 1.0; the bracket pairs with the second fastest
    assert cost.ratio(run, "a", "b") == pytest.approx((1.0, 1.0, 2.0))


def test_interleaved_times_every_variant_and_thread_count() -> None:
    import torch

    t = torch.get_num_threads()
    times, inner = cost.interleaved({"x": lambda: sum(range(100))}, 3, [t])
    assert list(times) == [f"x@{t}"] and len(times[f"x@{t}"]) == 3 and inner[f"x@{t}"] >= 1
    assert torch.get_num_threads() == t


# -- C15: synthetic counts and accuracies ---------------------------------------------------
RELU = {0: 0.600, 1: 0.610, 2: 0.620, 3: 0.605, 4: 0.615}


def _kink_data(zeros_bf16: int, gain: float) -> dict:
    counts = []
    for prec in ("float32", "bfloat16-autocast", "bfloat16"):
        z = zeros_bf16 if prec != "float32" else 0
        counts.append(
            {"precision": prec, "seed": 0, "zeros": z, "near": 70_000, "total": 1_000_000,
             "zeros_with_grad": z // 2, "steps": 400, "steps_touched": min(z, 400),
             "test_acc": 0.6}
        )  # fmt: skip
    jitter = [0.002, -0.003, 0.001, 0.0, -0.001]
    smooth = {s: v + gain + j for (s, v), j in zip(RELU.items(), jitter)}
    return {
        "counts": counts,
        "accuracy": {"relu": {"0.01": RELU}, "softplus(beta=10)": {"0.01": smooth}},
        "smooth": ["softplus(beta=10)"],
        "lrs": [0.01],
    }


def test_c15_supported_when_zeros_are_rare_and_smoothing_does_not_help() -> None:
    out = ex.get("C15").analyse(_kink_data(0, 0.0))
    assert out.verdict.verdict == "supported", out.verdict.reason
    assert "0 of 1,000,000 hidden pre-activations exactly 0 in each of" in out.verdict.reason
    assert any("bit for bit" in f for f in out.findings)


def test_c15_refuted_when_smoothing_helps() -> None:
    out = ex.get("C15").analyse(_kink_data(0, 0.03))
    assert out.verdict.verdict == "refuted", out.verdict.reason
    assert "+2.98 points" in out.verdict.reason


def test_c15_depends_on_precision_when_bf16_hits_the_kink() -> None:
    out = ex.get("C15").analyse(_kink_data(5_000, 0.0))
    v = out.verdict
    assert v.verdict == "depends" and v.on == "numeric precision", v.reason
    assert "5,000 of 1,000,000" in v.reason and "bfloat16" in v.boundary


# -- C18: synthetic properties and accuracies -----------------------------------------------
def _props(smooth: bool, monotonic: bool = True, bounded_above: bool = False) -> dict:
    return {
        "monotonic": monotonic, "bounded_below": True, "bounded_above": bounded_above,
        "smoothness": "Cinf" if smooth else "C0", "kinks": [] if smooth else [0.0],
        "saturates_left": True, "saturates_right": bounded_above,
        "min_derivative": 0.0, "max_derivative": 1.0, "min_value": 0.0, "max_value": None,
    }  # fmt: skip


def _criteria_data(props: dict[str, dict], acc: dict[str, float]) -> dict:
    return {
        "properties": props,
        "fb_cost": dict.fromkeys(props, 1.0),
        "cost_size": 1 << 14,
        "margin": 1.25,
        "accuracy": {
            "mnist1d": {a: {"acc": v, "lr": 0.01, "n": 5} for a, v in acc.items()},
            "digits": {a: {"acc": v + 0.2, "lr": 0.01, "n": 5} for a, v in acc.items()},
        },
    }


NAMES = [f"a{i}" for i in range(12)]


def test_c18_supported_when_the_only_testable_criterion_separates() -> None:
    props = {a: _props(smooth=i < 6) for i, a in enumerate(NAMES)}
    acc = {a: (0.70 if i < 6 else 0.60) + 0.001 * i for i, a in enumerate(NAMES)}
    out = ex.get("C18").analyse(_criteria_data(props, acc))
    assert out.verdict.verdict == "supported", out.verdict.reason
    assert "smooth (+9.4 points, p = 0.0022)" in out.verdict.reason
    assert out.tables[0].columns[0] == "activation" and len(out.tables[0].rows) == 12


def test_c18_refuted_when_the_criterion_goes_with_worse_accuracy() -> None:
    props = {a: _props(smooth=i < 6) for i, a in enumerate(NAMES)}
    acc = {a: (0.60 if i < 6 else 0.70) + 0.001 * i for i, a in enumerate(NAMES)}
    out = ex.get("C18").analyse(_criteria_data(props, acc))
    assert out.verdict.verdict == "refuted", out.verdict.reason
    assert "contradict smooth (-10.6 points" in out.verdict.reason


def test_c18_depends_names_supported_and_contradicted_criteria() -> None:
    # three bounded (worst), three non-monotonic (best), the rest in between
    props = {
        a: _props(smooth=i >= 6, monotonic=not 3 <= i < 6, bounded_above=i < 3)
        for i, a in enumerate(NAMES)
    }
    acc = {a: 0.50 if i < 3 else 0.80 if i < 6 else 0.65 for i, a in enumerate(NAMES)}
    out = ex.get("C18").analyse(_criteria_data(props, acc))
    v = out.verdict
    assert v.verdict == "depends", v.reason
    assert "bounded range" in v.boundary.split("contradicted:")[1].split(";")[0]
    assert "non-monotonic" in v.boundary.split("supported:")[1].split(";")[0]
    assert "untestable (met by all or by none): nonlinear, differentiable a.e." in v.boundary


def test_permutation_p_is_exact() -> None:
    scores = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    # {c, d} vs {a, b}: the largest gap; its mirror {a, b} is as large: 2 of 6 splits
    assert c18_criteria.permutation_p(scores, ["c", "d"]) == pytest.approx(2 / 6)


# -- end to end, smoke profile (one store: C18 reads C1's timing and the shared sweep) -------
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("cost")


@pytest.mark.parametrize("claim", ["C1", "C15", "C18"])
def test_smoke_run(claim, store) -> None:
    r = report.run_claim(ex.get(claim), ex.Context(store / "r.db", "smoke", workers=1), store)
    assert r.outcome is not None, r.error
    assert (store / "figures" / f"{claim}.svg").exists()
    assert r.outcome.verdict.provisional  # smoke: few rounds, seeds, one data set
