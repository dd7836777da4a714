/* actlab's compiled CPU kernels: every elementwise activation of the catalogue, forward and
 * backward, each one pass over memory; PReLU's and RReLU's tensor-slope loops; and two
 * helpers of the lab's batched trainer.
 *
 * What is transcribed. The element functions computed in double (NAME_f, NAME_d, NAME_fd)
 * are the catalogue's formulas (src/actlab/functions: sigmoidal.py, rectifiers.py, gated.py,
 * shrink.py): the same closed forms, branches, clamps, limits at +/-inf and NaN rules,
 * mostly term for term. Where a definition departs from the catalogue's arithmetic, the
 * comment at it says how: mish and mish' from one exponential, the swish family (swish,
 * silu, quick_gelu) from one exponential and one division, gelu's corrections (gelu_from),
 * the float32-arithmetic forms below. The tests hold every kernel to the mpmath reference,
 * not to the catalogue's code.
 *
 * What is the file's own numerics.
 *  - exp_, expm1_, log1p01 and tanh_ (double): written here rather than taken from libm so
 *    that gcc vectorizes every loop (branch-free code, selects instead of branches). A
 *    Cody-Waite reduction x = k ln2 + r (reduce_ln2: ln2 split as LN2_HI + LN2_LO, fdlibm's
 *    split), then plain series with their exact coefficients: Taylor's 1/k! for e^r - 1
 *    (INV_FACT), the atanh series 1/(2k+1) for log; tanh from expm1. erfc alone comes from
 *    glibc: libmvec's vector variant where it exists (found through the simd attribute),
 *    else libm one lane at a time.
 *  - gelu' near its zero x0 = -0.7518 (gelu_from): its Taylor series in s = x - x0, with x0
 *    a double pair (GELU_D0_HI + GELU_D0_LO) and six coefficients from mpmath; near 0, Phi
 *    moved by 2^-40 to break ties as the exact value does.
 *  - Phi for gelu's float32 exports (gelu_short_fd): a rational function R of degree (6, 7),
 *    Phi(-u) = e^(-u^2/2) R(u) (GELU_RP, GELU_RQ), in place of erfc; the arithmetic stays
 *    double.
 *  - the float32-arithmetic loops (section "float32 arithmetic"): expf_, expm1_pair,
 *    tanhf_ and a log1p in fdlibm's form, on a three-part Cody-Waite reduction (LN2_C1, C2,
 *    C3) and Taylor series in float, with double-float pairs (FMA products, Fast2Sum,
 *    TwoSum) and corrected quotients where a rounding would otherwise dominate.
 * Where the computed constants come from: tools/fit_kernel_constants.py recomputes from mpmath
 * x0 and the Taylor coefficients of gelu' at it (to within an ULP of double), fits R by
 * Remez's algorithm on [0, 15] and measures the file's R against mpmath, and checks the
 * known constants (ln2's splits, sqrt(2/pi), SELU's alpha and scale, tanh_shrink's series);
 * `--check` exits 1 where the file's are off. Every other coefficient is a Taylor or atanh
 * series term written as its exact fraction.
 *
 * Accuracy, and how it is checked. A double kernel reads float32 (or bfloat16 / float16)
 * elements, computes in double in registers and rounds once when it stores, so a result is
 * the exact value rounded twice at most (double, then the storage type): within 0.5 ULP plus
 * 2^-29 ULP of float32. Pure selections (relu, relu6, and the 0-or-1 derivatives of relu,
 * relu6 and hard_shrink) are exact in float32 and run there. The float32-arithmetic kernels
 * (NAME_fwd32_T, NAME_bwd32_T) are not correctly rounded; they stay within the catalogue's
 * bounds (2 ULP forward, 4 ULP derivative). tests/test_fast_paths.py runs every variant of
 * every entry (double, float32-arithmetic, fused) against the mpmath reference on the audit
 * grid, random and edge inputs, in the three storage types; benchmarks/exhaustive_f32.py runs
 * every float32-arithmetic kernel over all 2^32 float32 inputs against the double kernel
 * (and against mpmath where few inputs differ), recorded in docs/benchmarks.md.
 *
 * This file is the one list of kernels. actlab/torch/kernels/__init__.py builds it on first
 * use with the system C compiler (-O3, -march=native where that builds: the cache is keyed
 * by machine), loads it with ctypes, and reads kernels.NAMES, FLOAT32 and FUSED off the
 * built library's exports (the catalogue entries with NAME_fwd_f32; with NAME_fwd32_f32 or
 * NAME_bwd32_f32; with NAME_fwdd_f32). Nothing here calls into Python or torch.
 *
 * Exported functions, for NAME in the catalogue and T in f32, bf16, f16 (as uint16):
 *   void NAME_fwd_T(const T *x, T *y, int64_t n, double a, double b, int threads)
 *   void NAME_bwd_T(const T *s, const T *g, T *gx, int64_t n, double a, double b, int threads)
 * a and b carry the activation's numeric parameters; s is what the forward saved
 * (the input, or the output for the entries whose derivative is a function of it).
 * For the entries of FLOAT32, NAME_fwd32_T and NAME_bwd32_T compute the same in float32
 * arithmetic: within the bounds, not correctly rounded (see the section "float32
 * arithmetic" below; gelu's are in double with the shorter Phi, see gelu_short_fd). Where y
 * is x (an in-place call) the loops still compute f(x): each reads an element before it
 * writes it, and no element that another iteration writes. For the entries of FUSED,
 *   void NAME_fwdd_T(const T *x, T *y, T *d, int64_t n, double a, double b, int threads)
 * stores f and f' together, for training steps that keep the derivative. Two more serve
 * the lab's batched trainer: count_nonzero_rows_f32 (dead units) and softmax_xent_f32 (the
 * output layer's cross-entropy), each described where it is defined.
 */
#include <stdint.h>
#include <string.h>

#if defined(ACTLAB_MVEC)
__attribute__((simd("notinbranch"))) double erfc(double);
#else
double erfc(double);
#endif

#define EXPORT __attribute__((visibility("default")))
#define INLINE static inline __attribute__((always_inline))
#define INF __builtin_inf()
#define NAN_ __builtin_nan("")
/* elementwise loops are split across threads only above this many elements */
#define GRAIN 32768

static const double LOG2E = 1.4426950408889634074;
static const double LN2_HI = 6.93147180369123816490e-01; /* trailing zeros: k * LN2_HI is exact */
static const double LN2_LO = 1.90821492927058770002e-10;
static const double MAGIC = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
static const double SQRT2 = 1.41421356237309504880;
static const double SQRT_HALF = 0.70710678118654752440;
static const double INV_SQRT_2PI = 0.39894228040143267794;
static const double GELU_TANH_C = 0.79788456080286535588; /* sqrt(2 / pi) */
static const double GELU_TANH_K = 0.044715;
static const double SELU_ALPHA = 1.6732632423543772848170429916717;
static const double SELU_SCALE = 1.0507009873554804934193349852946;
static const double QUICK_GELU_BETA = 1.702;

INLINE int64_t bits_of(double x) { int64_t i; memcpy(&i, &x, 8); return i; }
INLINE double from_bits(int64_t i) { double x; memcpy(&x, &i, 8); return x; }
INLINE double fabs_(double x) { return __builtin_fabs(x); }
INLINE int isnan_(double x) { return x != x; }
/* NaN-propagating clamps and min/max: a comparison with NaN is false, so x passes through */
INLINE double min_(double x, double c) { return x > c ? c : x; }
INLINE double max_(double x, double c) { return x < c ? c : x; }
INLINE double clip(double x, double lo, double hi) { return max_(min_(x, hi), lo); }
/* the limit 0 of x * (something that vanishes faster) at x = +/-inf, where IEEE gives NaN */
INLINE double zero_at_inf(double x, double y) { return (isnan_(y) && !isnan_(x)) ? 0.0 : y; }
/* derivative NaN where the input is NaN (piecewise-constant derivatives would lose it) */
INLINE double nan_like(double x, double y) { return isnan_(x) ? x : y; }

/* The reduction shared by e^x and e^x - 1: x = k ln2 + r, |r| <= ln2 / 2 (Cody-Waite, x
 * clipped to [-708, 709] by the caller); *two_k = 2^k, put into the exponent bits. */
INLINE double reduce_ln2(double x, double *two_k) {
    double t = x * LOG2E + MAGIC;
    double k = t - MAGIC;
    *two_k = from_bits((bits_of(t) - bits_of(MAGIC) + 1023) << 52);
    return (x - k * LN2_HI) - k * LN2_LO;
}
/* 1 / k! */
static const double INV_FACT[14] = {1.0, 1.0, 0.5, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0,
    1.0 / 720.0, 1.0 / 5040.0, 1.0 / 40320.0, 1.0 / 362880.0, 1.0 / 3628800.0,
    1.0 / 39916800.0, 1.0 / 479001600.0, 1.0 / 6227020800.0};
/* e^r - 1 = r + r^2 (1/2 + r/6 + ...) by its Taylor series to r^n (n <= 13, a constant) */
INLINE double expm1_series(double r, int n) {
    double p = INV_FACT[n];
    for (int k = n - 1; k >= 2; k--) p = p * r + INV_FACT[k];
    return r + r * (r * p);
}
/* to r^13: remainder below 2^-56 relative */
INLINE double expm1_reduced(double xc, double *two_k) {
    return expm1_series(reduce_ln2(xc, two_k), 13);
}

/* e^x = 2^k (1 + (e^r - 1)), relative error a few 2^-53. Below -708 the result would be
 * subnormal in double: 0 is what every caller needs. */
INLINE double exp_(double x) {
    double two_k;
    double em = expm1_reduced(clip(x, -708.0, 709.0), &two_k);
    double y = two_k * (1.0 + em);
    y = x > 709.0 ? INF : y;
    return x < -708.0 ? 0.0 : y;
}

/* e^x - 1 with full relative accuracy near 0: e^x - 1 = 2^k (e^r - 1) + (2^k - 1), and
 * 2^k - 1 is exact. k = 0 for |x| < ln2 / 2, so the result is the series itself near 0;
 * elsewhere the two terms do not cancel by more than a factor of 2. */
INLINE double expm1_(double x) {
    double two_k;
    double em = expm1_reduced(clip(x, -708.0, 709.0), &two_k);
    double y = two_k * em + (two_k - 1.0);
    y = x > 709.0 ? INF : y;
    return x < -708.0 ? -1.0 : y;
}

