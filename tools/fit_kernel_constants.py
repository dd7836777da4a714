"""Recompute the computed and fitted constants of the compiled kernels from mpmath.

Usage (from the repository root, with mpmath and numpy installed, as in .venv):
    python tools/fit_kernel_constants.py            # recompute, fit, and compare (about 15 s)
    python tools/fit_kernel_constants.py --check    # compare only (no fit)
    python tools/fit_kernel_constants.py --points 3001   # a coarser grid for the errors

Either exits 1 where a constant of the file is off. Every constant is read out of
``src/actlab/torch/kernels/kernels.c`` (``--source`` for another copy) and compared with
what this script computes:

(a) gelu' = Phi(x) + x phi(x) near its zero: ``gelu_from`` writes f'(x) = s p(s) for
    s = x - x0, x0 = GELU_D0_HI + GELU_D0_LO (a double pair) and p of degree 5, p(s) =
    sum_k c_k s^k with c_k = gelu^(k+2)(x0) / (k+1)!: the Taylor coefficients of gelu' at x0
    shifted by one (its constant term is 0). The zero and the coefficients come from mpmath
    at 50 digits, rounded to the nearest double; the file's must be within 1 ULP of them.
(b) GELU_RP, GELU_RQ (``gelu_short_fd``, the float32 exports of gelu): R(u) = P(u) / Q(u),
    degrees (6, 7), coefficients from the highest power down and Q's constant term 1, with
    Phi(-u) = e^(-u^2/2) R(u) on [0, 15]. How the committed coefficients were fitted is not
    recorded, so this script fits its own: linearised least squares on the relative error
    (Sanathanan-Koerner, the denominator of the previous step as weight) with Lawson's
    reweighting toward the minimax, then Remez's exchange algorithm on 15 alternating
    extrema, in mpmath at 40 digits. It reports the largest relative error of its fit and of
    the committed coefficients, each against mpmath on a grid of ``--points`` points in
    [0, 15] refined at the largest error, for the rational function evaluated exactly from
    the double coefficients and as the kernel evaluates it (Horner in double). The check:
    every committed coefficient positive (Horner's scheme does not cancel), Q(0) = 1, and the
    committed error at most 1.6e-12, the figure kernels.c states.
(c) The known constants, which nothing fits: ln2's splits for the Cody-Waite reductions
    (LN2_HI with its trailing zeros and LN2_LO in double, LN2_C1 + LN2_C2 + LN2_C3 in float,
    and log1p's 0.693145752f + 1.42860682e-6f), LOG2E, sqrt(2), sqrt(1/2), 1/sqrt(2 pi),
    sqrt(2/pi), SELU's alpha and scale (their closed forms), and tanh_shrink's series (the
    Taylor coefficients of x - tanh x, exact fractions).

Every other coefficient in kernels.c is a series term written as its exact fraction: 1/k!
(INV_FACT, exp_parts's float Taylor series of e^r), the atanh series 1/(2k+1) (log1p01) and
2/(2k+1) (add_log1p_exp_pair). GELU_TANH_K = 0.044715 and QUICK_GELU_BETA = 1.702 are the
definitions of gelu_tanh and quick_gelu, and MAGIC / MAGICF are 1.5 * 2^52 and 1.5 * 2^23.
"""

from __future__ import annotations

import argparse
import re
import struct
import sys
from fractions import Fraction
from pathlib import Path

import mpmath as mp
import numpy as np

SOURCE = Path(__file__).resolve().parents[1] / "src" / "actlab" / "torch" / "kernels" / "kernels.c"
# R's degrees, interval, and the error kernels.c states for the committed coefficients
DEG_P, DEG_Q = 6, 7
U_MAX = 15
STATED_ERROR = 1.6e-12

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


# ---- reading kernels.c --------------------------------------------------------------------
def _code(source: str) -> str:
    """The C source without its comments."""
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", source, flags=re.S)


def _body(code: str, head: str) -> str:
    """The text between the braces of the definition that starts with ``head``."""
    start = code.index(head)
    i = code.index("{", start)
    depth = 0
    for j in range(i, len(code)):
        depth += {"{": 1, "}": -1}.get(code[j], 0)
        if depth == 0:
            return code[i + 1 : j]
    raise ValueError(f"unbalanced braces after {head!r}")


