"""Accuracy of every activation against the mpmath reference, through the audit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import actlab
from actlab.analysis import numerics, reference

ELEMENTWISE = [n for n in actlab.names() if actlab.get(n).kind == "elementwise"]
#: the entries with an mpmath reference (optional for a new entry): the oracle for limits
#: and edge values, which the definition in float64 would only repeat
REFERENCED = [n for n in ELEMENTWISE if n in reference.NAMES]
VECTOR = [n for n in actlab.names() if actlab.get(n).kind == "vector"]

# Zeros of derivatives, where f' = a + b with a ~ -b: the hardest points for a derivative.
DERIVATIVE_ZEROS = {
    "silu": -1.2784645427610738,
    "swish": -1.2784645427610738,
    "gelu": -0.7517915246935645,
    "gelu_tanh": -0.75246142207101626,
    "quick_gelu": -1.2784645427610738 / 1.702,
    "mish": -1.1924312145154952,
}


def _around(x0: float, n: int = 64) -> np.ndarray:
    """n consecutive float32 values either side of x0."""
    c = np.float32(x0)
    up, down = [c], [c]
    for _ in range(n):
        up.append(np.nextafter(up[-1], np.float32(np.inf)))
        down.append(np.nextafter(down[-1], np.float32(-np.inf)))
    return np.asarray(up + down, dtype=np.float64)


@pytest.fixture(scope="module")
def float32_rows() -> dict[str, numerics.AuditRow]:
    extra = np.concatenate([_around(v) for v in DERIVATIVE_ZEROS.values()])
    rows = numerics.audit(
        ELEMENTWISE, dtype="float32", points=1500, torch_native=False, extra=extra
    )
    return {r.name: r for r in rows}


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_float32_within_bounds(name: str, float32_rows: dict) -> None:
    r = float32_rows[name]
    assert r.points > 500
    assert r.fwd_max <= numerics.FORWARD_BOUND, r
    assert r.deriv_max is not None and r.deriv_max <= numerics.DERIVATIVE_BOUND, r
    assert r.bad == 0, r


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_within_bounds(dtype: str) -> None:
    rows = numerics.audit(ELEMENTWISE, dtype=dtype, points=600, torch_native=False)
    failed = [r for r in rows if not r.ok()]
    assert not failed, failed


@pytest.mark.parametrize("name", sorted(DERIVATIVE_ZEROS))
def test_derivative_zero_is_located_and_accurate(name: str) -> None:
    """The derivative changes sign next to the published root and stays within 4 ULP there."""
    x = _around(DERIVATIVE_ZEROS[name], 8).astype(np.float32)
    x = np.sort(x)
    d = actlab.get(name).derivative(x)
    ref = reference.derivative(name, x.astype(np.float64))
    assert np.sign(d[0]) != np.sign(d[-1])
    err = numerics.ulp_error(d.astype(np.float64), ref, "float32")
    normal = np.abs(ref) >= 2.0**-126
    assert np.all(err[normal] <= numerics.DERIVATIVE_BOUND)


def test_audit_catches_a_cancelling_formula() -> None:
    """The audit is not toothless: GELU via 1 + erf in float32 fails it by orders of magnitude."""
    x = numerics.grid(800).astype(np.float64)
    ref_f = reference.forward("gelu", x)
    ref_d = reference.derivative("gelu", x)

    def naive(t: torch.Tensor) -> torch.Tensor:
        return 0.5 * t * (1.0 + torch.erf(t / 2**0.5))

    row = numerics._measure("gelu", "float32", "naive", x, ref_f, ref_d, naive)
    assert row.fwd_max > 1e3
    assert not row.ok()


def test_ulp_error_units() -> None:
    one = np.array([1.0])
    assert numerics.ulp_error(one + 2.0**-23, one, "float32")[0] == pytest.approx(1.0)
    assert numerics.ulp_error(one + 2.0**-10, one, "float16")[0] == pytest.approx(1.0)
    assert numerics.ulp_error(one + 2.0**-7, one, "bfloat16")[0] == pytest.approx(1.0)
    # subnormal range: the ulp is the smallest subnormal
    tiny = np.array([2.0**-140])
    assert numerics.ulp_error(tiny + 2.0**-149, tiny, "float32")[0] == pytest.approx(1.0)


@pytest.mark.parametrize("name", REFERENCED)
def test_limits_at_infinity(name: str) -> None:
    x = np.array([-np.inf, np.inf])
    act = actlab.get(name)
    # float64 in, so up to a couple of float64 roundings (selu's limit is -scale * alpha)
    np.testing.assert_allclose(act.forward(x), reference.forward(name, x), rtol=5e-16, atol=0)
    np.testing.assert_allclose(act.derivative(x), reference.derivative(name, x), rtol=5e-16, atol=0)


@pytest.mark.parametrize("name", REFERENCED)
def test_edge_values_match_reference(name: str) -> None:
    """0, -0, subnormals, the largest float32 and exp's overflow boundaries, in float32."""
    x = np.array(
        [
            0.0,
            -0.0,
            1e-45,
            -1e-45,
            1e-40,
            -1e-40,
            1.1754944e-38,
            3.4028235e38,
            -3.4028235e38,
            88.72284,
            -87.33654,
            -103.97208,
            709.78,
            -745.1,
        ],
        dtype=np.float32,
    )
    act = actlab.get(name)
    for fn, ref_fn, bound in (
        (act.forward, reference.forward, 2.0),
        (act.derivative, reference.derivative, 4.0),
    ):
        with np.errstate(over="ignore"):
            ref = ref_fn(name, x.astype(np.float64))
        y = fn(x).astype(np.float64)
        finite = np.abs(ref) <= 3.4028235e38
        assert np.all(np.isfinite(y[finite])), (x[finite], y[finite])
        normal = finite & (np.abs(ref) >= 2.0**-126)
        err = numerics.ulp_error(y[normal], ref[normal], "float32")
        assert np.all(err <= bound), dict(zip(x[normal], err))
        tiny = finite & ~normal  # subnormal or zero true results: absolute error < 1 subnormal ulp
        assert np.all(np.abs(y[tiny] - ref[tiny]) <= 2.0**-149)