/* log(1 + u) for u in [0, 1] (NaN passes): w = 1 + u rounded, log w by the atanh series
 * log m = 2 atanh(f / (2 + f)) on m in [sqrt(1/2), sqrt(2)), and (u - (w - 1)) / w adds
 * back what rounding 1 + u dropped (w - 1 is exact). */
INLINE double log1p01(double u) {
    double w = 1.0 + u;
    double c = (u - (w - 1.0)) / w;
    int big = w > SQRT2;
    double m = big ? 0.5 * w : w;
    double e = big ? 1.0 : 0.0;
    double f = m - 1.0;
    double s = f / (2.0 + f);
    double z = s * s;
    double p = 1.0 / 23.0;
    p = p * z + 1.0 / 21.0;
    p = p * z + 1.0 / 19.0;
    p = p * z + 1.0 / 17.0;
    p = p * z + 1.0 / 15.0;
    p = p * z + 1.0 / 13.0;
    p = p * z + 1.0 / 11.0;
    p = p * z + 1.0 / 9.0;
    p = p * z + 1.0 / 7.0;
    p = p * z + 1.0 / 5.0;
    p = p * z + 1.0 / 3.0;
    double lm = 2.0 * s + 2.0 * s * (z * p);
    return e * LN2_HI + (lm + (c + e * LN2_LO));
}

/* tanh x = E / (E + 2), E = e^(2|x|) - 1, sign restored; tanh is 1 in double beyond 20 */
INLINE double tanh_(double x) {
    double a = min_(fabs_(x), 20.0);
    double em = expm1_(2.0 * a);
    return __builtin_copysign(em / (em + 2.0), x);
}

/* ---- shared pieces of the catalogue (functions/sigmoidal.py) ---------------------- */
INLINE double sigmoid_(double x) {
    double e = exp_(-fabs_(x));
    return (x >= 0.0 ? 1.0 : e) / (1.0 + e);
}
INLINE double sigmoid_grad_(double x) {
    double e = exp_(-fabs_(x));
    return e / ((1.0 + e) * (1.0 + e));
}
INLINE double softplus0(double x) { return max_(x, 0.0) + log1p01(exp_(-fabs_(x))); }
INLINE double window(double x, double lo, double hi, double slope) {
    return nan_like(x, (x > lo && x < hi) ? slope : 0.0);
}
INLINE double leaky(double x, double s) { return x < 0.0 ? s * x : x; }
INLINE double leaky_grad(double x, double s) { return nan_like(x, x > 0.0 ? 1.0 : s); }
/* the same two for a float slope, in float: the product of two floats rounds once there
 * as in double, and the rest are selections (the prelu kernels below) */
INLINE float leakyf(float x, float s) { return x < 0.0f ? s * x : x; }
INLINE float leaky_gradf(float x, float s) { return x != x ? x : (x > 0.0f ? 1.0f : s); }

/* ---- every activation: f and f' (or f' from the output, as noted) -------------------- */
#define F(name) INLINE double name##_f(double x, double a, double b)
#define D(name) INLINE double name##_d(double x, double a, double b)
#define UNUSED (void)a; (void)b

F(sigmoid) { UNUSED; return sigmoid_(x); }
D(sigmoid) { UNUSED; return sigmoid_grad_(x); }
F(log_sigmoid) { UNUSED; return -softplus0(-x); }
D(log_sigmoid) { UNUSED; return sigmoid_(-x); }
F(tanh) { UNUSED; return tanh_(x); }
D(tanh) { UNUSED; double e = exp_(-2.0 * fabs_(x)); return 4.0 * e / ((1.0 + e) * (1.0 + e)); }
F(hard_sigmoid) { UNUSED; return clip(x + 3.0, 0.0, 6.0) / 6.0; }
D(hard_sigmoid) { UNUSED; return window(x, -3.0, 3.0, 1.0 / 6.0); }
F(hard_sigmoid_keras2) { UNUSED; return clip((x + 2.5) / 5.0, 0.0, 1.0); }
D(hard_sigmoid_keras2) { UNUSED; return window(x, -2.5, 2.5, 0.2); }
F(sparse_sigmoid) { UNUSED; return 0.5 * clip(x + 1.0, 0.0, 2.0); }
D(sparse_sigmoid) { UNUSED; return window(x, -1.0, 1.0, 0.5); }
F(hard_tanh) { return clip(x, a, b); } /* a = min_val, b = max_val */
D(hard_tanh) { return window(x, a, b, 1.0); }
F(softsign) { UNUSED; double xc = clip(x, -1e20, 1e20); return xc / (1.0 + fabs_(xc)); }
D(softsign) { UNUSED; double d = 1.0 + fabs_(x); return 1.0 / (d * d); }
F(exponential) { UNUSED; return exp_(x); }
D(exponential) { UNUSED; return x; } /* from the output: (e^x)' = e^x */

/* relu and relu6 are selections, and their derivatives 0 or 1 (or NaN): exact in the
 * storage type's own float32, and cheaper there than in double (twice the lanes per vector,
 * no conversion to double; see FLOAT below); they read the output in backward. */
INLINE float relu_ff(float x, double a, double b) { UNUSED; return x < 0.0f ? 0.0f : x; }
INLINE float relu_df(float y, double a, double b) { UNUSED; return y != y ? y : (y > 0.0f ? 1.0f : 0.0f); }
INLINE float relu6_ff(float x, double a, double b) { UNUSED; return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x); }
INLINE float relu6_df(float y, double a, double b) { UNUSED; return y != y ? y : ((y > 0.0f && y < 6.0f) ? 1.0f : 0.0f); }
F(relu2) { UNUSED; double r = max_(x, 0.0); return r * r; }
D(relu2) { UNUSED; return 2.0 * max_(x, 0.0); }
F(leaky_relu) { (void)b; return leaky(x, a); } /* a = negative_slope (>= 0) */
D(leaky_relu) { (void)b; return leaky_grad(x, a); } /* from the output too (a >= 0) */
F(threshold) { return x <= a ? b : x; } /* a = threshold, b = value */
D(threshold) { (void)b; return nan_like(x, x > a ? 1.0 : 0.0); }
F(elu) { (void)b; return x > 0.0 ? x : a * expm1_(min_(x, 0.0)); }
D(elu) { (void)b; return x > 0.0 ? 1.0 : a * exp_(min_(x, 0.0)); }
F(celu) { (void)b; return x > 0.0 ? x : a * expm1_(min_(x, 0.0) / a); }
D(celu) { (void)b; return x > 0.0 ? 1.0 : exp_(min_(x, 0.0) / a); }
F(selu) { UNUSED; return SELU_SCALE * (x > 0.0 ? x : SELU_ALPHA * expm1_(min_(x, 0.0))); }
D(selu) { UNUSED; return SELU_SCALE * (x > 0.0 ? 1.0 : SELU_ALPHA * exp_(min_(x, 0.0))); }
F(softplus) { double bx = a * x; return bx > b ? x : softplus0(bx) / a; } /* a = beta, b = threshold */
D(softplus) { double bx = a * x; return nan_like(x, bx > b ? 1.0 : sigmoid_(bx)); }
F(squareplus) { /* a = b (the curvature), b unused; a < 1e300 so x * x + a stays finite */
    (void)b;
    double s = __builtin_sqrt(x * x + a);
    return x < 0.0 ? (a / 4.0) / (s / 2.0 - x / 2.0) : x / 2.0 + s / 2.0;
}
D(squareplus) {
    (void)b;
    double s = __builtin_sqrt(x * x + a);
    double ratio = fabs_(x) == INF ? 1.0 : x / s;
    return x < 0.0 ? (a / (4.0 * s)) / (s / 2.0 - x / 2.0) : (1.0 + ratio) / 2.0;
}
F(sparse_plus) {
    UNUSED;
    double q = (x + 1.0) * (x + 1.0) / 4.0;
    return x <= -1.0 ? 0.0 : (x >= 1.0 ? x : q);
}
D(sparse_plus) { UNUSED; return 0.5 * clip(x + 1.0, 0.0, 2.0); }

/* functions/gated.py */
INLINE double phi_cdf(double x) { return 0.5 * erfc(-x * SQRT_HALF); }
/* gelu and its derivative together (NAME_fd: f returned, f' through *d): Phi(x) is the
 * costly part of both, and computed once where the two are wanted (the fwdd kernels).
 * Two places need more than Phi in double. Near 0, Phi = 1/2 + x / sqrt(2 pi); below
 * |x| = 2^-60 that term no longer moves a double 1/2, yet x Phi can lie halfway between two
 * floats (x / 2 for a subnormal x), so 1/2 is moved by 2^-40 towards x's side: the tie
 * then breaks as the exact value's does (ties to even got half of them wrong). Near the
 * zero x0 of gelu' (-0.7518), Phi + x phi cancels (erfc's last-bit error became 0.58 ULP
 * of float32 there): within 2^-10 of x0, f' is its Taylor series in s = x - x0
 * (coefficients from mpmath, recomputed by tools/fit_kernel_constants.py; s exact to 2^-53
 * relative, x0 a double pair; the series' error there is below 1e-20 of f'). */
static const double GELU_D0_HI = -0.7517915246935645, GELU_D0_LO = 1.4956759177009883e-17;
/* x Phi and Phi + x phi from Phi and phi, with the two corrections above */
INLINE double gelu_from(double x, double cdf, double pdf, double *d) {
    cdf = fabs_(x) < 0x1p-60 ? 0.5 + __builtin_copysign(0x1p-40, x) : cdf;
    double s = (x - GELU_D0_HI) - GELU_D0_LO;
    double p = 0.019421679838189067;
    p = p * s - 0.014771522148244337;
    p = p * s - 0.1140082332972217;
    p = p * s - 0.018199676398671087;
    p = p * s + 0.388284982990552;
    p = p * s + 0.4314939923140469;
    *d = fabs_(s) < 0x1p-10 ? s * p : cdf + zero_at_inf(x, x * pdf);
    /* below -15, f' is negative and far below every float: -0, as it rounds (phi and Phi
     * themselves reach 0 in double below -37, where the sum would come out +0) */
    *d = (x < -15.0 && x > -INF) ? -0.0 : *d;
    return zero_at_inf(x, x * cdf);
}
INLINE double gelu_fd(double x, double a, double b, double *d) {
    UNUSED;
    return gelu_from(x, phi_cdf(x), INV_SQRT_2PI * exp_(-0.5 * x * x), d);
}
/* The same from a shorter Phi, for the float32 exports (gelu_fwd32, gelu_bwd32): Phi(-u) =
 * e^(-u^2/2) R(u) for u = |x|, R a rational function of degree (6, 7) fitted to mpmath on
 * [0, 15] (relative error 1.6e-12, measured by tools/fit_kernel_constants.py, whose Remez
 * fit reaches 1.2e-12; every coefficient positive, so Horner's scheme does not cancel; Q's
 * constant term 1), e^(-u^2/2) by exp_short, which also gives phi. u^2 is exact in double
 * for a float u. Beyond u = 15 the tail is 0 (15 phi(15) is below half the least
 * subnormal float). One exponential and one division instead of glibc's erfc and an exponential:
 * within 2^-39 of the double kernel's Phi, so results differ from it only within about
 * 2^-15 ULP of a midpoint between floats. */