def _scalar(code: str, name: str) -> float:
    m = re.search(rf"\b{name}\s*=\s*({_NUM})f?\s*[,;]", code)
    if not m:
        raise ValueError(f"{name} not found in kernels.c")
    return float(m.group(1))


def _array(code: str, name: str) -> list[float]:
    m = re.search(rf"\b{name}\s*\[\d+\]\s*=\s*\{{([^}}]*)\}}", code)
    if not m:
        raise ValueError(f"{name} not found in kernels.c")
    return [float(v) for v in m.group(1).replace("\n", " ").split(",") if v.strip()]


def read_constants(path: Path = SOURCE) -> dict:
    """The constants of kernels.c that this script checks, by name.

    ``GELU_TAYLOR`` is gelu_from's polynomial p, constant term first (the file's Horner
    scheme starts at the highest power); ``TANH_SHRINK`` is tanh_shrink's, the coefficient of
    x^3 first, as exact fractions.
    """
    code = _code(path.read_text())
    out: dict = {
        name: _scalar(code, name)
        for name in (
            "GELU_D0_HI", "GELU_D0_LO", "LOG2E", "LN2_HI", "LN2_LO", "SQRT2", "SQRT_HALF",
            "INV_SQRT_2PI", "GELU_TANH_C", "SELU_ALPHA", "SELU_SCALE",
            "LN2_C1", "LN2_C2", "LN2_C3",
        )
    }  # fmt: skip
    body = _body(code, "INLINE double gelu_from(")
    first = re.search(rf"double p\s*=\s*({_NUM})\s*;", body)
    rest = re.findall(rf"p\s*=\s*p\s*\*\s*s\s*([-+])\s*({_NUM})\s*;", body)
    if not first or not rest:
        raise ValueError("gelu_from's polynomial not found in kernels.c")
    horner = [float(first.group(1))] + [float(sign + v) for sign, v in rest]
    out["GELU_TAYLOR"] = horner[::-1]
    out["GELU_RP"] = _array(code, "GELU_RP")
    out["GELU_RQ"] = _array(code, "GELU_RQ")
    body = _body(code, "F(tanh_shrink)")
    terms = re.findall(r"(-?\s*\d+)\.0\s*/\s*(\d+)\.0", body)
    out["TANH_SHRINK"] = [Fraction(int(a.replace(" ", "")), int(b)) for a, b in terms][::-1]
    body = _body(code, "INLINE float add_log1p_exp_pair(")
    m = re.search(rf"big \? ({_NUM})f : 0\.0f\)\s*\+\s*cl", body)
    m2 = re.search(rf"two_sum\(big \? ({_NUM})f", body)
    if not m or not m2:
        raise ValueError("add_log1p_exp_pair's split of ln2 not found in kernels.c")
    out["LN2F_HI"], out["LN2F_LO"] = float(m2.group(1)), float(m.group(1))
    return out


# ---- floating-point helpers ---------------------------------------------------------------
def _ordered(x: float) -> int:
    i = struct.unpack("<q", struct.pack("<d", x))[0]
    return i if i >= 0 else -(2**63) - i


def ulps(a: float, b: float) -> int:
    """How many doubles apart a and b are (0: equal; +0 and -0 are 0 apart)."""
    return abs(_ordered(a) - _ordered(b))


def ulps32(a: float, b: float) -> int:
    """The same for the float32 values of a and b."""
    ia, ib = (int(np.float32(v).view(np.int32)) for v in (a, b))
    ia, ib = (i if i >= 0 else -(2**31) - i for i in (ia, ib))
    return abs(ia - ib)


def nearest(x: mp.mpf) -> float:
    """x rounded to the nearest double (mpmath's float() rounds to nearest)."""
    return float(x)


def f32(x: float | mp.mpf) -> float:
    """x rounded to the nearest float32 (via double: exact for the values used here)."""
    return float(np.float32(float(x)))


# ---- (a) gelu' at its zero ----------------------------------------------------------------
def gelu_zero_taylor(degree: int = 5, dps: int = 50) -> tuple[float, float, list[float]]:
    """x0 = the zero of gelu' near -0.7518 as a double pair (hi, lo), and the coefficients
    c_0..c_degree of p with gelu'(x0 + s) = s p(s) + O(s^(degree + 2)), rounded to double."""
    with mp.workdps(dps):

        def dgelu(x):
            return mp.ncdf(x) + x * mp.npdf(x)

        x0 = mp.findroot(dgelu, mp.mpf("-0.7518"))
        hi = nearest(x0)
        lo = nearest(x0 - hi)
        series = mp.taylor(dgelu, x0, degree + 1)  # series[0] = gelu'(x0) = 0
        return hi, lo, [nearest(c) for c in series[1:]]