def test_user_activation_is_audited_against_its_float64_self() -> None:
    @actlab.register(name="isru_audit_demo")
    def isru(xp, x, /, a=1.0):
        return x / xp.sqrt(1.0 + a * x * x)

    try:
        (row,) = numerics.audit("isru_audit_demo", dtype="float32", points=400, torch_native=False)
        assert row.ok() and row.points > 100 and row.deriv_max is not None
    finally:
        actlab.unregister("isru_audit_demo")


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_vector_activations_within_bounds(dtype: str) -> None:
    """Softmax family, sparsemax and GLUs: forward and vjp on rows where one entry dominates."""
    rows = numerics.audit_vector(VECTOR, dtype=dtype, rows=80, torch_native=False)
    assert {r.name for r in rows} == set(VECTOR)
    failed = [r for r in rows if not r.ok()]
    assert not failed, failed


def test_log_softmax_keeps_the_tail_of_a_dominant_entry() -> None:
    """x_max - logsumexp = -log1p(rest): a naive log(sum) returns exactly 0 here."""
    x = np.array([0.0, -40.0], dtype=np.float64)
    y = actlab.get("log_softmax").forward(x)
    assert y[0] == pytest.approx(-np.exp(-40.0), rel=1e-15)
    assert y[0] != 0.0


@pytest.mark.slow
def test_full_audit_all_dtypes() -> None:
    rows = numerics.audit(dtype=["float32", "bfloat16", "float16"], points=4000)
    failed = [r for r in rows if r.impl == "actlab" and not r.ok()]
    assert not failed, failed