static const double GELU_RP[7] = {1.765059931709065e-04, 2.932249570144765e-03,
    2.3112097971080058e-02, 0.10875656247801664, 0.32152342559479613, 0.5720670906304623,
    0.500000000000319};
static const double GELU_RQ[8] = {4.4243485723990543e-04, 7.350064290815477e-03,
    5.837570055849897e-02, 0.2799662495412217, 0.8629276938965164, 1.6925536202244587,
    1.9420187421590667, 1.0};
/* e^x for x in [-113, 0]: reduce_ln2, then the Taylor series to r^10 (remainder below
 * 2^-42) */
INLINE double exp_short(double x) {
    double two_k, r = reduce_ln2(x, &two_k);
    return two_k * (1.0 + expm1_series(r, 10));
}
INLINE double gelu_short_fd(double x, double *d) {
    double u = fabs_(x), uc = min_(u, 15.0);
    double e = exp_short(-0.5 * uc * uc);
    double p = GELU_RP[0], q = GELU_RQ[0];
    for (int i = 1; i < 7; i++) p = p * uc + GELU_RP[i];
    for (int i = 1; i < 8; i++) q = q * uc + GELU_RQ[i];
    double tail = u > 15.0 ? 0.0 : e * (p / q); /* Phi(-u); NaN stays NaN */
    double pdf = u > 15.0 ? 0.0 : INV_SQRT_2PI * e;
    return gelu_from(x, x < 0.0 ? tail : 1.0 - tail, pdf, d);
}
INLINE double gelu_tanh_arg(double x) { return 2.0 * GELU_TANH_C * (x + GELU_TANH_K * x * x * x); }
F(gelu_tanh) { UNUSED; return zero_at_inf(x, x * sigmoid_(gelu_tanh_arg(x))); }
D(gelu_tanh) {
    UNUSED;
    double v = gelu_tanh_arg(x);
    double xc = clip(x, -100.0, 100.0);
    double vc = gelu_tanh_arg(xc);
    double dv = 2.0 * GELU_TANH_C * (1.0 + 3.0 * GELU_TANH_K * xc * xc);
    return sigmoid_(v) + xc * dv * sigmoid_grad_(vc);
}
/* x sigmoid(beta x) and its derivative s + beta x s (1 - s), s = sigmoid(beta x): one
 * exponential e = e^-|beta x| and one division r = 1 / (1 + e) give s and 1 - s (r and
 * e r, in the order of beta x's sign) without cancellation */
INLINE double swish_beta_fd(double x, double beta, double *d) {
    double bx = beta * x;
    double e = exp_(-fabs_(bx));
    double r = 1.0 / (1.0 + e);
    double s = bx >= 0.0 ? r : e * r;
    double c = bx >= 0.0 ? e * r : r;
    *d = s + zero_at_inf(bx, bx * (s * c));
    return zero_at_inf(x, x * s);
}
/* a = beta */
INLINE double swish_fd(double x, double a, double b, double *d) { (void)b; return swish_beta_fd(x, a, d); }
INLINE double silu_fd(double x, double a, double b, double *d) { UNUSED; return swish_beta_fd(x, 1.0, d); }
INLINE double quick_gelu_fd(double x, double a, double b, double *d) {
    UNUSED;
    return swish_beta_fd(x, QUICK_GELU_BETA, d);
}
/* mish x = x tanh(softplus x) = x q / (q + 2), q = n (n + 2), n = e^x: one exponential, no
 * log, and no 1 - tanh cancellation; above x = 40 it is x in double. Its derivative
 * tanh(sp) + x sech^2(sp) sigmoid(x), with sech^2(sp) = 4 (n + 1)^2 / (q + 2)^2 and
 * sigmoid(x) = n / (n + 1), is n ((n + 2)(q + 2) + 4 x (n + 1)) / (q + 2)^2: the same
 * exponential and one more division. */
