"""Statistics for comparing activation functions over seeds.

An experiment trains the same configuration with several seeds and asks whether
one activation beats another, e.g. *"Mish vs SiLU: +0.30 points, 95% CI
[-0.50, 1.10], not different"*. This module turns per-seed results into such
statements, using SciPy for every routine SciPy provides.

Intervals
---------
``t`` interval (:func:`summarize` with ``method="t"``, and every comparison)
    ``mean ± t_{(1+c)/2, df} · se``. It covers the true mean with probability
    ``c`` if the mean is approximately normal, which holds for small samples
    of well-behaved metrics (accuracy, loss of converged runs) and improves
    with n. It is the default and the one to report for a handful of seeds.
Bootstrap interval (:func:`summarize` with ``method="bootstrap"``)
    :func:`scipy.stats.bootstrap` resamples the values ``n_boot`` times with a
    fixed seed (so the interval is reproducible). The BCa interval corrects
    for bias and skew; when it is undefined (e.g. all values equal) the
    percentile interval is used instead, and :attr:`Summary.interval` says
    which. It needs no normality, but with fewer than about 10 values it is
    too narrow: the resamples cannot vary more than the sample does.
Interval of a difference (:func:`compare_paired`, :func:`compare_independent`)
    The ``t`` interval of ``mean(a) - mean(b)``. The verdict is ``"A > B"`` or
    ``"A < B"`` when the interval excludes 0 and ``"not different"`` when it
    contains 0 (or cannot be computed). "Not different" means the data do not
    resolve a difference, not that there is none: read the interval's width.

Paired or independent?
----------------------
Use :func:`compare_paired` when both activations were run with the **same
seeds** and ``a[i]`` and ``b[i]`` come from seed ``i``: the seed fixes
initialisation, data order and dropout masks, so the per-seed differences
cancel that shared noise and the test is far more sensitive. The inputs must
be aligned by seed; the function cannot check this. Use
:func:`compare_independent` when the runs share nothing (different seeds,
different numbers of runs, results from another paper): it runs Welch's
t-test, which does not assume equal variances.

Several comparisons (one baseline against many activations) inflate the
chance of a false "different"; adjust their p-values with :func:`holm`
(controls the family-wise error rate) or :func:`bh` (controls the false
discovery rate).

Every result holds plain Python ``float``/``int``/``str``/``bool`` values, so
``dataclasses.asdict`` and ``json.dumps`` work on it. Undefined quantities are
``nan`` (never a warning).

Example:
    >>> from actlab.lab import stats
    >>> mish = [0.914, 0.916, 0.913, 0.918, 0.915]   # seeds 0..4
    >>> silu = [0.909, 0.913, 0.911, 0.912, 0.910]   # same seeds
    >>> print(stats.compare_paired(mish, silu, labels=("mish", "silu")).describe())
    mish - silu: +0.42 points, 95% CI [0.22, 0.62], paired t p = 0.005, d_z = 2.56 (n = 5): mish > silu
"""  # noqa: E501

from __future__ import annotations

import inspect
import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special
from scipy import stats as _st

__all__ = [
    "Comparison",
    "Summary",
    "bh",
    "compare_independent",
    "compare_paired",
    "holm",
    "summarize",
]

ArrayLike = Sequence[float] | np.ndarray

