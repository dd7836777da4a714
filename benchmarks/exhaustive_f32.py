"""Every float32 input through each float32-arithmetic kernel, against the double kernel.

The double kernels (``NAME_fwd_f32``) compute in double and round once: within 0.5 ULP
(plus 2^-29) of the exact value, and checked against mpmath by the test suite. The
float32-arithmetic kernels (``NAME_fwd32_f32``, the ``compiled32`` variant of
:mod:`actlab.torch.fast`) are not correctly rounded; this script runs all 2^32 float32 bit
patterns through both and reports, per kernel, the largest distance in ULP (units in the
last place, counted as steps between adjacent float32 values), how many inputs differ at
all, and the worst input. A kernel's error is then at most that distance + 0.5 ULP; the
catalogue's bounds are 2 ULP forward and 4 ULP for a derivative. Backward kernels are
run with a gradient of 1, so they return the derivative itself. NaN must map to NaN.
Where few inputs differ (``--few``, 100,000 by default), those inputs also go through the
float32 kernel against the mpmath reference: with the double kernel's bound everywhere
else, that is the float32 kernel's largest error over all inputs.

About 1 minute per kernel and core. Usage:
    python benchmarks/exhaustive_f32.py [--workers 2] [--chunk-bits 24] [--few N] [names ...]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

import numpy as np

# parameters passed as the kernels' (a, b): the catalogue's defaults, for the kernels that
# compare with a parameter or subtract it also one that float32 cannot hold, and for those
# that scale x by one (split into two floats) values on both sides of 1
ARGS = {
    "elu": [(1.0, 0.0)],
    "celu": [(1.0, 0.0), (2.0, 0.0), (0.1, 0.0)],
    "softplus": [(1.0, 20.0), (2.0, 20.0), (0.3, 10.0)],
    "swish": [(1.5, 0.0), (0.1, 0.0)],
    "leaky_relu": [(0.01, 0.0)],
    "soft_shrink": [(0.5, 0.0), (0.1, 0.0)],
    "threshold": [(0.0, 0.0), (0.1, 20.0)],
}
BOUND = {"fwd": 2.0, "bwd": 4.0}
# the catalogue's names of the kernels' (a, b), for the reference
PARAMS = {
    "elu": ("alpha",),
    "celu": ("alpha",),
    "softplus": ("beta", "threshold"),
    "swish": ("beta",),
    "leaky_relu": ("negative_slope",),
    "soft_shrink": ("lambd",),
    "threshold": ("threshold", "value"),
}


def _ordered(bits: np.ndarray) -> np.ndarray:
    """float32 bit patterns mapped to integers in the order of their values (-0 == +0)."""
    b = bits.view(np.int32).astype(np.int64)
    return np.where(b >= 0, b, np.int64(-(2**31)) - b)


def _error_on(name: str, direction: str, a: float, b: float, xs: np.ndarray, fn) -> float:
    """The largest error in ULP of kernel ``fn`` on the float32 inputs ``xs``, against the
    mpmath reference."""
    from actlab.analysis import numerics, reference

    params = dict(zip(PARAMS.get(name, ()), (a, b), strict=False))
    x64 = xs.astype(np.float64)
    exact = (reference.forward if direction == "fwd" else reference.derivative)(name, x64, **params)
    y = np.empty_like(xs)
    if direction == "fwd":
        fn(xs.ctypes.data, y.ctypes.data, xs.size, a, b, 1)
    else:
        one = np.ones_like(xs)
        fn(xs.ctypes.data, one.ctypes.data, y.ctypes.data, xs.size, a, b, 1)
    return float(numerics.ulp_error(y.astype(np.float64), exact, "float32").max())


def check(job: tuple[str, str, float, float, int, int]) -> dict:
    from actlab.torch import kernels as _kernels

    name, direction, a, b, chunk_bits, few = job
    ref = _kernels.function(name, direction, "f32")
    mine = _kernels.function(name, direction + "32", "f32")
    n = 1 << chunk_bits
    x = np.empty(n, np.float32)
    bits = x.view(np.uint32)
    bits[:] = np.arange(n, dtype=np.uint32)
    one = np.ones(n, np.float32)
    y_ref, y_mine = np.empty_like(x), np.empty_like(x)
    worst, worst_x, differ, nan_mismatch = 0, 0.0, 0, 0
    kept: list[np.ndarray] = []  # the differing inputs, while there are at most `few`
    t0 = time.perf_counter()
    for _ in range((1 << 32) // n):
        if direction == "fwd":
            ref(x.ctypes.data, y_ref.ctypes.data, n, a, b, 1)
            mine(x.ctypes.data, y_mine.ctypes.data, n, a, b, 1)
        else:
            ref(x.ctypes.data, one.ctypes.data, y_ref.ctypes.data, n, a, b, 1)
            mine(x.ctypes.data, one.ctypes.data, y_mine.ctypes.data, n, a, b, 1)
        # only the few inputs whose results differ in some bit need a closer look
        idx = np.flatnonzero(y_ref.view(np.uint32) != y_mine.view(np.uint32))
        r, m = y_ref[idx], y_mine[idx]
        nr, nm = np.isnan(r), np.isnan(m)
        nan_mismatch += int(np.count_nonzero(nr != nm))
        ok = ~(nr | nm)
        d = np.abs(_ordered(r[ok]) - _ordered(m[ok]))
        differ += int(np.count_nonzero(d))
        if differ <= few:
            kept.append(x[idx[ok][d > 0]].copy())
        if d.size and d.max() > worst:
            i = int(np.argmax(d))
            worst, worst_x = int(d[i]), float(x[idx[ok][i]])
        bits += np.uint32(n)  # the next chunk (wraps to 0 after the last)
    return {
        "name": name,
        "direction": direction,
        "args": (a, b),
        "max_ulp_apart": worst,
        "error_bound_ulp": worst + 0.5,
        "bound": BOUND[direction],
        "inputs_differing": differ,
        "worst_x": worst_x,
        "nan_mismatches": nan_mismatch,
        # where few inputs differ: the float32 kernel's largest error on them, which with
        # the double kernel's bound elsewhere is its error over all inputs
        "max_error_where_differing": (
            _error_on(name, direction, a, b, np.concatenate(kept), mine)
            if 0 < differ <= few
            else None
        ),
        "seconds": time.perf_counter() - t0,
    }


def main() -> None:
    from actlab.torch import kernels as _kernels

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="kernels (default: every float32 one)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--chunk-bits", type=int, default=24)
    p.add_argument(
        "--few",
        type=int,
        default=100_000,
        help="where at most this many inputs differ, measure them against mpmath",
    )
    args = p.parse_args()
    if _kernels.load() is None:
        raise SystemExit(f"no kernels here: {_kernels.status().get('reason')}")
    names = args.names or list(_kernels.FLOAT32)
    jobs = [
        (n, d[:3], a, b, args.chunk_bits, args.few)
        for n in names
        for d in _kernels.FLOAT32[n]
        for a, b in ARGS.get(n, [(0.0, 0.0)])
    ]
    cols = ["kernel", "(a, b)", "direction", "max ULP apart", "error bound (ULP)", "bound"]
    cols += ["inputs differing", "worst x", "NaN mismatches", "error where differing (ULP)"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    failed = False
    with mp.get_context("spawn").Pool(args.workers) as pool:
        for r in pool.imap(check, jobs):
            ok = r["error_bound_ulp"] <= r["bound"] and r["nan_mismatches"] == 0
            failed |= not ok
            print(
                f"| {r['name']} | {r['args']} | {r['direction']} | {r['max_ulp_apart']} | "
                f"{r['error_bound_ulp']:.1f}{'' if ok else ' (over)'} | {r['bound']:.0f} | "
                f"{r['inputs_differing']:,} | {r['worst_x']:.9g} | {r['nan_mismatches']} | "
                + (
                    "-"
                    if r["max_error_where_differing"] is None
                    else f"{r['max_error_where_differing']:.5f}"
                )
                + " |",
                flush=True,
            )
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