INLINE double mish_fd(double x, double a, double b, double *d) {
    UNUSED;
    double n = exp_(min_(x, 40.0));
    double q = n * (n + 2.0);
    double p = q + 2.0;
    double num = n * ((n + 2.0) * p + 4.0 * x * (n + 1.0));
    double dd = x == -INF ? 0.0 : num / (p * p);
    *d = x > 40.0 ? 1.0 : dd;
    return x > 40.0 ? x : zero_at_inf(x, x * (q / p));
}
/* f and f' of the entries defined by NAME_fd (the unused half is compiled away) */
#define FD(name)                                                                             \
    F(name) { double d; return name##_fd(x, a, b, &d); }                                    \
    D(name) { double d; (void)name##_fd(x, a, b, &d); return d; }
FD(gelu)
FD(swish)
FD(silu)
FD(quick_gelu)
FD(mish)
F(hard_swish) { UNUSED; return zero_at_inf(x, x * (clip(x + 3.0, 0.0, 6.0) / 6.0)); }
D(hard_swish) { UNUSED; return x <= -3.0 ? 0.0 : (x >= 3.0 ? 1.0 : (2.0 * x + 3.0) / 6.0); }
F(hard_mish) { UNUSED; return zero_at_inf(x, 0.5 * x * clip(x + 2.0, 0.0, 2.0)); }
D(hard_mish) { UNUSED; return x < -2.0 ? 0.0 : (x > 0.0 ? 1.0 : x + 1.0); }

/* functions/shrink.py */
F(hard_shrink) { (void)b; return (x >= -a && x <= a) ? 0.0 : x; } /* a = lambd */
/* backward reads the output: |x| <= lambd exactly where f(x) == 0 (lambd >= 0), a test
 * that needs no lambd and is exact in float32 */
INLINE float hard_shrink_df(float y, double a, double b) { UNUSED; return y != y ? y : (y == 0.0f ? 0.0f : 1.0f); }
F(soft_shrink) { (void)b; return x > a ? x - a : (x < -a ? x + a : x * 0.0); }
D(soft_shrink) { (void)b; return nan_like(x, (x > a || x < -a) ? 1.0 : 0.0); }
F(tanh_shrink) {
    UNUSED;
    double z = x * x;
    double p = -6404582.0 / 10854718875.0;
    p = p * z + 929569.0 / 638512875.0;
    p = p * z + -21844.0 / 6081075.0;
    p = p * z + 1382.0 / 155925.0;
    p = p * z + -62.0 / 2835.0;
    p = p * z + 17.0 / 315.0;
    p = p * z + -2.0 / 15.0;
    p = p * z + 1.0 / 3.0;
    double series = p * z * x;
    return fabs_(x) < 0.1 ? series : x - tanh_(x);
}
D(tanh_shrink) { UNUSED; double t = tanh_(x); return t * t; }

/* ---- float32 arithmetic (the "compiled32" variant) ----------------------------------
 * Eight lanes per AVX2 vector instead of four and shorter polynomials, for the entries where
 * float32 arithmetic stays within the catalogue's bounds (2 ULP forward, 4 ULP derivative):
 * faster than the double kernels above by a factor that depends on the kernel and the
 * machine (measured in docs/benchmarks.md). Not correctly rounded:
 * the largest distance from the double kernels over all 2^32 float32 inputs is measured by
 * benchmarks/exhaustive_f32.py and recorded in docs/benchmarks.md; the rounding errors that
 * would otherwise dominate are removed where they arise (a quotient's remainder by FMA,
 * 1 + e by Fast2Sum, e^x carried as a pair hi + lo to about 2^-30). Derivatives with a
 * zero (silu', swish', quick_gelu', mish') have no such kernel: near the zero, float32
 * arithmetic loses all relative accuracy. gelu's float32 exports, gelu_fwd32 and gelu_bwd32,
 * are not float32 arithmetic: they compute in double with the shorter Phi (gelu_short_fd),
 * and gelu' keeps its Taylor series at the zero (gelu_from). */
INLINE float minf_(float x, float c) { return x > c ? c : x; }
INLINE float maxf_(float x, float c) { return x < c ? c : x; }
INLINE float clipf_(float x, float lo, float hi) { return maxf_(minf_(x, hi), lo); }
INLINE float fabsf_(float x) { return __builtin_fabsf(x); }
INLINE float fmaf_(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
INLINE int32_t fbits(float x) { int32_t i; memcpy(&i, &x, 4); return i; }
INLINE float ffrom(int32_t i) { float x; memcpy(&x, &i, 4); return x; }
static const float MAGICF = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
static const float LN2_C1 = 0.693359375f;            /* ln2's leading 9 bits: k * C1 exact */
static const float LN2_C2 = -2.12194442e-4f;         /* ln2 - C1, rounded */
static const float LN2_C3 = 1.64659497e-12f;         /* ln2 - C1 - C2 */

/* e^x = (hi + lo) 2^k: the reduction x = k ln2 + r (its first step exact, what rounding r
 * loses kept in rl), then e^r = 1 + r + r^2 q(r) + rl e^r, q the Taylor series to r^8
 * (remainder below 2^-32), summed so that hi + lo carries e^r to about 2^-30 (|lo| at
 * most half an ULP of hi: the corrections below assume a small low part). x must be
 * within [-174, 88.75]; k comes back in the bits of *t. An argument given as a pair x + xl
 * (|xl| up to 2^-16; pair = 1) joins rl: e^(x + xl) to the same accuracy, where rounding
 * the argument would cost |x| 2^-24. pair is a constant at every call: without a low part
 * (xl = -0, which the compiler drops), rl e^r is rl (1 + r) to 2^-32, one FMA less. */
INLINE float exp_parts(float x, float xl, int pair, float *lo, float *t) {
    *t = fmaf_(x, 1.44269504088896341f, MAGICF);
    float k = *t - MAGICF;
    float r1 = fmaf_(-k, LN2_C1, x);
    float r = fmaf_(-k, LN2_C2, r1);
    float rl = fmaf_(-k, LN2_C3, fmaf_(-k, LN2_C2, r1 - r)) + xl;
    float q = 1.0f / 40320.0f;
    q = fmaf_(q, r, 1.0f / 5040.0f);
    q = fmaf_(q, r, 1.0f / 720.0f);
    q = fmaf_(q, r, 1.0f / 120.0f);
    q = fmaf_(q, r, 1.0f / 24.0f);
    q = fmaf_(q, r, 1.0f / 6.0f);
    q = fmaf_(q, r, 0.5f);
    float h = 1.0f + r;
    float r2 = r * r;
    float l = ((1.0f - h) + r) + fmaf_(q, r2, fmaf_(pair ? fmaf_(q, r2, r) : r, rl, rl));
    float hi = h + l; /* normalized (Fast2Sum): |lo| <= half an ULP of hi */
    *lo = (h - hi) + l;
    return hi;
}
INLINE int32_t k_of(float t) { return fbits(t) - fbits(MAGICF); }
INLINE float pow2f(int32_t k) { return ffrom((k + 127) << 23); } /* -126 <= k <= 127 */

/* e^x = (n + nl) m: n, nl scaled by 2^(k/2) (normal), m the rest of 2^k, so that
 * multiplying by m last rounds once, also into the subnormals */
INLINE float exp_pair_lo(float x, float xl, int pair, float *nl, float *m) {
    float t, lo;
    float hi = exp_parts(clipf_(x, -174.0f, 88.75f), xl, pair, &lo, &t);
    int32_t k = k_of(t), k1 = k >> 1;
    float s1 = pow2f(k1);
    *m = pow2f(k - k1);
    *nl = lo * s1;
    return hi * s1;
}
INLINE float exp_pair(float x, float *nl, float *m) {
    return exp_pair_lo(clipf_(x, -150.0f, 88.75f), -0.0f, 0, nl, m);
}
INLINE float expf_(float x) {
    float nl, m;
    float n = exp_pair(x, &nl, &m);
    float y = (n + nl) * m;
    y = x > 88.75f ? __builtin_inff() : y;
    return x < -104.0f ? 0.0f : y;
}
/* e^(x + xl) - 1 = 2^k (hi + lo) - 1 for -30 <= x <= 88 (callers clip) as a pair: 2^k hi - 1
 * by Fast2Sum (the larger of the two first) */
INLINE float expm1_pair(float x, float xl, int pair, float *el) {
    float t, lo;
    float hi = exp_parts(x, xl, pair, &lo, &t);
    float two_k = pow2f(k_of(t));
    float h = hi * two_k;
    float e = h - 1.0f;
    float big = fabsf_(h) >= 1.0f ? h : -1.0f, small = fabsf_(h) >= 1.0f ? -1.0f : h;
    *el = ((big - e) + small) + lo * two_k;
    return e;
}
/* x + xl + c as a pair, for a constant c: Fast2Sum, the larger first */
INLINE float add_pair(float x, float xl, float c, float *sl) {
    float sum = x + c;
    float big = fabsf_(x) >= fabsf_(c) ? x : c, small = fabsf_(x) >= fabsf_(c) ? c : x;
    *sl = ((big - sum) + small) + xl;
    return sum;
}
/* 1 + e + el as a pair, for 0 <= e <= 1 (Fast2Sum: 1 is the larger) */
INLINE float one_plus(float e, float el, float *dl) {
    float d = 1.0f + e;
    *dl = ((1.0f - d) + e) + el;
    return d;
}
/* (a + al) / (d + dl), rounded about once, given inv = 1 / d (one division serves every
 * quotient by d): q = a inv is within an ULP or so, and its remainder (exact by FMA) and
 * the low parts make the correction, which needs inv to a few bits only */
INLINE float div_pair(float a, float al, float d, float dl, float inv) {
    float q = a * inv;
    float rem = fmaf_(-q, d, a) + al;
    return fmaf_(rem - q * dl, inv, q);
}
/* sigmoid(x) = n / (1 + e) with e = e^-|x| = (n + nl) m, n = 1 for x >= 0. The argument may
 * be a pair x + xl, given as ml, the low part of -|x + xl| (-0 where there is none). */
INLINE float sigmoidf_lo(float x, float ml, int pair) {
    float nl, m;
    float n = exp_pair_lo(-fabsf_(x), ml, pair, &nl, &m);
    float dl, d = one_plus(n * m, nl * m, &dl);
    int neg = x < 0.0f;
    return div_pair(neg ? n : 1.0f, neg ? nl : 0.0f, d, dl, 1.0f / d) * (neg ? m : 1.0f);
}
INLINE float sigmoidf_(float x) { return sigmoidf_lo(x, -0.0f, 0); }
/* c sigmoid(|x|) sigmoid(-|x|) for a power of 2 c: e's power of 2 applied last, so that a
 * subnormal result rounds once */
INLINE float sigmoid_gradf_(float x, float c) {
    float nl, m;
    float n = exp_pair(-fabsf_(x), &nl, &m);
    float dl, d = one_plus(n * m, nl * m, &dl);
    float inv = 1.0f / d;
    return (c * div_pair(1.0f, 0.0f, d, dl, inv)) * div_pair(n, nl, d, dl, inv) * m;
}
/* x sigmoid(v) (v = x for silu, beta x for swish): x / (1 + e) for v >= 0, x (n + nl) m /
 * (1 + e) below, e = e^-|v| = (n + nl) m, x n kept as an exact pair by FMA. v may be a pair
 * v + vl, given as ml, the low part of -|v + vl| (-0 where there is none). Below v = -174,
 * x e^v is 0 for every caller (for swish, x = v / beta with beta >= 2^-40, and 174 2^40
 * e^-174 underflows); at x = +/-inf, the limits the double kernels take: x where sigmoid
 * is 1, else 0. pair as for exp_parts. */
INLINE float x_sigmoidf(float x, float v, float ml, int pair) {
    float nl, m;
    float n = exp_pair_lo(-fabsf_(v), ml, pair, &nl, &m);
    float dl, d = one_plus(n * m, nl * m, &dl);
    int neg = v < 0.0f;
    float a = neg ? x * n : x;
    float al = neg ? fmaf_(x, n, -a) + x * nl : 0.0f;
    float y = div_pair(a, al, d, dl, 1.0f / d) * (neg ? m : 1.0f);
    y = v < -174.0f ? x * 0.0f : y; /* exp_pair_lo clipped v */
    y = x == 0.0f ? x : y;          /* -0 stays -0 (the correction would make it +0) */
    return fabsf_(x) == __builtin_inff() ? (v > 0.0f ? x : 0.0f) : y;
}
/* x sigmoid(v + vl) for a pair whose low part may be anything where |v| >= 256 (sigmoid is
 * 0 or 1 there): that of -|v + vl| for x_sigmoidf */
INLINE float x_sigmoid_pair(float x, float v, float vl) {
    float ml = v < 0.0f ? vl : -vl;
    return x_sigmoidf(x, v, fabsf_(v) < 256.0f ? ml : 0.0f, 1);
}
/* beta x = v + vl for beta = bh + bl (two floats): x bh exact by FMA */
INLINE float mul_pair(float x, float bh, float bl, float *vl) {
    float v = x * bh;
    *vl = fmaf_(x, bh, -v) + x * bl;
    return v;
}
/* tanh |x| = E / (E + 2), E = e^(2|x|) - 1 as a pair; sign restored; 1 beyond 9.1 */
INLINE float tanhf_(float x) {
    float el, dl;
    float e = expm1_pair(2.0f * minf_(fabsf_(x), 10.0f), -0.0f, 0, &el);
    float d = add_pair(e, el, 2.0f, &dl);
    return __builtin_copysignf(div_pair(e, el, d, dl, 1.0f / d), x);
}
/* c e^(x + xl) for x <= 0 and c (e^(x + xl) - 1), the products in double from the pairs: c
 * rounds nowhere, and the result rounds once (also into the subnormals) */
INLINE float scaled_expf(double c, float x, float xl, int pair) {
    float nl, m;
    float n = exp_pair_lo(clipf_(x, -150.0f, 88.75f), xl, pair, &nl, &m);
    return x < -150.0f ? 0.0f : (float)(c * ((double)n + (double)nl) * (double)m);
}
INLINE float scaled_expm1f(double c, float x, float xl, int pair) {
    float el;
    float e = expm1_pair(clipf_(x, -30.0f, 0.0f), xl, pair, &el);
    return x < -30.0f ? (float)-c : (float)(c * ((double)e + (double)el));
}
/* a + b exactly as s + *err (Knuth's TwoSum: no ordering needed) */
INLINE float two_sum(float a, float b, float *err) {
    float s = a + b;
    float bb = s - a;
    *err = (a - (s - bb)) + (b - bb);
    return s;
}
/* c + cl + log(1 + e) for 0 <= e <= 1 given as n m + nl m (exp_pair's form) and c >= 0 (cl
 * small against it), as a pair t + *tl: 1 + e as a pair d + dl; log d by fdlibm's form
 * log(1 + g) = g - g^2/2 + s (g^2/2 + R(s^2)) on d in [sqrt(1/2), sqrt(2)) (halved above,
 * + ln2), s = g / (2 + g), R the atanh series to s^10 (remainder below 2^-34), dl / d
 * for the low part. The large terms (c, k ln2, g - g^2/2) are summed exactly (TwoSum,
 * FMA) and the small ones added last. For tiny e, d = 1 and log1p(e) is dl = e, which the
 * float sum below rounds once (also into the subnormals). */
INLINE float add_log1p_exp_pair(float c, float cl, float n, float nl, float m, float *tl) {
    float e = n * m;
    float dl, d = one_plus(e, nl * m, &dl);
    int big = d > 1.41421356f;
    float mm = big ? 0.5f * d : d; /* exact */
    float g = mm - 1.0f;           /* exact (Sterbenz) */
    float s = g / (2.0f + g);
    float z = s * s;
    float r = 2.0f / 11.0f;
    r = fmaf_(r, z, 2.0f / 9.0f);
    r = fmaf_(r, z, 2.0f / 7.0f);
    r = fmaf_(r, z, 2.0f / 5.0f);
    r = fmaf_(r, z, 2.0f / 3.0f);
    r = r * z;
    float hg = 0.5f * g; /* exact */
    float h = hg * g;
    float h_lo = fmaf_(hg, g, -h); /* g^2 / 2 = h + h_lo exactly */
    float e1, e2, e3;
    float hi = two_sum(g, -h, &e1);
    float small = fmaf_(s, h + r, dl / d) + (e1 - h_lo) + (big ? 1.42860682e-6f : 0.0f) + cl;
    float t1 = two_sum(big ? 0.693145752f : 0.0f, hi, &e2); /* ln2 = 0.693145752 + 1.4286e-6 */
    float t = two_sum(c, t1, &e3);
    *tl = small + (e2 + e3);
    return t;
}
/* the same rounded to a float, for an exact c (the compiler drops the + -0) */
INLINE float add_log1p_expf(float c, float n, float nl, float m) {
    float tl, t = add_log1p_exp_pair(c, -0.0f, n, nl, m, &tl);
    return t + tl;
}
/* softplus x = max(x, 0) + log(1 + e^-|x|) (beta 1), x itself above the threshold b */
INLINE float softplus1f(float x, double b) {
    float nl, m;
    float n = exp_pair(-fabsf_(x), &nl, &m);
    float y = add_log1p_expf(maxf_(x, 0.0f), n, nl, m);
    return (double)x > b ? x : (x == __builtin_inff() ? x : y);
}
/* mish x = x tanh(softplus x) = x u / (u + 2), u = e^x (e^x + 2), e^x = (n + nl) m (x <= 40;
 * x itself above, as in double). With u' = (n + nl)(e^x + 2), u = u' m: u' as a pair by FMA,
 * the product x u' as a pair, one corrected quotient by u + 2, and m applied last, so a
 * subnormal result rounds once. */
INLINE float mishf_(float x) {
    float nl, m;
    float n = exp_pair(minf_(x, 40.0f), &nl, &m);
    float pl, p = add_pair(n * m, nl * m, 2.0f, &pl); /* e^x + 2 */
    float u = n * p;
    float ul = fmaf_(n, p, -u) + (n * pl + nl * p);
    float dl, d = add_pair(u * m, ul * m, 2.0f, &dl); /* u + 2 */
    float a = x * u;
    float al = fmaf_(x, u, -a) + x * ul;
    float y = div_pair(a, al, d, dl, 1.0f / d) * m;
    y = x < -150.0f ? -0.0f : y; /* x e^x underflows (and exp_pair clipped x) */
    y = x == -__builtin_inff() ? 0.0f : y; /* the limit */
    return x > 40.0f ? x : y;
}
/* x c for a double c = hi + lo (hi, lo floats): rounded once from x hi + round(x lo), which
 * is x c to within 2^-48 of it (so: correctly rounded but for inputs within that distance
 * of a midpoint, as the double kernels but for double rounding); an infinite x gives x hi */
INLINE float mul_split(float x, float hi, float lo) {
    return fabsf_(x) == __builtin_inff() ? x * hi : fmaf_(x, hi, x * lo);
}
/* (t + tl) / c for a constant c, given inv = 1 / c rounded: div_pair without a low part in
 * the divisor (the compiler cannot drop div_pair's q * 0, which is NaN for q = inf) */
INLINE float div_const(float t, float tl, float c, float inv) {
    float q = t * inv;
    return fmaf_(fmaf_(-q, c, t) + tl, inv, q);
}
/* (t + tl) / 6 rounded about once */
INLINE float div6(float t, float tl) { return div_const(t, tl, 6.0f, 1.0f / 6.0f); }
/* x + 3 and its rounding error *err, exact where |x| <= 3 (Fast2Sum: 3 is the larger) */
INLINE float plus3(float x, float *err) {
    float s = x + 3.0f;
    *err = x - (s - 3.0f);
    return s;
}
static const double SELU_SA = SELU_SCALE * SELU_ALPHA;

/* Functions of a scaled argument: swish's beta x, quick_gelu's 1.702 x, celu's x / alpha,
 * softplus's beta x. Rounding the argument to a float would cost up to |arg| 2^-24 of
 * relative error in e^arg, 100 ULP and more in the tails; each is formed as a pair v + vl
 * instead (products of floats exact by FMA, the constant split into two floats), and the
 * low part joins e^v's reduction (exp_parts). */
/* 1.702 = QG_HI + QG_LO */
static const float QG_HI = 1.702f, QG_LO = (float)(1.702 - (double)1.702f);
/* celu for x <= 0: alpha (e^u - 1), u = x / alpha = x (ih + il), 1 / alpha split in two
 * floats; where |u| < 2^-26 the result rounds to x itself (e^u - 1 = u (1 + u / 2 ...)),
 * which also keeps the pair away from the subnormals */
INLINE float celuf_(float x, float ih, float il, double alpha) {
    float ul, u = mul_pair(x, ih, il, &ul);
    float y = fabsf_(u) < 0x1p-26f ? x + 0.0f : scaled_expm1f(alpha, u, ul, 1); /* -0: +0 */
    return x > 0.0f ? x : y;
}
INLINE float celu_gradf(float x, float ih, float il) {
    float ul, u = mul_pair(minf_(x, 0.0f), ih, il, &ul);
    return x > 0.0f ? 1.0f : scaled_expf(1.0, u, ul, 1);
}
/* softplus for beta = bh + bl other than 1: log(1 + e^v) / beta, v = beta x as a pair.
 * max(v, 0) + log(1 + e^-|v|) as a pair t + tl, divided by beta in double; below v = -10,
 * where log(1 + e) = e - e^2 / 2 to 2^-45 but 1 + e leaves e only a few bits of the pair,
 * that series in double from exp_pair_lo's parts instead (also where the result lies far
 * below the float32 range of e, for beta < 1: it rounds once). x itself where beta x > b
 * (compared in double, as the double kernel does) and where v > 64. */
INLINE float softplus_betaf(float x, float bh, float bl, double a, double b) {
    float vl, v = mul_pair(x, bh, bl, &vl);
    vl = fabsf_(v) < 256.0f ? vl : 0.0f;
    int neg = v < 0.0f;
    float nl, m;
    float n = exp_pair_lo(-fabsf_(v), neg ? vl : -vl, 1, &nl, &m);
    float tl, t = add_log1p_exp_pair(neg ? 0.0f : v, neg ? 0.0f : vl, n, nl, m, &tl);
    double e = ((double)n + (double)nl) * (double)m;
    float y = (float)(v < -10.0f ? e * (1.0 - 0.5 * e) / a : ((double)t + (double)tl) / a);
    return ((double)x * a > b || v > 64.0f) ? x : y;
}
INLINE float softplus_beta_gradf(float x, float bh, float bl, double a, double b) {
    float vl, v = mul_pair(x, bh, bl, &vl);
    float ml = v < 0.0f ? vl : -vl;
    float s = sigmoidf_lo(v, fabsf_(v) < 256.0f ? ml : 0.0f, 1);
    return (double)x * a > b ? 1.0f : s;
}

#define G(name) INLINE float name##_g(float x, double a, double b)
#define GD(name) INLINE float name##_gd(float x, double a, double b)
G(sigmoid) { UNUSED; return sigmoidf_(x); }
GD(sigmoid) { UNUSED; return sigmoid_gradf_(x, 1.0f); }
G(silu) { UNUSED; return x_sigmoidf(x, x, -0.0f, 0); }
G(exponential) { UNUSED; return expf_(x); }
GD(exponential) { UNUSED; return x; } /* from the output */
G(tanh) { UNUSED; return tanhf_(x); }
GD(tanh) { UNUSED; return sigmoid_gradf_(2.0f * x, 4.0f); }
/* ELU family: alpha's product in double, so that alpha rounds nowhere */
G(elu) { (void)b; return x > 0.0f ? x : scaled_expm1f(a, x, -0.0f, 0); }
GD(elu) { (void)b; return x > 0.0f ? 1.0f : scaled_expf(a, minf_(x, 0.0f), -0.0f, 0); }
G(selu) {
    UNUSED;
    return x > 0.0f ? (float)(SELU_SCALE * (double)x) : scaled_expm1f(SELU_SA, x, -0.0f, 0);
}
GD(selu) {
    UNUSED;
    return x > 0.0f ? (float)SELU_SCALE : scaled_expf(SELU_SA, minf_(x, 0.0f), -0.0f, 0);
}
/* softplus in float32 for beta = 1 only: beta x rounds in float32, which near e^(beta x)'s
 * tail would cost |beta x| ULP; other betas take the double kernel (see SOFTPLUS32) */
G(softplus_b1) { (void)a; return softplus1f(x, b); }
GD(softplus_b1) { (void)a; return (double)x > b ? 1.0f : sigmoidf_(x); }
G(log_sigmoid) { UNUSED; return -softplus1f(-x, INF); }
G(mish) { UNUSED; return x == 0.0f ? x : mishf_(x); } /* -0 stays -0 */
/* gelu: double arithmetic, but Phi by the shorter approximation above (gelu_short_fd) */
G(gelu) { UNUSED; double d; return (float)gelu_short_fd(x, &d); }
GD(gelu) { UNUSED; double d; (void)gelu_short_fd(x, &d); return (float)d; }
G(quick_gelu) {
    UNUSED;
    float vl, v = mul_pair(x, QG_HI, QG_LO, &vl);
    return x_sigmoid_pair(x, v, vl);
}
/* with a parameter split in two floats hi + lo (beta, or 1 / alpha for celu); a is the
 * parameter itself (see SPLIT32) */
#define GS(name) INLINE float name##_gs(float x, float hi, float lo, double a, double b)
#define GSD(name) INLINE float name##_gsd(float x, float hi, float lo, double a, double b)
GS(swish) {
    (void)a; (void)b;
    float vl, v = mul_pair(x, hi, lo, &vl);
    return x_sigmoid_pair(x, v, vl);
}
GS(celu) { (void)b; return celuf_(x, hi, lo, a); }
GSD(celu) { UNUSED; return celu_gradf(x, hi, lo); }
GS(softplus_beta) { return softplus_betaf(x, hi, lo, a, b); }
GSD(softplus_beta) { return softplus_beta_gradf(x, hi, lo, a, b); }
GD(log_sigmoid) { UNUSED; return sigmoidf_(-x); }
/* hard_sigmoid (x + 3) / 6 and hard_swish x (x + 3) / 6 inside (-3, 3): x + 3 and x (x + 3)
 * as exact pairs, one corrected quotient; their derivatives 1/6 and (2x + 3) / 6 alike */
G(hard_sigmoid) {
    UNUSED;
    float tl, t = plus3(x, &tl); /* used inside (-3, 3) only */
    return x <= -3.0f ? 0.0f : (x >= 3.0f ? 1.0f : div6(t, tl));
}
GD(hard_sigmoid) { UNUSED; return x != x ? x : ((x > -3.0f && x < 3.0f) ? 1.0f / 6.0f : 0.0f); }
G(hard_swish) {
    UNUSED;
    float tl, t = plus3(x, &tl); /* used inside (-3, 3) only */
    float p = x * t;
    float y = div6(p, fmaf_(x, t, -p) + x * tl);
    y = x <= -3.0f ? x * 0.0f : (x >= 3.0f || x == 0.0f ? x : y); /* -0 stays -0 */
    return x == -__builtin_inff() ? 0.0f : y; /* the limit, as in double */
}
GD(hard_swish) {
    UNUSED;
    float tl, t = two_sum(2.0f * x, 3.0f, &tl);
    return x <= -3.0f ? 0.0f : (x >= 3.0f ? 1.0f : div6(t, tl));
}
G(softsign) { /* x / (1 + |x|): the sum as an exact pair */
    UNUSED;
    float xc = clipf_(x, -1e20f, 1e20f), dl;
    float d = add_pair(fabsf_(xc), 0.0f, 1.0f, &dl);
    return xc == 0.0f ? xc : div_pair(xc, 0.0f, d, dl, 1.0f / d);
}

/* ---- storage types ------------------------------------------------------------------ */
typedef uint16_t bf16_t;
INLINE double load_f32(float v) { return (double)v; }
INLINE float store_f32(double y) { return (float)y; }
INLINE double load_bf16(bf16_t v) {
    uint32_t u = (uint32_t)v << 16;
    float f;
    memcpy(&f, &u, 4);
    return (double)f;
}
INLINE bf16_t store_bf16(double y) {
    /* round to float32, then to nearest-even bfloat16 (the error of rounding twice is
     * at most 2^-16 of a bfloat16 ULP); NaN stays a quiet NaN */
    float f = (float)y;
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return f != f ? (bf16_t)((u >> 16) | 0x40u) : (bf16_t)r;
}
/* float16 by hand: GCC 12 does not vectorize _Float16 conversions; these integer and
 * float32 operations do, and agree with them on every float16 and every float32 */
typedef uint16_t f16_t;
INLINE float f32_from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
INLINE uint32_t bits_of_f32(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
INLINE double load_f16(f16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t em = (uint32_t)(h & 0x7fffu) << 13;
    float mag = f32_from_bits(em) * 0x1p112f; /* rebias the exponent; subnormals become normal */
    uint32_t m = em >= (0x7c00u << 13) ? (em | 0x7f800000u) : bits_of_f32(mag); /* inf, NaN */
    return (double)f32_from_bits(m | sign);
}
INLINE f16_t store_f16(double y) {
    uint32_t u = bits_of_f32((float)y);
    uint32_t sign = (u >> 16) & 0x8000u;
    u &= 0x7fffffffu;
    uint32_t big = u > 0x7f800000u ? 0x7e00u : 0x7c00u; /* NaN stays NaN; the rest is inf */
    /* below 2^-14, adding 0.5 makes the float32 adder round to float16's subnormal grid */
    uint32_t sub = bits_of_f32(f32_from_bits(u) + 0.5f) - bits_of_f32(0.5f);
    uint32_t odd = (u >> 13) & 1u; /* round half to even */
    uint32_t norm = (u + ((uint32_t)(15 - 127) << 23) + 0xfffu + odd) >> 13;
    uint32_t h = u >= 0x47800000u ? big : (u < 0x38800000u ? sub : norm);
    return (f16_t)(h | sign);
}

INLINE float loadf_f32(float v) { return v; }
INLINE float storef_f32(float y) { return y; }
INLINE float loadf_bf16(bf16_t v) { return (float)load_bf16(v); } /* exact: a float32 */
INLINE bf16_t storef_bf16(float y) { return store_bf16((double)y); }
INLINE float loadf_f16(f16_t v) { return (float)load_f16(v); } /* exact: a float32 */
INLINE f16_t storef_f16(float y) { return store_f16((double)y); }

/* The loops. Every export is one of these two, for an element function ELEM(v, a, b) (a
 * forward, or a derivative that multiplies the gradient), a storage type T with its tag,
 * and the arithmetic: LOAD/STORE give double (load_T, store_T) or float (loadf_T, storef_T)
 * values. SUFFIX is what follows fwd/bwd in the export's name ("" or "32"). */
#define LOOP_FWD_AS(name, suffix, T, tag, load, store, elem)                                    \
    EXPORT void name##_fwd##suffix##_##tag(const T *restrict x, T *restrict y, int64_t n,    \
                                           double a, double b, int threads) {                 \
        _Pragma("omp parallel for simd schedule(static) num_threads(threads) if(n >= GRAIN)") \
        for (int64_t i = 0; i < n; i++) y[i] = store(elem(load(x[i]), a, b));               \
    }
#define LOOP_BWD_AS(name, suffix, T, tag, load, store, elem)                                    \
    EXPORT void name##_bwd##suffix##_##tag(const T *restrict s, const T *restrict g,         \
                                           T *restrict gx, int64_t n, double a, double b,    \
                                           int threads) {                                     \
        _Pragma("omp parallel for simd schedule(static) num_threads(threads) if(n >= GRAIN)") \
        for (int64_t i = 0; i < n; i++) gx[i] = store(load(g[i]) * elem(load(s[i]), a, b));  \
    }
/* computed in double (NAME_f, NAME_d) */
#define LOOP_FWD(name, T, tag) LOOP_FWD_AS(name, , T, tag, load_##tag, store_##tag, name##_f)
#define LOOP_BWD(name, T, tag) LOOP_BWD_AS(name, , T, tag, load_##tag, store_##tag, name##_d)
/* in float32, for the element functions that are exact in it (NAME_ff, NAME_df) */
#define LOOP_FWD_FLOAT(name, T, tag) \
    LOOP_FWD_AS(name, , T, tag, loadf_##tag, storef_##tag, name##_ff)
#define LOOP_BWD_FLOAT(name, T, tag) \
    LOOP_BWD_AS(name, , T, tag, loadf_##tag, storef_##tag, name##_df)
#define FWD_FLOAT(name)                                                                      \
    LOOP_FWD_FLOAT(name, float, f32) LOOP_FWD_FLOAT(name, bf16_t, bf16)                      \
    LOOP_FWD_FLOAT(name, f16_t, f16)
#define BWD_FLOAT(name)                                                                      \
    LOOP_BWD_FLOAT(name, float, f32) LOOP_BWD_FLOAT(name, bf16_t, bf16)                      \
    LOOP_BWD_FLOAT(name, f16_t, f16)
#define FWD(name) LOOP_FWD(name, float, f32) LOOP_FWD(name, bf16_t, bf16) LOOP_FWD(name, f16_t, f16)

#define KERNELS(name)                                                                        \
    LOOP_FWD(name, float, f32) LOOP_BWD(name, float, f32) LOOP_FWD(name, bf16_t, bf16)       \
    LOOP_BWD(name, bf16_t, bf16) LOOP_FWD(name, f16_t, f16) LOOP_BWD(name, f16_t, f16)

/* f and f' in one pass, for the entries defined by NAME_fd (FUSED in __init__.py):
 * NAME_fwdd_T(x, y, d, n, a, b, threads) stores y = f(x) and d = f'(x), each rounded once
 * to T. A training step that keeps d needs no backward kernel: g d is one product. y is
 * NAME_fwd_T's, bit for bit (the same element function). */
#define LOOP_FWDD(name, T, tag)                                                                \
    EXPORT void name##_fwdd_##tag(const T *restrict x, T *restrict y, T *restrict dy,          \
                                  int64_t n, double a, double b, int threads) {                \
        _Pragma("omp parallel for simd schedule(static) num_threads(threads) if(n >= GRAIN)") \
        for (int64_t i = 0; i < n; i++) {                                                      \
            double d;                                                                          \
            y[i] = store_##tag(name##_fd(load_##tag(x[i]), a, b, &d));                         \
            dy[i] = store_##tag(d);                                                            \
        }                                                                                      \
    }
#define FWDD(name) LOOP_FWDD(name, float, f32) LOOP_FWDD(name, bf16_t, bf16) LOOP_FWDD(name, f16_t, f16)

EXPORT int actlab_kernels_version(void) { return 2; }

KERNELS(sigmoid)
KERNELS(log_sigmoid)
KERNELS(tanh)
KERNELS(hard_sigmoid)
KERNELS(hard_sigmoid_keras2)
KERNELS(sparse_sigmoid)
KERNELS(hard_tanh)
KERNELS(softsign)
KERNELS(exponential)
FWD_FLOAT(relu) BWD_FLOAT(relu)
FWD_FLOAT(relu6) BWD_FLOAT(relu6)
KERNELS(relu2)
KERNELS(leaky_relu)
KERNELS(threshold)
KERNELS(elu)
KERNELS(celu)
KERNELS(selu)
KERNELS(softplus)
KERNELS(squareplus)
KERNELS(sparse_plus)
KERNELS(gelu) FWDD(gelu)
KERNELS(gelu_tanh)
KERNELS(swish) FWDD(swish)
KERNELS(silu) FWDD(silu)
KERNELS(quick_gelu) FWDD(quick_gelu)
KERNELS(mish) FWDD(mish)
KERNELS(hard_swish)
KERNELS(hard_mish)
FWD(hard_shrink) BWD_FLOAT(hard_shrink)
KERNELS(soft_shrink)
KERNELS(tanh_shrink)

/* the float32-arithmetic kernels: NAME_fwd32_T and NAME_bwd32_T (NAME_g, NAME_gd) */
#define LOOP_FWD32(name, T, tag) LOOP_FWD_AS(name, 32, T, tag, loadf_##tag, storef_##tag, name##_g)
#define LOOP_BWD32(name, T, tag) LOOP_BWD_AS(name, 32, T, tag, loadf_##tag, storef_##tag, name##_gd)
#define FWD32(name) LOOP_FWD32(name, float, f32) LOOP_FWD32(name, bf16_t, bf16) LOOP_FWD32(name, f16_t, f16)
#define BWD32(name) LOOP_BWD32(name, float, f32) LOOP_BWD32(name, bf16_t, bf16) LOOP_BWD32(name, f16_t, f16)
FWD32(sigmoid) BWD32(sigmoid)
FWD32(silu)
FWD32(exponential) BWD32(exponential)
FWD32(tanh) BWD32(tanh)
FWD32(elu) BWD32(elu)
FWD32(selu) BWD32(selu)
FWD32(softsign)
FWD32(log_sigmoid) BWD32(log_sigmoid)
FWD32(mish)
FWD32(hard_sigmoid) BWD32(hard_sigmoid)
FWD32(hard_swish) BWD32(hard_swish)
/* leaky_relu (a = the slope; also PReLU's and RReLU's scalar one): x a and g a by mul_split.
 * The backward reads what the plan saved: the output for a slope >= 0 (its sign is the
 * input's), else the input. A slope beyond float32's range takes the double loops. */
#define LEAKY32(T, tag)                                                                         \
    EXPORT void leaky_relu_fwd32_##tag(const T *restrict x, T *restrict y, int64_t n, double a, \
                                       double b, int threads) {                                 \
        if (!(fabs_(a) < 3e38)) { leaky_relu_fwd_##tag(x, y, n, a, b, threads); return; }              \
        const float hi = (float)a, lo = (float)(a - (double)hi);                                \
        _Pragma("omp parallel for simd schedule(static) num_threads(threads) if(n >= GRAIN)") \
        for (int64_t i = 0; i < n; i++) {                                                       \
            float v = loadf_##tag(x[i]);                                                        \
            y[i] = storef_##tag(v < 0.0f ? mul_split(v, hi, lo) : v);                           \
        }                                                                                       \
    }                                                                                           \
    EXPORT void leaky_relu_bwd32_##tag(const T *restrict s, const T *restrict g,              \
                                       T *restrict gx, int64_t n, double a, double b,          \
                                       int threads) {                                           \
        if (!(fabs_(a) < 3e38)) { leaky_relu_bwd_##tag(s, g, gx, n, a, b, threads); return; }         \
        const float hi = (float)a, lo = (float)(a - (double)hi);                                \
        _Pragma("omp parallel for simd schedule(static) num_threads(threads) if(n >= GRAIN)") \
        for (int64_t i = 0; i < n; i++) {                                                       \
            float v = loadf_##tag(s[i]), w = loadf_##tag(g[i]);                                 \
            gx[i] = storef_##tag(v != v ? v : (v > 0.0f ? w : mul_split(w, hi, lo)));           \
        }                                                                                       \
    }
LEAKY32(float, f32)
LEAKY32(bf16_t, bf16)
LEAKY32(f16_t, f16)
/* Loops over an element function with a split parameter (NAME_gs, NAME_gsd): P, an
 * expression of a, as two floats hi + lo (to 2^-48). The exports run them where P is within
 * [2^-40, 2^40] in magnitude (the range the element functions were analysed for: a product
 * of x with it neither overflows where it matters nor leaves the pair among the subnormals)
 * and the double loops elsewhere. */
INLINE int splittable(double p) { return fabs_(p) >= 0x1p-40 && fabs_(p) <= 0x1p40; }
#define LOOP_FWDS(name, T, tag, P)                                                               \
    static void name##_fwds_##tag(const T *restrict x, T *restrict y, int64_t n, double a,     \
                                  double b, int threads) {                                      \
        const double p = (P);                                                                   \
        const float hi = (float)p, lo = (float)(p - (double)hi);                                \
        _Pragma("omp parallel for simd schedule(static) num_threads(threads) if(n >= GRAIN)") \
        for (int64_t i = 0; i < n; i++)                                                         \
            y[i] = storef_##tag(name##_gs(loadf_##tag(x[i]), hi, lo, a, b));                   \
    }
#define LOOP_BWDS(name, T, tag, P)                                                               \
    static void name##_bwds_##tag(const T *restrict s, const T *restrict g, T *restrict gx,    \
                                  int64_t n, double a, double b, int threads) {                 \
        const double p = (P);                                                                   \
        const float hi = (float)p, lo = (float)(p - (double)hi);                                \
        _Pragma("omp parallel for simd schedule(static) num_threads(threads) if(n >= GRAIN)") \
        for (int64_t i = 0; i < n; i++)                                                         \
            gx[i] = storef_##tag(loadf_##tag(g[i]) *                                            \
                                 name##_gsd(loadf_##tag(s[i]), hi, lo, a, b));                  \
    }
/* NAME_fwd32_T and NAME_bwd32_T: FAST_fwds_T where COND holds, else the double loops */
#define FWD32_IF(name, T, tag, cond, fast)                                                       \
    EXPORT void name##_fwd32_##tag(const T *restrict x, T *restrict y, int64_t n, double a,    \
                                   double b, int threads) {                                     \
        if (cond) fast##_fwds_##tag(x, y, n, a, b, threads);                                    \
        else name##_fwd_##tag(x, y, n, a, b, threads);                                          \
    }