_NAN = float("nan")
# Differences varying by less than this many units in the last place of the
# inputs' magnitude are rounding noise (e.g. 0.91 - 0.90 vs 0.92 - 0.91).
_ULPS = 32


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Summary:
    """Mean of per-seed results with its confidence interval.

    Attributes:
        n: number of values used (after omitting NaN).
        mean: sample mean.
        std: sample standard deviation (``ddof=1``); ``nan`` when ``n == 1``.
        sem: standard error of the mean, ``std / sqrt(n)``; ``nan`` when ``n == 1``.
        ci_low: lower end of the confidence interval of the mean.
        ci_high: upper end of the confidence interval of the mean.
        method: the method asked for, ``"t"`` or ``"bootstrap"``.
        confidence: confidence level of the interval, e.g. ``0.95``.
        interval: the interval actually computed: ``"t"``, ``"BCa"``,
            ``"percentile"`` (bootstrap fallback when BCa is undefined) or
            ``"none"`` (``n == 1``; the interval is ``nan``).
        n_omitted: number of NaN values dropped (``nan_policy="omit"``).
    """

    n: int
    mean: float
    std: float
    sem: float
    ci_low: float
    ci_high: float
    method: str
    confidence: float
    interval: str
    n_omitted: int

    def describe(self, unit: str = "", scale: float = 1.0, digits: int = 2) -> str:
        """One line: mean, interval, method and n, values multiplied by ``scale``.

        Example:
            >>> from actlab.lab.stats import summarize
            >>> summarize([0.91, 0.92, 0.93]).describe(unit="%", scale=100)
            '92.00 %, 95% CI [89.52, 94.48] (t, n = 3)'
        """
        u = f" {unit}" if unit else ""
        return (
            f"{_fmt(self.mean * scale, digits)}{u}, {_fmt_conf(self.confidence)} CI "
            f"[{_fmt(self.ci_low * scale, digits)}, {_fmt(self.ci_high * scale, digits)}] "
            f"({self.interval}, n = {self.n})"
        )


@dataclass(frozen=True)
class Comparison:
    """Difference between two activations' results, ``a - b``.

    Attributes:
        kind: ``"paired"`` (:func:`compare_paired`) or ``"independent"``
            (:func:`compare_independent`).
        label_a: name of ``a`` (used in :attr:`verdict` and :meth:`describe`).
        label_b: name of ``b``.
        n: number of pairs (paired) or of observations in both groups
            (independent).
        n_a: number of values of ``a``.
        n_b: number of values of ``b``.
        mean_a: mean of ``a``.
        mean_b: mean of ``b``.
        mean_diff: ``mean(a) - mean(b)`` (for paired data also the mean of
            the per-pair differences).
        se: standard error of ``mean_diff``.
        df: degrees of freedom of the t distribution (``n - 1`` paired,
            Welch–Satterthwaite independent); ``nan`` when undefined.
        ci_low: lower end of the t confidence interval of ``mean_diff``.
        ci_high: upper end of the t confidence interval of ``mean_diff``.
        confidence: confidence level of the interval.
        t_statistic: t statistic (:func:`scipy.stats.ttest_rel` or Welch's
            :func:`scipy.stats.ttest_ind`).
        p_value: two-sided p-value of that t-test.
        p_rank: two-sided p-value of the rank test named by :attr:`rank_test`
            (no normality assumed); ``nan`` when undefined.
        rank_test: ``"Wilcoxon signed-rank"`` (paired) or ``"Mann-Whitney U"``
            (independent).
        effect_size: standardised difference: Cohen's ``d_z`` (mean difference
            / SD of differences) for paired data, Hedges' ``g`` for
            independent groups.
        effect_size_name: ``"d_z"`` or ``"g"``.
        hedges_g: bias-corrected standardised difference in units of the
            groups' own spread, comparable across designs. Paired: Lakens'
            (2013) ``g_av = J(n - 1) · mean_diff / ((sd_a + sd_b) / 2)``.
            Independent: ``g_s = J(n_a + n_b - 2) · mean_diff / sd_pooled``.
            ``J(df) = Γ(df/2) / (sqrt(df/2) Γ((df-1)/2))`` is Hedges' exact
            small-sample correction.
        alpha: significance level for :attr:`significant`.
        significant: ``p_value < alpha``. With ``alpha == 1 - confidence``
            this agrees with the verdict.
        verdict: ``"<label_a> > <label_b>"`` or ``"<label_a> < <label_b>"``
            when the interval excludes 0, else ``"not different"``.
    """

    kind: str
    label_a: str
    label_b: str
    n: int
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    mean_diff: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    confidence: float
    t_statistic: float
    p_value: float
    p_rank: float
    rank_test: str
    effect_size: float
    effect_size_name: str
    hedges_g: float
    alpha: float
    significant: bool
    verdict: str

    def describe(self, unit: str = "points", scale: float = 100, digits: int = 2) -> str:
        """One sentence with the difference (times ``scale``), interval, test and verdict.

        Args:
            unit: unit of the scaled difference; ``""`` for none.
            scale: factor applied to the difference and its interval (100
                turns accuracies in [0, 1] into percentage points). The
                effect size is unit-free and not scaled.
            digits: decimals of the difference, interval and effect size.

        Example:
            >>> from actlab.lab.stats import compare_paired
            >>> c = compare_paired([0.90, 0.92, 0.91], [0.89, 0.90, 0.91],
            ...                    labels=("mish", "silu"))
            >>> c.describe()
            'mish - silu: +1.00 points, 95% CI [-1.48, 3.48], paired t p = 0.23, d_z = 1.00 (n = 3): not different'
        """  # noqa: E501
        u = f" {unit}" if unit else ""
        test = "paired t" if self.kind == "paired" else "Welch t"
        n = f"n = {self.n}" if self.kind == "paired" else f"n = {self.n_a} vs {self.n_b}"
        return (
            f"{self.label_a} - {self.label_b}: {_fmt(self.mean_diff * scale, digits, sign=True)}"
            f"{u}, {_fmt_conf(self.confidence)} CI [{_fmt(self.ci_low * scale, digits)}, "
            f"{_fmt(self.ci_high * scale, digits)}], {test} p {_fmt_p(self.p_value)}, "
            f"{self.effect_size_name} = {_fmt(self.effect_size, digits)} ({n}): {self.verdict}"
        )