# ---- (b) the rational Phi -----------------------------------------------------------------
def _target(u):
    """R's exact value: Phi(-u) e^(u^2 / 2), in mpmath."""
    return mp.ncdf(-u) * mp.exp(u * u / 2)


def _horner(coeffs, t):
    """sum_k coeffs[k] t^k (constant term first), in mpmath."""
    s = mp.mpf(0)
    for c in reversed(coeffs):
        s = s * t + c
    return s


def _rel(p, q, t, r):
    return _horner(p, t) / (_horner(q, t) * r) - 1


def fit_rational(*, lawson_steps: int = 10, grid: int = 300, exchange_grid: int = 3000,
                 dps: int = 40, verbose: bool = False) -> tuple[list[float], list[float], float]:
    """R = P / Q of degrees (6, 7) with the least largest relative error on [0, 15], Q(0) = 1.

    In t = u / 15 (so that the powers stay within [0, 1]): a few steps of linearised least
    squares on the relative error with Lawson's weights, whose largest error is near the
    minimax, then Remez's exchange until the 15 alternating extrema are level to 1e-6.
    Returns P's and Q's coefficients in u, highest power first (the file's order), rounded to
    double, and the levelled error E of the unrounded fit.
    """
    n, m = DEG_P, DEG_Q
    scale = mp.mpf(U_MAX)
    with mp.workdps(dps):
        # Lawson: Chebyshev points of [0, 1]
        ts = [mp.mpf(1) / 2 - mp.cos(mp.pi * (i + mp.mpf(1) / 2) / grid) / 2 for i in range(grid)]
        rs = [_target(scale * t) for t in ts]
        w = [mp.mpf(1) / grid] * grid
        p = [mp.mpf(0)] * (n + 1)
        q = [mp.mpf(1)] + [mp.mpf(0)] * m
        k = n + m + 1  # unknowns: p_0..p_n, q_1..q_m
        for step in range(lawson_steps):
            ata = mp.zeros(k, k)
            atb = mp.zeros(k, 1)
            for t, r, wi in zip(ts, rs, w):
                sc = 1 / (r * _horner(q, t))  # (P - r Q) / (r Q_old): the relative error
                row = [sc * t**j for j in range(n + 1)] + [-sc * r * t**j for j in range(1, m + 1)]
                for i in range(k):
                    atb[i] += wi * row[i] * sc * r
                    for j in range(i, k):
                        ata[i, j] += wi * row[i] * row[j]
            for i in range(k):
                for j in range(i):
                    ata[i, j] = ata[j, i]
            x = mp.lu_solve(ata, atb)
            p = [x[j] for j in range(n + 1)]
            q = [mp.mpf(1)] + [x[n + 1 + j] for j in range(m)]
            err = [_rel(p, q, t, r) for t, r in zip(ts, rs)]
            if step >= 2:  # Lawson's update, once the denominator has settled
                w = [wi * abs(e) for wi, e in zip(w, err)]
                total = sum(w)
                w = [wi / total for wi in w]
            if verbose:
                worst = mp.nstr(max(map(abs, err)), 6)
                print(f"  least squares step {step}: max rel error {worst}")

        # Remez's exchange on a fixed grid, extrema refined by golden-section search
        gt = [mp.mpf(i) / exchange_grid for i in range(exchange_grid + 1)]
        gr = [_target(scale * t) for t in gt]

        def extrema(p, q) -> tuple[list, mp.mpf]:
            e = [_rel(p, q, t, r) for t, r in zip(gt, gr)]
            bounds, start = [], 0
            for i in range(1, len(e)):
                if (e[i] > 0) != (e[i - 1] > 0):
                    bounds.append((start, i))
                    start = i
            bounds.append((start, len(e)))
            pts = []
            for a, b in bounds:
                i = max(range(a, b), key=lambda j: abs(e[j]))
                if i in (0, exchange_grid):
                    pts.append(gt[i])
                    continue
                pts.append(_golden(lambda t: abs(_rel(p, q, t, _target(scale * t))),
                                   gt[i - 1], gt[i + 1]))
            return pts, max(abs(v) for v in e)

        pts, emax = extrema(p, q)
        e_level = emax
        for step in range(20):
            while len(pts) > n + m + 2:  # keep the larger end
                ends = [abs(_rel(p, q, t, _target(scale * t))) for t in (pts[0], pts[-1])]
                pts = pts[1:] if ends[0] < ends[1] else pts[:-1]
            if len(pts) < n + m + 2:
                raise RuntimeError(f"Remez: {len(pts)} alternating extrema, {n + m + 2} needed")
            rr = [_target(scale * t) for t in pts]
            e_level, q_old = mp.mpf(0), q
            for _ in range(50):  # P - r Q = (-1)^i E r Q_old at the points, until E settles
                a = mp.zeros(n + m + 2, n + m + 2)
                b = mp.zeros(n + m + 2, 1)
                for i, (t, r) in enumerate(zip(pts, rr)):
                    for j in range(n + 1):
                        a[i, j] = t**j
                    for j in range(1, m + 1):
                        a[i, n + j] = -r * t**j
                    a[i, n + m + 1] = -((-1) ** i) * r * _horner(q_old, t)
                    b[i] = r
                x = mp.lu_solve(a, b)
                p_new = [x[j] for j in range(n + 1)]
                q_new = [mp.mpf(1)] + [x[n + j] for j in range(1, m + 1)]
                settled = abs(x[n + m + 1] - e_level) <= abs(x[n + m + 1]) * mp.mpf(10) ** -20
                e_level, q_old = x[n + m + 1], q_new
                if settled:
                    break
            p, q = p_new, q_new
            pts, emax = extrema(p, q)
            emin = min(abs(_rel(p, q, t, _target(scale * t))) for t in pts)
            if verbose:
                print(f"  Remez step {step}: |E| {mp.nstr(abs(e_level), 8)}, extrema "
                      f"{mp.nstr(emin, 8)} to {mp.nstr(emax, 8)}")
            if emax - emin <= emax * mp.mpf("1e-6"):
                break
        pu = [nearest(c / scale**j) for j, c in enumerate(p)][::-1]
        qu = [nearest(c / scale**j) for j, c in enumerate(q)][::-1]
        return pu, qu, float(abs(e_level))


