"""Computed properties agree with the catalogue's declared metadata, and fill in user ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

import actlab
from actlab.analysis.properties import fill_metadata, infer

ELEMENTWISE = [n for n in actlab.names() if actlab.get(n).kind == "elementwise"]


@pytest.fixture(scope="module")
def inferred() -> dict:
    return {n: infer(n) for n in ELEMENTWISE}


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_declared_metadata_matches_computed(name: str, inferred: dict) -> None:
    act, p = actlab.get(name), inferred[name]
    assert act.monotonic == p.monotonic
    assert act.smoothness == p.smoothness
    assert act.zero_centred == p.zero_centred, p.mean_std_normal
    lo, hi = act.output_range
    assert lo == pytest.approx(p.min_value, rel=1e-12, abs=1e-15)
    assert hi == pytest.approx(p.max_value, rel=1e-12)
    for end, bound in enumerate((lo, hi)):
        if math.isfinite(bound):
            assert act.range_attained[end] == p.range_attained[end], (end, p)
    assert set(act.kinks) == set(p.kinks)
    assert act.bounded_below == math.isfinite(p.min_value)
    assert act.bounded_above == math.isfinite(p.max_value)


def test_known_values() -> None:
    silu = infer("silu")
    assert silu.min_value == pytest.approx(-0.2784645427610738, rel=1e-12)
    assert silu.argmin == pytest.approx(-1.2784645427610738, rel=1e-7)
    assert infer("sigmoid").mean_std_normal == pytest.approx(0.5, abs=1e-12)
    assert infer("tanh").zero_centred
    assert not infer("relu").zero_centred
    assert infer("relu").mean_std_normal == pytest.approx(1 / math.sqrt(2 * math.pi), rel=1e-9)


def test_parameters_change_the_properties() -> None:
    assert infer("leaky_relu", negative_slope=0.0).min_value == 0.0
    assert infer("hard_tanh", min_val=-2.0, max_val=3.0).kinks == (-2.0, 3.0)
    assert infer("threshold", threshold=1.0, value=-1.0).smoothness == "discontinuous"
    assert infer("elu", alpha=1.0).smoothness == "C1"
    assert infer("elu", alpha=2.0).smoothness == "C0"  # f' jumps from 2 to 1 at 0


def test_user_activation_gets_computed_metadata() -> None:
    @actlab.register(name="bent_identity_props")
    def bent(xp, x, /):
        return (xp.sqrt(x * x + 1.0) - 1.0) / 2.0 + x

    try:
        meta = fill_metadata("bent_identity_props")
        assert set(meta["computed"]) >= {"output_range", "monotonic", "smoothness", "zero_centred"}
        assert meta["monotonic"] is True
        assert meta["smoothness"] == "Cinf"
        assert meta["output_range"][0] == -math.inf and meta["output_range"][1] == math.inf
        assert meta["zero_centred"] is False  # E f(z) = (E sqrt(z^2 + 1) - 1) / 2 > 0
    finally:
        actlab.unregister("bent_identity_props")


def test_user_activation_with_a_kink() -> None:
    @actlab.register(name="kinked_props", monotonic=True)
    def kinked(xp, x, /):
        return xp.where(x > 1.0, 2.0 * x - 1.0, x)

    try:
        meta = fill_metadata("kinked_props")
        assert meta["smoothness"] == "C0" and meta["kinks"] == (1.0,)
        assert "monotonic" not in meta["computed"]  # declared, not computed
        np.testing.assert_allclose(
            actlab.get("kinked_props").derivative(np.array([0.0, 2.0])), [1.0, 2.0]
        )
    finally:
        actlab.unregister("kinked_props")