# --------------------------------------------------------------------------- public API


def summarize(
    values: ArrayLike,
    *,
    confidence: float = 0.95,
    method: Literal["t", "bootstrap"] = "t",
    n_boot: int = 10000,
    seed: int = 0,
    nan_policy: Literal["raise", "omit"] = "raise",
) -> Summary:
    """Mean, spread and confidence interval of per-seed results.

    Args:
        values: one result per seed (1-D).
        confidence: confidence level of the interval, in (0, 1).
        method: ``"t"`` for the t interval (via :data:`scipy.stats.t`) or
            ``"bootstrap"`` for :func:`scipy.stats.bootstrap` (BCa, falling
            back to the percentile interval when BCa is degenerate, e.g. all
            values equal).
        n_boot: number of bootstrap resamples.
        seed: seed of the bootstrap's random generator; the same seed gives
            the same interval.
        nan_policy: ``"raise"`` (default) rejects NaN values; ``"omit"``
            drops them and counts them in :attr:`Summary.n_omitted`.
            Infinite values are always rejected.

    Returns:
        A :class:`Summary`. With a single value, ``std``, ``sem`` and the
        interval are ``nan`` (no warning is emitted).

    Raises:
        ValueError: no values (also after omitting NaN), NaN values with
            ``nan_policy="raise"``, infinite values, values not 1-D, or an
            invalid option.

    Example:
        >>> from actlab.lab.stats import summarize
        >>> s = summarize([0.91, 0.92, 0.93, 0.90, 0.94])
        >>> round(s.mean, 4), round(s.ci_low, 4), round(s.ci_high, 4)
        (0.92, 0.9004, 0.9396)
        >>> b = summarize([0.91, 0.92, 0.93, 0.90, 0.94], method="bootstrap", n_boot=2000)
        >>> b.interval, b.ci_low <= b.mean <= b.ci_high
        ('BCa', True)
    """
    _check_confidence(confidence)
    if method not in ("t", "bootstrap"):
        raise ValueError(f"method must be 't' or 'bootstrap', got {method!r}")
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")

    x = _as_1d(values, "values")
    nan = np.isnan(x)
    n_nan = int(nan.sum())
    if n_nan and nan_policy == "raise":
        raise ValueError(
            f"values contain {n_nan} NaN of {x.size}; pass nan_policy='omit' to drop them"
        )
    x = x[~nan]
    if x.size == 0:
        if n_nan:
            raise ValueError(f"no values left after omitting {n_nan} NaN")
        raise ValueError("values is empty: need at least one value to summarize")
    _check_finite(x, "values")

    n = int(x.size)
    mean = float(np.mean(x))
    if n == 1:
        return Summary(n, mean, _NAN, _NAN, _NAN, _NAN, method, float(confidence), "none", n_nan)

    std = float(np.std(x, ddof=1))
    sem = std / math.sqrt(n)
    if method == "t":
        lo, hi = _t_interval(mean, sem, n - 1, confidence)
        interval = "t"
    else:
        lo, hi, interval = _bootstrap_interval(x, confidence, n_boot, seed)
    return Summary(n, mean, std, sem, lo, hi, method, float(confidence), interval, n_nan)