def _golden(f, lo, hi, steps: int = 40):
    """The maximum of a unimodal f on [lo, hi], by golden-section search."""
    g = (mp.sqrt(5) - 1) / 2
    c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    fc, fd = f(c), f(d)
    for _ in range(steps):
        if fc > fd:
            hi, d, fd = d, c, fc
            c = hi - g * (hi - lo)
            fc = f(c)
        else:
            lo, c, fc = c, d, fd
            d = lo + g * (hi - lo)
            fd = f(d)
    return (lo + hi) / 2


def _horner_double(coeffs_desc: list[float], u: float) -> float:
    s = coeffs_desc[0]
    for c in coeffs_desc[1:]:
        s = s * u + c
    return s


def rational_error(rp: list[float], rq: list[float], points: int = 15001,
                   dps: int = 30) -> dict[str, float]:
    """The largest relative error of R = P / Q (coefficients highest power first) against
    Phi(-u) e^(u^2/2) on ``points`` equally spaced u in [0, 15], refined by golden-section
    search around the grid's largest: ``exact`` evaluates R in mpmath from the double
    coefficients, ``double`` as gelu_short_fd does (Horner in double, then p / q), at the
    grid points. ``at``: where ``exact`` peaks."""
    with mp.workdps(dps):
        p = [mp.mpf(c) for c in rp[::-1]]
        q = [mp.mpf(c) for c in rq[::-1]]
        us = [mp.mpf(U_MAX) * i / (points - 1) for i in range(points)]
        worst, worst_i, worst_d = mp.mpf(0), 0, 0.0
        for i, u in enumerate(us):
            r = _target(u)
            e = abs(_rel(p, q, u, r))
            if e > worst:
                worst, worst_i = e, i
            rd = _horner_double(rp, float(u)) / _horner_double(rq, float(u))
            worst_d = max(worst_d, float(abs(mp.mpf(rd) / r - 1)))
        lo, hi = us[max(worst_i - 1, 0)], us[min(worst_i + 1, points - 1)]
        at = _golden(lambda u: abs(_rel(p, q, u, _target(u))), lo, hi)
        refined = abs(_rel(p, q, at, _target(at)))
        if refined < worst:
            at, refined = us[worst_i], worst
        return {"exact": float(refined), "double": worst_d, "at": float(at)}


