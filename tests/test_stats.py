"""Tests for actlab.lab.stats: numbers against SciPy/NumPy and hand computations."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics

import numpy as np
import pytest
from scipy import stats as st

from actlab.lab import stats

# Any warning (not only RuntimeWarning, which pyproject already escalates) fails a test.
pytestmark = pytest.mark.filterwarnings("error")

X = [0.912, 0.905, 0.921, 0.917, 0.899, 0.914, 0.908, 0.926]

# Student's sleep data (Cushny & Peebles 1905), the textbook paired example.
# R: t.test(extra ~ group, data = sleep, paired = TRUE)
#    t = -4.0621, df = 9, p-value = 0.002833, 95% CI [-2.4598858, -0.7001142]
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def _plain(obj) -> None:
    """Every field is a builtin scalar (np.float64 is a float subclass: check exact type)."""
    for key, value in dataclasses.asdict(obj).items():
        assert type(value) in (float, int, str, bool), (key, type(value))
    json.dumps(dataclasses.asdict(obj))


def _hedges_j(df: float) -> float:
    return math.gamma(df / 2) / (math.sqrt(df / 2) * math.gamma((df - 1) / 2))


# --------------------------------------------------------------------------- summarize


@pytest.mark.parametrize("confidence", [0.95, 0.9, 0.99])
def test_t_interval_matches_formula(confidence):
    s = stats.summarize(X, confidence=confidence)
    n = len(X)
    mean, sd = statistics.fmean(X), statistics.stdev(X)
    half = st.t.ppf((1 + confidence) / 2, n - 1) * sd / math.sqrt(n)
    assert s.n == n and s.method == "t" and s.interval == "t" and s.confidence == confidence
    assert s.mean == pytest.approx(mean, abs=1e-12)
    assert s.std == pytest.approx(sd, abs=1e-12)
    assert s.sem == pytest.approx(sd / math.sqrt(n), abs=1e-12)
    assert s.ci_low == pytest.approx(mean - half, abs=1e-12)
    assert s.ci_high == pytest.approx(mean + half, abs=1e-12)
    ci = st.ttest_1samp(X, 0.0).confidence_interval(confidence)
    assert (s.ci_low, s.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert s.n_omitted == 0
    _plain(s)


def test_bootstrap_reproducible_and_matches_scipy():
    s1 = stats.summarize(X, method="bootstrap", n_boot=3000, seed=7)
    s2 = stats.summarize(X, method="bootstrap", n_boot=3000, seed=7)
    s3 = stats.summarize(X, method="bootstrap", n_boot=3000, seed=8)
    assert s1 == s2
    assert (s1.ci_low, s1.ci_high) != (s3.ci_low, s3.ci_high)
    assert s1.method == "bootstrap" and s1.interval == "BCa"
    assert s1.ci_low < s1.mean < s1.ci_high
    ref = st.bootstrap(
        (np.asarray(X),), np.mean, n_resamples=3000, method="BCa",
        rng=np.random.default_rng(7),
    )  # fmt: skip
    ci = ref.confidence_interval
    assert (s1.ci_low, s1.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    # std and sem do not depend on the interval method
    t = stats.summarize(X)
    assert (s1.std, s1.sem) == (t.std, t.sem)
    _plain(s1)


def test_all_equal_values():
    t = stats.summarize([0.9, 0.9, 0.9, 0.9])
    assert t.std == 0.0 and t.sem == 0.0
    assert t.ci_low == t.ci_high == t.mean == pytest.approx(0.9)
    b = stats.summarize([0.9, 0.9, 0.9, 0.9], method="bootstrap", n_boot=500)
    assert b.interval == "percentile"  # BCa is degenerate here
    assert b.ci_low == b.ci_high == pytest.approx(0.9)


@pytest.mark.parametrize("method", ["t", "bootstrap"])
def test_single_value_gives_nan_without_warning(method):
    s = stats.summarize([0.93], method=method, n_boot=100)
    assert s.n == 1 and s.mean == 0.93 and s.interval == "none"
    assert all(math.isnan(v) for v in (s.std, s.sem, s.ci_low, s.ci_high))
    _plain(s)


def test_summarize_errors_and_nan_policy():
    with pytest.raises(ValueError, match="empty"):
        stats.summarize([])
    with pytest.raises(ValueError, match="2 NaN"):
        stats.summarize([0.9, np.nan, 0.8, np.nan])
    s = stats.summarize([0.9, np.nan, 0.8, np.nan], nan_policy="omit")
    assert s.n == 2 and s.n_omitted == 2 and s.mean == pytest.approx(0.85)
    assert s == dataclasses.replace(stats.summarize([0.9, 0.8]), n_omitted=2)
    with pytest.raises(ValueError, match="after omitting 1 NaN"):
        stats.summarize([np.nan], nan_policy="omit")
    with pytest.raises(ValueError, match="infinite"):
        stats.summarize([1.0, np.inf])
    with pytest.raises(ValueError, match="1-D"):
        stats.summarize([[1.0, 2.0]])
    with pytest.raises(ValueError, match="method"):
        stats.summarize(X, method="z")
    with pytest.raises(ValueError, match="confidence"):
        stats.summarize(X, confidence=95)
    with pytest.raises(ValueError, match="nan_policy"):
        stats.summarize(X, nan_policy="propagate")
    with pytest.raises(ValueError, match="n_boot"):
        stats.summarize(X, method="bootstrap", n_boot=0)


def test_summary_is_frozen_and_describes():
    s = stats.summarize([0.91, 0.92, 0.93])
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.mean = 0.0
    assert s.describe(unit="%", scale=100) == "92.00 %, 95% CI [89.52, 94.48] (t, n = 3)"
    assert stats.summarize([1.0]).describe() == "1.00, 95% CI [nan, nan] (none, n = 1)"


# --------------------------------------------------------------------------- compare_paired


def test_paired_textbook_sleep_data():
    c = stats.compare_paired(SLEEP_1, SLEEP_2, labels=("drug1", "drug2"))
    ref = st.ttest_rel(SLEEP_1, SLEEP_2)
    ci = ref.confidence_interval(0.95)
    assert c.p_value == pytest.approx(ref.pvalue, abs=1e-12)
    assert c.t_statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert (c.ci_low, c.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert c.df == 9.0 and c.n == c.n_a == c.n_b == 10
    # the published R values
    assert c.t_statistic == pytest.approx(-4.0621, abs=5e-5)
    assert c.p_value == pytest.approx(0.002833, abs=5e-7)
    assert c.ci_low == pytest.approx(-2.4598858, abs=5e-8)
    assert c.ci_high == pytest.approx(-0.7001142, abs=5e-8)
    assert c.mean_diff == pytest.approx(-1.58, abs=1e-12)
    # Wilcoxon on the differences, as SciPy computes it directly
    d = np.subtract(SLEEP_1, SLEEP_2)
    assert c.p_rank == pytest.approx(st.wilcoxon(d).pvalue, abs=1e-12)
    assert c.rank_test == "Wilcoxon signed-rank"
    assert c.verdict == "drug1 < drug2" and c.significant
    _plain(c)


def test_paired_effect_sizes_by_hand():
    diffs = [a - b for a, b in zip(SLEEP_1, SLEEP_2)]
    d_z = statistics.fmean(diffs) / statistics.stdev(diffs)
    c = stats.compare_paired(SLEEP_1, SLEEP_2)
    assert c.effect_size_name == "d_z"
    assert c.effect_size == pytest.approx(d_z, abs=1e-12)
    assert c.effect_size == pytest.approx(-1.28456, abs=5e-6)
    sd_av = (statistics.stdev(SLEEP_1) + statistics.stdev(SLEEP_2)) / 2
    g_av = statistics.fmean(diffs) / sd_av * _hedges_j(9)
    assert c.hedges_g == pytest.approx(g_av, abs=1e-12)
    # the exact correction is close to the usual approximation 1 - 3 / (4 df - 1)
    assert _hedges_j(9) == pytest.approx(1 - 3 / 35, abs=1e-3)
    se = statistics.stdev(diffs) / math.sqrt(10)
    assert c.se == pytest.approx(se, abs=1e-12)


def test_paired_verdict_flips_with_the_interval():
    rng = np.random.default_rng(0)
    base = 0.9 + 0.01 * rng.standard_normal(8)
    noise = 0.002 * rng.standard_normal(8)
    noise -= noise.mean()  # mean difference is exactly the shift
    better = stats.compare_paired(base + 0.005 + noise, base, labels=("mish", "silu"))
    assert better.ci_low > 0 and better.verdict == "mish > silu" and better.significant
    worse = stats.compare_paired(base - 0.005 + noise, base, labels=("mish", "silu"))
    assert worse.ci_high < 0 and worse.verdict == "mish < silu" and worse.significant
    same = stats.compare_paired(base + 0.0002 + noise, base, labels=("mish", "silu"))
    assert same.ci_low < 0 < same.ci_high and same.verdict == "not different"
    assert not same.significant
    assert better.mean_diff == pytest.approx(0.005, abs=1e-12)
    # default labels
    assert stats.compare_paired(base + 0.005 + noise, base).verdict == "a > b"
    assert stats.compare_paired(base, base + 0.005 + noise).verdict == "a < b"


def test_paired_constant_difference_and_identical_runs():
    b = [0.90, 0.91, 0.92, 0.93]
    a = [0.91, 0.92, 0.93, 0.94]  # +0.01 on every seed, up to rounding
    c = stats.compare_paired(a, b)
    assert c.mean_diff == pytest.approx(0.01, abs=1e-15)
    assert c.ci_low == c.ci_high == c.mean_diff
    assert c.p_value == 0.0 and c.effect_size == math.inf and c.verdict == "a > b"
    same = stats.compare_paired(b, b)
    assert same.mean_diff == 0.0 and same.ci_low == same.ci_high == 0.0
    assert math.isnan(same.p_value) and math.isnan(same.p_rank)
    assert math.isnan(same.effect_size) and same.verdict == "not different"
    _plain(same)


def test_paired_small_n():
    one = stats.compare_paired([0.92], [0.90])
    assert one.n == 1 and one.mean_diff == pytest.approx(0.02)
    for v in (one.se, one.df, one.ci_low, one.ci_high, one.p_value, one.p_rank, one.effect_size):
        assert math.isnan(v)
    assert one.verdict == "not different" and not one.significant
    # a single non-zero difference: Wilcoxon undefined, t-test fine
    c = stats.compare_paired([1.0, 2.0, 3.0], [1.0, 2.0, 2.5])
    assert math.isnan(c.p_rank)
    assert c.p_value == pytest.approx(st.ttest_rel([1.0, 2.0, 3.0], [1.0, 2.0, 2.5]).pvalue)


def test_paired_errors():
    with pytest.raises(ValueError, match=r"len\(a\) = 3, len\(b\) = 2"):
        stats.compare_paired([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="1 of 3 pairs contain NaN"):
        stats.compare_paired([1.0, np.nan, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="2 of 3 pairs contain NaN"):
        stats.compare_paired([1.0, np.nan, 3.0], [1.0, 2.0, np.nan])
    with pytest.raises(ValueError, match="empty"):
        stats.compare_paired([], [])
    with pytest.raises(ValueError, match="labels"):
        stats.compare_paired([1.0, 2.0], [1.0, 2.0], labels="ab")
    with pytest.raises(ValueError, match="alpha"):
        stats.compare_paired([1.0, 2.0], [1.0, 2.0], alpha=5)


def test_paired_describe():
    c = stats.compare_paired([0.90, 0.92, 0.91], [0.89, 0.90, 0.91], labels=("mish", "silu"))
    assert c.describe() == (
        "mish - silu: +1.00 points, 95% CI [-1.48, 3.48], paired t p = 0.23, "
        "d_z = 1.00 (n = 3): not different"
    )
    assert c.describe(unit="", scale=1, digits=3).startswith("mish - silu: +0.010, 95% CI [")
    sleep = stats.compare_paired(SLEEP_1, SLEEP_2, confidence=0.9)
    assert sleep.describe(unit="h", scale=1) == (
        f"a - b: -1.58 h, 90% CI [{sleep.ci_low:.2f}, {sleep.ci_high:.2f}], "
        "paired t p = 0.003, d_z = -1.28 (n = 10): a < b"
    )


# --------------------------------------------------------------------------- compare_independent


A = [0.921, 0.918, 0.925, 0.923, 0.915]
B = [0.905, 0.920, 0.898, 0.912]


def test_welch_against_hand_computation_and_scipy():
    c = stats.compare_independent(A, B, confidence=0.9)
    na, nb = len(A), len(B)
    qa, qb = statistics.variance(A) / na, statistics.variance(B) / nb
    df = (qa + qb) ** 2 / (qa**2 / (na - 1) + qb**2 / (nb - 1))
    diff = statistics.fmean(A) - statistics.fmean(B)
    half = st.t.ppf(0.95, df) * math.sqrt(qa + qb)
    assert c.df == pytest.approx(df, abs=1e-12)
    assert c.se == pytest.approx(math.sqrt(qa + qb), abs=1e-12)
    assert c.mean_diff == pytest.approx(diff, abs=1e-12)
    assert (c.ci_low, c.ci_high) == pytest.approx((diff - half, diff + half), abs=1e-12)
    ref = st.ttest_ind(A, B, equal_var=False)
    assert c.t_statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert c.p_value == pytest.approx(ref.pvalue, abs=1e-12)
    assert c.df == pytest.approx(ref.df, abs=1e-12)
    ci = ref.confidence_interval(0.9)
    assert (c.ci_low, c.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert c.p_rank == pytest.approx(st.mannwhitneyu(A, B).pvalue, abs=1e-12)
    assert (c.kind, c.n, c.n_a, c.n_b) == ("independent", 9, 5, 4)
    # p between 0.05 and 0.10: the 90% interval excludes 0, alpha = 0.05 does not reject
    assert 0.05 < c.p_value < 0.10
    assert c.verdict == "a > b" and not c.significant
    _plain(c)


def test_hedges_g_by_hand():
    c = stats.compare_independent(A, B)
    na, nb = len(A), len(B)
    sp = math.sqrt(
        ((na - 1) * statistics.variance(A) + (nb - 1) * statistics.variance(B)) / (na + nb - 2)
    )
    g = (statistics.fmean(A) - statistics.fmean(B)) / sp * _hedges_j(na + nb - 2)
    assert c.effect_size_name == "g"
    assert c.effect_size == pytest.approx(g, abs=1e-12) and c.hedges_g == c.effect_size


def test_independent_verdicts_and_describe():
    B = [0.905, 0.910, 0.898, 0.912]  # clearly below A
    lo = stats.compare_independent(B, A, labels=("relu", "gelu"))
    assert lo.significant and lo.p_value == pytest.approx(0.0114877, abs=5e-7)
    assert lo.verdict == "relu < gelu" and lo.ci_high < 0
    overlap = stats.compare_independent([0.90, 0.92, 0.91], [0.905, 0.915, 0.91, 0.90])
    assert overlap.ci_low < 0 < overlap.ci_high and overlap.verdict == "not different"
    c = stats.compare_independent(A, B, labels=("gelu", "relu"))
    assert c.describe() == (
        f"gelu - relu: +{c.mean_diff * 100:.2f} points, 95% CI "
        f"[{c.ci_low * 100:.2f}, {c.ci_high * 100:.2f}], Welch t p = {c.p_value:.2f}, "
        f"g = {c.effect_size:.2f} (n = 5 vs 4): gelu > relu"
    )


def test_independent_edge_cases():
    one = stats.compare_independent([0.9], [0.8, 0.85])
    assert one.mean_diff == pytest.approx(0.075)
    assert math.isnan(one.ci_low) and math.isnan(one.p_value) and math.isnan(one.effect_size)
    assert one.verdict == "not different"
    assert one.p_rank == pytest.approx(st.mannwhitneyu([0.9], [0.8, 0.85]).pvalue)
    const = stats.compare_independent([0.9, 0.9, 0.9], [0.8, 0.8])
    assert const.ci_low == const.ci_high == pytest.approx(0.1)
    assert const.p_value == 0.0 and const.verdict == "a > b"
    same = stats.compare_independent([0.9, 0.9], [0.9, 0.9, 0.9])
    assert same.mean_diff == 0.0 and math.isnan(same.p_value) and same.verdict == "not different"
    # one constant group: Welch uses the other group's variance only (df = n_b - 1)
    half = stats.compare_independent([0.9, 0.9, 0.9], [0.8, 0.82, 0.84])
    assert half.df == pytest.approx(2.0) and half.verdict == "a > b"
    _plain(same)
    with pytest.raises(ValueError, match="b is empty"):
        stats.compare_independent([1.0], [])
    with pytest.raises(ValueError, match="a contains 1 NaN of 2"):
        stats.compare_independent([1.0, np.nan], [1.0, 2.0])


# --------------------------------------------------------------------------- holm / bh


def test_holm_hand_worked_example():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> max(0.06, 0.04)
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx(
        [0.03, 0.06, 0.06, 0.02], abs=1e-12
    )
    assert stats.holm([0.5, 0.6, 0.01]) == pytest.approx([1.0, 1.0, 0.03], abs=1e-12)
    assert stats.holm([0.02]) == [0.02]
    assert stats.holm([]) == []
    assert all(type(p) is float for p in stats.holm(np.array([0.2, 0.1])))


def test_bh_against_scipy_and_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4/1 = 0.02, 0.01*4/2 = 0.02, 0.03*4/3 = 0.04, 0.04*4/4 = 0.04
    assert stats.bh(p) == pytest.approx([0.02, 0.04, 0.04, 0.02], abs=1e-12)
    assert stats.bh(p) == pytest.approx(list(st.false_discovery_control(p)), abs=1e-15)
    assert stats.bh([]) == []
    assert all(type(v) is float for v in stats.bh(p))


@pytest.mark.parametrize("func", [stats.holm, stats.bh])
def test_adjust_rejects_bad_pvalues(func):
    with pytest.raises(ValueError, match="1 NaN"):
        func([0.1, np.nan])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        func([0.1, 1.5])