def compare_paired(
    a: ArrayLike,
    b: ArrayLike,
    *,
    confidence: float = 0.95,
    labels: tuple[str, str] = ("a", "b"),
    alpha: float = 0.05,
) -> Comparison:
    """Compare two activations run with the same seeds (``a[i]``, ``b[i]`` from seed ``i``).

    The difference ``a - b`` gets a t interval with ``n - 1`` degrees of
    freedom, the paired t-test (:func:`scipy.stats.ttest_rel`), the Wilcoxon
    signed-rank test (:func:`scipy.stats.wilcoxon`; ``nan`` when fewer than
    two differences are non-zero) and Cohen's ``d_z`` = mean difference / SD
    of the differences (see :class:`Comparison` for ``hedges_g``).

    Differences that are constant up to floating-point rounding (e.g. every
    run of ``a`` exactly one point above ``b``) have zero spread: the interval
    collapses to the difference, ``p_value`` is 0 and ``d_z`` infinite; if the
    constant is 0, ``p_value`` and ``d_z`` are ``nan`` and the verdict is
    "not different". With a single pair everything but the means is ``nan``.

    Args:
        a: results of the first activation, one per seed.
        b: results of the second activation for the same seeds, same order.
        confidence: confidence level of the interval, in (0, 1).
        labels: names of ``a`` and ``b`` for the verdict and description.
        alpha: significance level of :attr:`Comparison.significant`.

    Raises:
        ValueError: lengths differ, no pairs, a pair contains NaN, infinite
            values, or an invalid option.

    Example:
        >>> from actlab.lab.stats import compare_paired
        >>> mish = [0.914, 0.916, 0.913, 0.918, 0.915]
        >>> silu = [0.909, 0.913, 0.911, 0.912, 0.910]
        >>> c = compare_paired(mish, silu, labels=("mish", "silu"))
        >>> round(c.mean_diff, 4), round(c.ci_low, 4), round(c.ci_high, 4)
        (0.0042, 0.0022, 0.0062)
        >>> round(c.p_value, 4), round(c.effect_size, 2), c.p_rank
        (0.0046, 2.56, 0.0625)
        >>> c.verdict
        'mish > silu'
    """
    _check_confidence(confidence)
    _check_alpha(alpha)
    la, lb = _check_labels(labels)
    xa = _as_1d(a, "a")
    xb = _as_1d(b, "b")
    if xa.size != xb.size:
        raise ValueError(
            f"paired comparison needs one b per a: len(a) = {xa.size}, len(b) = {xb.size}"
        )
    if xa.size == 0:
        raise ValueError("a and b are empty: need at least one pair")
    bad = np.isnan(xa) | np.isnan(xb)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} of {xa.size} pairs contain NaN")
    _check_finite(xa, "a")
    _check_finite(xb, "b")

    n = int(xa.size)
    mean_a, mean_b = float(np.mean(xa)), float(np.mean(xb))
    d = xa - xb
    tol = _tolerance(xa, xb)
    if np.max(np.abs(d - np.mean(d))) <= tol:  # constant up to rounding
        c = float(np.mean(d))
        d = np.full(n, 0.0 if abs(c) <= tol else c)
    mean_diff = float(np.mean(d))

    se = df = lo = hi = t_stat = p = p_rank = d_z = g_av = _NAN
    if n >= 2:
        df = float(n - 1)
        sd = float(np.std(d, ddof=1))
        se = sd / math.sqrt(n)
        lo, hi = _t_interval(mean_diff, se, n - 1, confidence)
        if sd > 0:
            res = _quiet(_st.ttest_rel, xa, xb)
            t_stat, p = float(res.statistic), float(res.pvalue)
            d_z = mean_diff / sd
        elif mean_diff != 0:
            t_stat, p = math.copysign(math.inf, mean_diff), 0.0
            d_z = math.copysign(math.inf, mean_diff)
        sd_av = (float(np.std(xa, ddof=1)) + float(np.std(xb, ddof=1))) / 2
        g_av = _ratio(mean_diff, sd_av) * _hedges_j(n - 1)
        if np.count_nonzero(d) >= 2:
            res = _quiet(_st.wilcoxon, d)
            p_rank = float(res.pvalue) if res is not None else _NAN

    return Comparison(
        kind="paired", label_a=la, label_b=lb, n=n, n_a=n, n_b=n,
        mean_a=mean_a, mean_b=mean_b, mean_diff=mean_diff, se=se, df=df,
        ci_low=lo, ci_high=hi, confidence=float(confidence),
        t_statistic=t_stat, p_value=p, p_rank=p_rank, rank_test="Wilcoxon signed-rank",
        effect_size=d_z, effect_size_name="d_z", hedges_g=g_av,
        alpha=float(alpha), significant=bool(p < alpha), verdict=_verdict(lo, hi, la, lb),
    )  # fmt: skip