#define BWD32_IF(name, T, tag, cond, fast)                                                       \
    EXPORT void name##_bwd32_##tag(const T *restrict s, const T *restrict g, T *restrict gx,   \
                                   int64_t n, double a, double b, int threads) {                \
        if (cond) fast##_bwds_##tag(s, g, gx, n, a, b, threads);                                \
        else name##_bwd_##tag(s, g, gx, n, a, b, threads);                                      \
    }
/* softplus: beta = 1 has loops of its own (no product to form); another beta is split */
#define SOFTPLUS32(T, tag)                                                                      \
    LOOP_FWD32(softplus_b1, T, tag) LOOP_BWD32(softplus_b1, T, tag)                            \
    LOOP_FWDS(softplus_beta, T, tag, a) LOOP_BWDS(softplus_beta, T, tag, a)                    \
    EXPORT void softplus_fwd32_##tag(const T *restrict x, T *restrict y, int64_t n, double a,  \
                                     double b, int threads) {                                  \
        if (a == 1.0) softplus_b1_fwd32_##tag(x, y, n, a, b, threads);                         \
        else if (splittable(a)) softplus_beta_fwds_##tag(x, y, n, a, b, threads);              \
        else softplus_fwd_##tag(x, y, n, a, b, threads);                                       \
    }                                                                                          \
    EXPORT void softplus_bwd32_##tag(const T *restrict s, const T *restrict g, T *restrict gx, \
                                     int64_t n, double a, double b, int threads) {             \
        if (a == 1.0) softplus_b1_bwd32_##tag(s, g, gx, n, a, b, threads);                     \
        else if (splittable(a)) softplus_beta_bwds_##tag(s, g, gx, n, a, b, threads);          \
        else softplus_bwd_##tag(s, g, gx, n, a, b, threads);                                   \
    }