# ---- (c) the known constants --------------------------------------------------------------
def _trailing_zero_bits(x: float) -> int:
    man = struct.unpack("<q", struct.pack("<d", x))[0] & ((1 << 52) - 1)
    return (man & -man).bit_length() - 1 if man else 52


def tanh_shrink_series(terms: int) -> list[Fraction]:
    """The Taylor coefficients of x - tanh x from x^3 on (x^3, x^5, ...), exact:
    tanh x = sum_n 2^(2n) (2^(2n) - 1) B_2n x^(2n-1) / (2n)!."""
    out = []
    for n in range(2, terms + 2):
        b = mp.bernfrac(2 * n)
        bern = Fraction(int(b[0]), int(b[1]))
        fact = Fraction(int(mp.factorial(2 * n)))
        out.append(-(2 ** (2 * n)) * (2 ** (2 * n) - 1) * bern / fact)
    return out


def known_constants(c: dict) -> list[tuple[str, str, str, bool]]:
    """(name, the file's value, what it should be, whether it is) for part (c)."""
    rows = []
    with mp.workdps(50):
        ln2 = mp.log(2)
        e1 = mp.erfc(1 / mp.sqrt(2))
        se = mp.sqrt(mp.e)
        alpha = -mp.sqrt(2 / mp.pi) / (e1 * se - 1)
        scale = ((1 - e1 * se) * mp.sqrt(2 * mp.pi)
                 / mp.sqrt(2 * mp.erfc(mp.sqrt(2)) * mp.e**2 + mp.pi * e1**2 * mp.e
                           - 2 * (2 + mp.pi) * e1 * se + mp.pi + 2))  # fmt: skip
        doubles = {
            "LOG2E": 1 / ln2, "SQRT2": mp.sqrt(2), "SQRT_HALF": mp.sqrt(mp.mpf(1) / 2),
            "INV_SQRT_2PI": 1 / mp.sqrt(2 * mp.pi), "GELU_TANH_C": mp.sqrt(2 / mp.pi),
            "SELU_ALPHA": alpha, "SELU_SCALE": scale,
        }  # fmt: skip
        for name, exact in doubles.items():
            d = ulps(c[name], nearest(exact))
            rows.append((name, repr(c[name]), f"{nearest(exact)!r} ({d} ULP)", d <= 1))
        hi, lo = c["LN2_HI"], c["LN2_LO"]
        z = _trailing_zero_bits(hi)
        # k * LN2_HI exact for |k| < 2^11 (k is within +/-1075), and LN2_HI is ln2 to its
        # 53 - z bits (an ULP there is 2^(z - 53), ln2 lying in [1/2, 1))
        rows.append(("LN2_HI", repr(hi), f"ln2 in 53 - {z} bits (>= 11 trailing zero bits)",
                     z >= 11 and abs(mp.mpf(hi) - ln2) < 2.0 ** (z - 53)))
        d = ulps(lo, nearest(ln2 - hi))
        rows.append(("LN2_LO", repr(lo), f"ln2 - LN2_HI = {nearest(ln2 - hi)!r} ({d} ULP)", d <= 1))
        c1, c2, c3 = c["LN2_C1"], c["LN2_C2"], c["LN2_C3"]
        ok1 = c1 * 512 == int(c1 * 512) and abs(mp.mpf(c1) - ln2) < 2.0**-9
        rows.append(("LN2_C1", repr(c1), "ln2 in 9 bits (k * C1 exact)", ok1))
        w2, w3 = f32(ln2 - c1), f32(ln2 - c1 - f32(c2))
        rows.append(("LN2_C2", repr(c2), f"float(ln2 - C1) = {w2!r} ({ulps32(c2, w2)} ULP)",
                     ulps32(c2, w2) <= 1))
        rows.append(("LN2_C3", repr(c3), f"float(ln2 - C1 - C2) = {w3!r} ({ulps32(c3, w3)} ULP)",
                     ulps32(c3, w3) <= 1))
        fh, fl = c["LN2F_HI"], c["LN2F_LO"]
        wl = f32(ln2 - f32(fh))
        rows.append(("log1p's ln2 (float)", f"{fh!r} + {fl!r}",
                     f"hi within 2^-16 of ln2, lo = float(ln2 - hi) = {wl!r}",
                     abs(mp.mpf(f32(fh)) - ln2) < 2.0**-16 and ulps32(fl, wl) <= 1))
    want = tanh_shrink_series(len(c["TANH_SHRINK"]))
    rows.append(("tanh_shrink series", f"{len(c['TANH_SHRINK'])} fractions",
                 "Taylor coefficients of x - tanh x", c["TANH_SHRINK"] == want))
    return rows