def compare_independent(
    a: ArrayLike,
    b: ArrayLike,
    *,
    confidence: float = 0.95,
    labels: tuple[str, str] = ("a", "b"),
    alpha: float = 0.05,
) -> Comparison:
    """Compare two activations whose runs share nothing (Welch's t-test).

    The difference of means ``mean(a) - mean(b)`` gets a t interval with the
    Welch–Satterthwaite degrees of freedom
    ``(va/na + vb/nb)² / ((va/na)²/(na-1) + (vb/nb)²/(nb-1))`` and standard
    error ``sqrt(va/na + vb/nb)``; the p-value is Welch's
    (``scipy.stats.ttest_ind(a, b, equal_var=False)``), the rank test
    Mann–Whitney U (:func:`scipy.stats.mannwhitneyu`), and the effect size
    Hedges' ``g`` (pooled SD, exact small-sample correction; see
    :class:`Comparison`). Groups may differ in size.

    Both groups need at least two values for the t quantities (otherwise they
    are ``nan`` and the verdict is "not different"). If both groups are
    constant the interval collapses to the difference and ``p_value`` is 0
    (or ``nan`` if the difference is 0).

    Args:
        a: results of the first activation.
        b: results of the second activation.
        confidence: confidence level of the interval, in (0, 1).
        labels: names of ``a`` and ``b`` for the verdict and description.
        alpha: significance level of :attr:`Comparison.significant`.

    Raises:
        ValueError: a group is empty or contains NaN or infinite values, or
            an invalid option.

    Example:
        >>> from actlab.lab.stats import compare_independent
        >>> gelu = [0.921, 0.918, 0.925, 0.923]
        >>> relu = [0.905, 0.910, 0.902, 0.908, 0.904]
        >>> c = compare_independent(gelu, relu, labels=("gelu", "relu"))
        >>> round(c.mean_diff, 4), round(c.df, 2), c.verdict
        (0.016, 6.76, 'gelu > relu')
    """
    _check_confidence(confidence)
    _check_alpha(alpha)
    la, lb = _check_labels(labels)
    xa = _as_1d(a, "a")
    xb = _as_1d(b, "b")
    for name, x in (("a", xa), ("b", xb)):
        if x.size == 0:
            raise ValueError(f"{name} is empty: need at least one value per group")
        k = int(np.isnan(x).sum())
        if k:
            raise ValueError(f"{name} contains {k} NaN of {x.size}")
        _check_finite(x, name)

    na, nb = int(xa.size), int(xb.size)
    mean_a, mean_b = float(np.mean(xa)), float(np.mean(xb))
    tol = _tolerance(xa, xb)
    mean_diff = mean_a - mean_b
    if abs(mean_diff) <= tol and _is_constant(xa, tol) and _is_constant(xb, tol):
        mean_diff = 0.0

    se = df = lo = hi = t_stat = p = g = _NAN
    if na >= 2 and nb >= 2:
        va = 0.0 if _is_constant(xa, tol) else float(np.var(xa, ddof=1))
        vb = 0.0 if _is_constant(xb, tol) else float(np.var(xb, ddof=1))
        qa, qb = va / na, vb / nb
        se = math.sqrt(qa + qb)
        if se > 0:
            df = (qa + qb) ** 2 / (qa**2 / (na - 1) + qb**2 / (nb - 1))
            lo, hi = _t_interval(mean_diff, se, df, confidence)
            res = _quiet(_st.ttest_ind, xa, xb, equal_var=False)
            t_stat, p = float(res.statistic), float(res.pvalue)
        else:
            lo = hi = mean_diff
            if mean_diff != 0:
                t_stat, p = math.copysign(math.inf, mean_diff), 0.0
        sd_pooled = math.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
        g = _ratio(mean_diff, sd_pooled) * _hedges_j(na + nb - 2)
    res = _quiet(_st.mannwhitneyu, xa, xb, alternative="two-sided")
    p_rank = float(res.pvalue) if res is not None else _NAN

    return Comparison(
        kind="independent", label_a=la, label_b=lb, n=na + nb, n_a=na, n_b=nb,
        mean_a=mean_a, mean_b=mean_b, mean_diff=mean_diff, se=se, df=df,
        ci_low=lo, ci_high=hi, confidence=float(confidence),
        t_statistic=t_stat, p_value=p, p_rank=p_rank, rank_test="Mann-Whitney U",
        effect_size=g, effect_size_name="g", hedges_g=g,
        alpha=float(alpha), significant=bool(p < alpha), verdict=_verdict(lo, hi, la, lb),
    )  # fmt: skip