/* swish (a = beta) and celu (a = alpha, split as 1 / alpha) */
#define SCALED32(T, tag)                                                                        \
    LOOP_FWDS(swish, T, tag, a) FWD32_IF(swish, T, tag, splittable(a), swish)                  \
    LOOP_FWDS(celu, T, tag, 1.0 / a) FWD32_IF(celu, T, tag, splittable(1.0 / a), celu)         \
    LOOP_BWDS(celu, T, tag, 1.0 / a) BWD32_IF(celu, T, tag, splittable(1.0 / a), celu)         \
    SOFTPLUS32(T, tag)
SCALED32(float, f32)
SCALED32(bf16_t, bf16)
SCALED32(f16_t, f16)
FWD32(quick_gelu)
FWD32(gelu) BWD32(gelu)
/* threshold (a = threshold, b = value) and soft_shrink (a = lambd) are selections but for
 * soft_shrink's x -/+ lambd, so in float32 they need only two things done with care: the
 * comparison with a double, and that difference. For a float x, x > a exactly where
 * x >= float_above(a), the least float above a; |x| - a is |x| - hi - lo for a = hi + lo
 * (two floats), with |x| - hi's rounding error recovered by Fast2Sum (|x| >= hi wherever
 * the difference is used): rounded once but for the rounding of its small part. A parameter beyond float32's range
 * takes the double loops. threshold's kernels and both derivatives are the double ones, bit
 * for bit (a value b is rounded once, to float32, either way). */