# ---- the report ---------------------------------------------------------------------------
def check_taylor(c: dict) -> list[tuple[str, float, float, int]]:
    """(name, the file's value, recomputed, ULP apart) for part (a)."""
    hi, lo, coeffs = gelu_zero_taylor(len(c["GELU_TAYLOR"]) - 1)
    rows = [("GELU_D0_HI", c["GELU_D0_HI"], hi, ulps(c["GELU_D0_HI"], hi)),
            ("GELU_D0_LO", c["GELU_D0_LO"], lo, ulps(c["GELU_D0_LO"], lo))]
    for k, (have, want) in enumerate(zip(c["GELU_TAYLOR"], coeffs)):
        rows.append((f"gelu_from c{k} (s^{k})", have, want, ulps(have, want)))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="compare the file's constants only (no fit); exit 1 if any is off")
    ap.add_argument("--points", type=int, default=15001,
                    help="grid points on [0, 15] for the rational function's error")
    ap.add_argument("--source", type=Path, default=SOURCE, help="kernels.c to read")
    args = ap.parse_args(argv)
    c = read_constants(args.source)
    ok = True

    print("(a) gelu' = Phi + x phi at its zero x0, and its Taylor coefficients (gelu_from)")
    print(f"{'constant':<22} {'kernels.c':>24} {'mpmath, rounded':>24}  ULP")
    for name, have, want, d in check_taylor(c):
        ok &= d <= 1
        print(f"{name:<22} {have!r:>24} {want!r:>24}  {d}{'' if d <= 1 else '  <- off'}")

    print(f"\n(b) R = P / Q, Phi(-u) = e^(-u^2/2) R(u) on [0, {U_MAX}] (GELU_RP, GELU_RQ)")
    rp, rq = c["GELU_RP"], c["GELU_RQ"]
    shape = len(rp) == DEG_P + 1 and len(rq) == DEG_Q + 1 and rq[-1] == 1.0
    positive = all(v > 0 for v in rp + rq)
    ok &= shape and positive
    committed = rational_error(rp, rq, args.points)
    ok &= committed["exact"] <= STATED_ERROR
    print(f"committed: degrees ({len(rp) - 1}, {len(rq) - 1}), Q(0) = {rq[-1]}, all positive: "
          f"{positive}; max rel error {committed['exact']:.4g} at u = {committed['at']:.4g} "
          f"(as evaluated in double: {committed['double']:.4g}; stated: {STATED_ERROR:g})")
    if not args.check:
        fp, fq, level = fit_rational(verbose=True)
        fit = rational_error(fp, fq, args.points)
        print(f"Remez fit: levelled error {level:.4g}; rounded to double, max rel error "
              f"{fit['exact']:.4g} at u = {fit['at']:.4g} (in double: {fit['double']:.4g}); "
              f"all positive: {all(v > 0 for v in fp + fq)}")
        print(f"{'':<4} {'P committed':>24} {'P fit':>24}   {'Q committed':>24} {'Q fit':>24}")
        for k in range(DEG_Q, -1, -1):  # the coefficients of u^k
            pc, pf = (f"{v[DEG_P - k]!r}" if k <= DEG_P else "" for v in (rp, fp))
            print(f"u^{k:<2} {pc:>24} {pf:>24}   {rq[DEG_Q - k]!r:>24} {fq[DEG_Q - k]!r:>24}")

    print("\n(c) known constants")
    for name, have, want, good in known_constants(c):
        ok &= good
        print(f"{name:<22} {have:<28} {want}{'' if good else '  <- off'}")
    print("\nall constants agree" if ok else "\nSOME CONSTANTS ARE OFF")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