def holm(pvalues: ArrayLike) -> list[float]:
    """Holm–Bonferroni adjusted p-values (family-wise error rate control).

    Sort the ``m`` p-values ascending, ``p_(1) <= ... <= p_(m)``; the adjusted
    value of ``p_(i)`` is ``max_{j <= i} min(1, (m - j + 1) · p_(j))`` (the
    running maximum keeps the order). Results are returned in the input
    order; reject hypothesis ``k`` at level ``alpha`` when
    ``holm(p)[k] <= alpha``. SciPy has no Holm routine, so this is computed
    here; it is uniformly more powerful than plain Bonferroni.

    Raises:
        ValueError: a p-value is NaN or outside [0, 1], or input not 1-D.

    Example:
        >>> from actlab.lab.stats import holm
        >>> [round(p, 6) for p in holm([0.01, 0.04, 0.03, 0.005])]
        [0.03, 0.06, 0.06, 0.02]
    """
    p = _check_pvalues(pvalues)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return [float(v) for v in adjusted]


def bh(pvalues: ArrayLike) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (false discovery rate control).

    Thin wrapper over :func:`scipy.stats.false_discovery_control` with
    ``method="bh"``, returning plain floats in the input order.

    Raises:
        ValueError: a p-value is NaN or outside [0, 1], or input not 1-D.

    Example:
        >>> from actlab.lab.stats import bh
        >>> [round(p, 6) for p in bh([0.01, 0.04, 0.03, 0.005])]
        [0.02, 0.04, 0.04, 0.02]
    """
    p = _check_pvalues(pvalues)
    if p.size == 0:
        return []
    return [float(v) for v in _st.false_discovery_control(p, method="bh")]


# --------------------------------------------------------------------------- helpers


def _as_1d(values: ArrayLike, name: str) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D sequence of numbers: {exc}") from None
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {x.shape}")
    return x


def _check_finite(x: np.ndarray, name: str) -> None:
    k = int(np.isinf(x).sum())
    if k:
        raise ValueError(f"{name} contains {k} infinite value(s)")


def _check_confidence(confidence: float) -> None:
    if not (isinstance(confidence, numbers.Real) and 0 < confidence < 1):
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


def _check_alpha(alpha: float) -> None:
    if not (isinstance(alpha, numbers.Real) and 0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def _check_labels(labels: tuple[str, str]) -> tuple[str, str]:
    if isinstance(labels, str) or len(labels) != 2:
        raise ValueError(f"labels must be a pair of names, got {labels!r}")
    return str(labels[0]), str(labels[1])


def _check_pvalues(pvalues: ArrayLike) -> np.ndarray:
    p = _as_1d(pvalues, "pvalues")
    k = int(np.isnan(p).sum())
    if k:
        raise ValueError(f"pvalues contain {k} NaN")
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError("pvalues must lie in [0, 1]")
    return p


def _tolerance(*xs: np.ndarray) -> float:
    scale = max(float(np.max(np.abs(x))) for x in xs)
    return _ULPS * float(np.finfo(float).eps) * scale


def _is_constant(x: np.ndarray, tol: float) -> bool:
    return bool(np.max(np.abs(x - np.mean(x))) <= tol)


def _t_interval(center: float, se: float, df: float, confidence: float) -> tuple[float, float]:
    half = float(_st.t.ppf((1 + confidence) / 2, df)) * se
    return center - half, center + half


def _bootstrap_interval(
    x: np.ndarray, confidence: float, n_boot: int, seed: int
) -> tuple[float, float, str]:
    for interval in ("BCa", "percentile"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = _st.bootstrap(
                (x,), np.mean, n_resamples=n_boot, confidence_level=confidence,
                method=interval, **_rng_kwarg(seed),
            )  # fmt: skip
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        degenerate = any(issubclass(w.category, _st.DegenerateDataWarning) for w in caught)
        if not degenerate and math.isfinite(lo) and math.isfinite(hi):
            return lo, hi, interval
    return lo, hi, interval  # pragma: no cover - percentile of finite data is finite


def _rng_kwarg(seed: int) -> dict[str, np.random.Generator]:
    # SciPy >= 1.15 spells the generator ``rng``; older releases ``random_state``.
    key = "rng" if "rng" in inspect.signature(_st.bootstrap).parameters else "random_state"
    return {key: np.random.default_rng(seed)}


def _quiet(func, *args, **kwargs):
    """Call a SciPy test with its warnings silenced; ``None`` if it refuses the data."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            try:
                return func(*args, **kwargs)
            except ValueError:
                return None


def _ratio(num: float, den: float) -> float:
    if den > 0:
        return num / den
    if num == 0 or math.isnan(num):
        return _NAN
    return math.copysign(math.inf, num)


def _hedges_j(df: float) -> float:
    """Hedges' exact bias correction ``Γ(df/2) / (sqrt(df/2) Γ((df-1)/2))``."""
    if df < 1:
        return _NAN
    return math.exp(special.gammaln(df / 2) - special.gammaln((df - 1) / 2)) / math.sqrt(df / 2)


def _verdict(lo: float, hi: float, la: str, lb: str) -> str:
    if lo > 0:
        return f"{la} > {lb}"
    if hi < 0:
        return f"{la} < {lb}"
    return "not different"


def _fmt(x: float, digits: int, sign: bool = False) -> str:
    if math.isnan(x):
        return "nan"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def _fmt_p(p: float) -> str:
    if math.isnan(p):
        return "= nan"
    if p < 0.001:
        return "< 0.001"
    return f"= {p:.3f}" if p < 0.01 else f"= {p:.2f}"


def _fmt_conf(confidence: float) -> str:
    return f"{confidence * 100:g}%"