INLINE float float_above(double a) {
    float f = (float)a;
    return (double)f > a ? f : __builtin_nextafterf(f, __builtin_inff());
}
INLINE float shrink_by(float ax, float hi, float lo) { /* |x| - (hi + lo), for |x| >= hi */
    float s = ax - hi;
    float r = s + (((ax - s) - hi) - lo);
    return ax == __builtin_inff() ? ax : r;
}
#define SELECT32(T, tag)                                                                        \
    EXPORT void threshold_fwd32_##tag(const T *restrict x, T *restrict y, int64_t n, double a,  \
                                      double b, int threads) {                                  \
        if (!(fabs_(a) < 3e38)) { threshold_fwd_##tag(x, y, n, a, b, threads); return; }       \
        const float above = float_above(a), value = (float)b;                                  \
        _Pragma("omp parallel for simd schedule(static) num_threads(threads) if(n >= GRAIN)") \
        for (int64_t i = 0; i < n; i++) {                                                       \
            float v = loadf_##tag(x[i]);                                                        \
            y[i] = storef_##tag(v < above ? value : v); /* NaN: false, v */                    \
        }                                                                                       \
    }                                                                                           \
    EXPORT void threshold_bwd32_##tag(const T *restrict s, const T *restrict g,               \
                                      T *restrict gx, int64_t n, double a, double b,           \
                                      int threads) {                                            \
        if (!(fabs_(a) < 3e38)) { threshold_bwd_##tag(s, g, gx, n, a, b, threads); return; }  \
        const float above = float_above(a);                                                    \
        _Pragma("omp parallel for simd schedule(static) num_threads(threads) if(n >= GRAIN)") \
        for (int64_t i = 0; i < n; i++) {                                                       \
            float v = loadf_##tag(s[i]);                                                        \
            gx[i] = storef_##tag(loadf_##tag(g[i]) * (v != v ? v : (v >= above ? 1.0f : 0.0f))); \
        }                                                                                       \
    }                                                                                           \
    EXPORT void soft_shrink_fwd32_##tag(const T *restrict x, T *restrict y, int64_t n,         \
                                        double a, double b, int threads) {                      \
        if (!(a < 3e38)) { soft_shrink_fwd_##tag(x, y, n, a, b, threads); return; }            \
        const float hi = (float)a, lo = (float)(a - (double)hi);                               \
        if (lo == 0.0f) { /* lambd is a float: one rounding, as in double */                   \
            _Pragma("omp parallel for simd schedule(static) num_threads(threads) if(n >= GRAIN)") \
            for (int64_t i = 0; i < n; i++) {                                                   \
                float v = loadf_##tag(x[i]);                                                    \
                y[i] = storef_##tag(v > hi ? v - hi : (v < -hi ? v + hi : v * 0.0f));           \
            }                                                                                   \
            return;                                                                             \
        }                                                                                       \
        const float above = float_above(a);                                                    \
        _Pragma("omp parallel for simd schedule(static) num_threads(threads) if(n >= GRAIN)") \
        for (int64_t i = 0; i < n; i++) {                                                       \
            float v = loadf_##tag(x[i]), ax = fabsf_(v);                                       \
            float r = __builtin_copysignf(shrink_by(ax, hi, lo), v);                           \
            y[i] = storef_##tag(ax >= above ? r : v * 0.0f); /* NaN: v * 0 */                  \
        }                                                                                       \
    }                                                                                           \
    EXPORT void soft_shrink_bwd32_##tag(const T *restrict s, const T *restrict g,             \
                                        T *restrict gx, int64_t n, double a, double b,         \
                                        int threads) {                                          \
        if (!(a < 3e38)) { soft_shrink_bwd_##tag(s, g, gx, n, a, b, threads); return; }        \
        const float above = float_above(a);                                                    \
        _Pragma("omp parallel for simd schedule(static) num_threads(threads) if(n >= GRAIN)") \
        for (int64_t i = 0; i < n; i++) {                                                       \
            float v = loadf_##tag(s[i]);                                                        \
            float d = v != v ? v : (fabsf_(v) >= above ? 1.0f : 0.0f);                          \
            gx[i] = storef_##tag(loadf_##tag(g[i]) * d);                                        \
        }                                                                                       \
    }
SELECT32(float, f32)
SELECT32(bf16_t, bf16)
SELECT32(f16_t, f16)

/* ---- leaky ReLU with a tensor slope: PReLU's learnable weight, RReLU's per-element draws ---
 * x is seen in memory order as (outer, C, inner) and element (o, c, j) has the slope w[c]:
 * a slope per channel (C channels of inner elements each), one per model of a stack
 * (outer 1, C models), one per element (outer 1, inner 1), or one for all (C 1). In float:
 * a product of two floats rounds once there, as in double, and selections are exact.
 *   void prelu_fwd_T(const T *x, const T *w, T *y, int64_t outer, int64_t C, int64_t inner,
 *                    int threads)
 *   void prelu_bwd_T(const T *x, const T *w, const T *g, T *gx, double *gw, int64_t outer,
 *                    int64_t C, int64_t inner, int threads)
 * bwd writes gx = g * leaky'(x) where gx is not NULL, and, where gw is not NULL, the slope's
 * gradient per (o, c) block, gw[o * C + c] = sum over j of g * (x > 0 ? 0 : x), summed in
 * double (the caller adds the outer blocks). */
/* BODY for i = o * C + c over `outer` rows of C (a slope w[c] per column): each row
 * vectorized along c, the rows in parallel, or one row's columns when there is one row
 * (w[i % C] would cost a division per element and stop the vectorizer). Needs outer, C,
 * n and threads in scope. */
#define PER_ROW(BODY)                                                                           \
    if (outer == 1) {                                                                           \
        _Pragma("omp parallel for simd schedule(static) num_threads(threads) if(n >= GRAIN)")   \
        for (int64_t c = 0; c < C; c++) {                                                       \
            const int64_t i = c;                                                                \
            BODY;                                                                               \
        }                                                                                       \
    } else {                                                                                    \
        _Pragma("omp parallel for schedule(static) num_threads(threads) if(n >= GRAIN)")       \
        for (int64_t o = 0; o < outer; o++) {                                                   \
            _Pragma("omp simd")                                                                 \
            for (int64_t c = 0; c < C; c++) {                                                   \
                const int64_t i = o * C + c;                                                    \
                BODY;                                                                           \
            }                                                                                   \
        }                                                                                       \
    }
#define PRELU(T, tag)                                                                            \
    EXPORT void prelu_fwd_##tag(const T *restrict x, const T *restrict w, T *restrict y,        \
                                int64_t outer, int64_t C, int64_t inner, int threads) {         \
        int64_t n = outer * C * inner;                                                          \
        if (inner == 1) { /* a slope per element of a row of C */                              \
            PER_ROW(y[i] = storef_##tag(leakyf(loadf_##tag(x[i]), loadf_##tag(w[c]))));        \
            return;                                                                             \
        }                                                                                       \
        _Pragma("omp parallel for collapse(2) schedule(static) num_threads(threads) if(n >= GRAIN)") \
        for (int64_t o = 0; o < outer; o++)                                                     \
            for (int64_t c = 0; c < C; c++) {                                                   \
                const float s = loadf_##tag(w[c]);                                              \
                const int64_t at = (o * C + c) * inner;                                         \
                _Pragma("omp simd")                                                             \
                for (int64_t j = at; j < at + inner; j++) {                                     \
                    float v = loadf_##tag(x[j]);                                                \
                    y[j] = storef_##tag(leakyf(v, s));                                          \
                }                                                                               \
            }                                                                                   \
    }                                                                                           \
    EXPORT void prelu_bwd_##tag(const T *restrict x, const T *restrict w, const T *restrict g,  \
                                T *restrict gx, double *restrict gw, int64_t outer, int64_t C,  \
                                int64_t inner, int threads) {                                   \
        int64_t n = outer * C * inner;                                                          \
        if (inner == 1 && !gw) {                                                                \
            PER_ROW(gx[i] = storef_##tag(loadf_##tag(g[i]) *                                    \
                                         leaky_gradf(loadf_##tag(x[i]), loadf_##tag(w[c]))));  \
            return;                                                                             \
        }                                                                                       \
        _Pragma("omp parallel for collapse(2) schedule(static) num_threads(threads) if(n >= GRAIN)") \
        for (int64_t o = 0; o < outer; o++)                                                     \
            for (int64_t c = 0; c < C; c++) {                                                   \
                const float s = loadf_##tag(w[c]);                                              \
                const int64_t at = (o * C + c) * inner;                                         \
                if (gx) {                                                                       \
                    _Pragma("omp simd")                                                         \
                    for (int64_t j = at; j < at + inner; j++) {                                 \
                        gx[j] = storef_##tag(loadf_##tag(g[j]) * leaky_gradf(loadf_##tag(x[j]), s)); \
                    }                                                                           \
                }                                                                               \
                if (gw) {                                                                       \
                    double acc = 0.0;                                                           \
                    _Pragma("omp simd reduction(+ : acc)")                                      \
                    for (int64_t j = at; j < at + inner; j++) {                                 \
                        double v = load_##tag(x[j]);                                            \
                        acc += load_##tag(g[j]) * (v > 0.0 ? 0.0 : v);                          \
                    }                                                                           \
                    gw[o * C + c] = acc;                                                        \
                }                                                                               \
            }                                                                                   \
    }
PRELU(float, f32)
PRELU(bf16_t, bf16)
PRELU(f16_t, f16)

/* How many of x[o, r, c] are nonzero over the rows r, per (o, c): x seen as (outer, rows,
 * cols) in memory order, a NaN counted as nonzero (x != 0), counts in int32. For the
 * trainer's dead-unit statistics: one pass over the activations, where torch takes four
 * (abs, clamp, ceil, sum), or a comparison into a bool tensor and a sum over that. */
EXPORT void count_nonzero_rows_f32(const float *restrict x, int32_t *restrict out, int64_t outer,
                                   int64_t rows, int64_t cols, int threads) {
    _Pragma("omp parallel for schedule(static) num_threads(threads) if(outer * rows * cols >= GRAIN)")
    for (int64_t o = 0; o < outer; o++) {
        int32_t *acc = out + o * cols;
        for (int64_t c = 0; c < cols; c++) acc[c] = 0;
        for (int64_t r = 0; r < rows; r++) {
            const float *row = x + (o * rows + r) * cols;
            _Pragma("omp simd")
            for (int64_t c = 0; c < cols; c++) acc[c] += row[c] != 0.0f;
        }
    }
}

/* Softmax cross-entropy over rows of logits, for the lab's trainer: z is (S, B, ld) in
 * memory order, a row's first o entries its logits (the rest padding, ignored), the
 * label of row (s, i) is y[s * ys + i] (ys = 0: one label vector for every s). With d,
 * d[s, i, :] = scale (softmax(z) - onehot(label)), zero in the padding: the gradient of
 * scale times the summed losses. With loss and correct, per s: the summed loss
 * logsumexp(z) - z[label] (in double) and how many rows have their label as argmax
 * (the first maximum; a NaN counts as the maximum, as in torch.argmax). A NaN logit
 * makes its row's loss and gradient NaN. The exponentials are expf_'s (float32, about
 * 0.5 ULP); a row is padded with zeros to ld lanes. ld = 16 (up to 16 classes, the
 * trainer's padding) is compiled apart: with a constant width the row stays in two
 * registers and the loops unroll completely, which a variable width does not allow. */
INLINE void xent_row(const float *restrict zr, int64_t label, int64_t ld, int64_t o,
                     float *restrict dr, float scale, double *row_loss, int64_t *right) {
    float m = -__builtin_inff();
    _Pragma("omp simd reduction(max:m)")
    for (int64_t j = 0; j < ld; j++) m = maxf_(j < o ? zr[j] : -__builtin_inff(), m);
    float e[ld];
    float sum = 0.0f;
    _Pragma("omp simd reduction(+:sum)")
    for (int64_t j = 0; j < ld; j++) { e[j] = j < o ? expf_(zr[j] - m) : 0.0f; sum += e[j]; }
    if (dr) {
        float inv = scale / sum;
        _Pragma("omp simd")
        for (int64_t j = 0; j < ld; j++)
            dr[j] = j < o ? fmaf_(e[j], inv, j == label ? -scale : 0.0f) : 0.0f;
    }
    if (row_loss) {
        *row_loss += (double)m + (double)__builtin_logf(sum) - (double)zr[label];
        int64_t best = 0;
        if (sum == sum) {
            while (zr[best] != m) best++;
        } else {
            for (int64_t j = 1; j < o; j++) {
                float v = zr[j], b = zr[best];
                best = (v > b || (v != v && b == b)) ? j : best;
            }
        }
        *right += best == label;
    }
}
EXPORT void softmax_xent_f32(const float *restrict z, const int64_t *restrict y, int64_t ys,
                             int64_t S, int64_t B, int64_t ld, int64_t o, float *restrict d,
                             double scale, double *restrict loss, int64_t *restrict correct,
                             int threads) {
    _Pragma("omp parallel for schedule(static) num_threads(threads) if(S * B * ld >= GRAIN)")
    for (int64_t s = 0; s < S; s++) {
        double row_loss = 0.0;
        int64_t right = 0;
        for (int64_t i = 0; i < B; i++) {
            int64_t r = s * B + i;
            float *dr = d ? d + r * ld : 0;
            double *rl = loss ? &row_loss : 0;
            if (ld == 16) xent_row(z + r * ld, y[s * ys + i], 16, o, dr, (float)scale, rl, &right);
            else xent_row(z + r * ld, y[s * ys + i], ld, o, dr, (float)scale, rl, &right);
        }
        if (loss) loss[s] = row_loss, correct[s] = right;
    }
}
