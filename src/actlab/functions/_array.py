"""Array-namespace helpers shared by every definition.

The definitions are written once against the Python array API standard
(through ``array_api_compat``), so NumPy arrays and torch tensors (and other
compliant arrays) go through the same lines of math. The few things the
standard lacks (``erfc``) are dispatched here, and nowhere else.
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat as aac
import numpy as np

__all__ = ["as_array", "compute_dtype", "erfc", "namespace", "nan_like_input", "zero_at_inf"]


def as_array(x: Any) -> Any:
    """Return ``x`` unchanged if it is an array, else a NumPy float64 array of it.

    Python scalars and (nested) lists are accepted for convenience, so
    ``get("relu").forward(-1.0)`` works in a REPL and in doctests.
    """
    if aac.is_array_api_obj(x):
        return x
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"expected a floating-point array or number, got {type(x).__name__}")
    arr = np.asarray(x)
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.float64)
    return arr


def namespace(x: Any) -> Any:
    """The array-API namespace of ``x`` (``array_api_compat.numpy``, ``...torch``, ...)."""
    return aac.array_namespace(x)


def compute_dtype(xp: Any, dtype: Any, *, exact: bool = False) -> Any:
    """The dtype a definition computes in for inputs of ``dtype``.

    float32 is computed in float64 and rounded once at the end, which keeps
    every transcendental formula within 1 ULP whatever the platform's float32
    ``exp``/``tanh`` accuracy (NumPy's SIMD float32 kernels allow up to 4 ULP).
    float16 and bfloat16 are computed in float32. ``exact`` definitions (pure
    selections and one multiply) are computed in the input dtype.
    """
    if not xp.isdtype(dtype, "real floating"):
        raise TypeError(f"expected a real floating-point array, got dtype {dtype}")
    if exact or dtype == xp.float64:
        return dtype
    if dtype == xp.float32:
        return xp.float64
    return xp.float32


def erfc(xp: Any, x: Any) -> Any:
    """Complementary error function for any supported array namespace.

    ``erfc`` is not in the array API standard; each library keeps it in its
    own special-functions module.
    """
    if aac.is_torch_namespace(xp):
        import torch

        return torch.special.erfc(x)
    if aac.is_numpy_namespace(xp):
        from scipy import special

        return special.erfc(x)
    if aac.is_jax_namespace(xp):
        from jax.scipy import special as jsp

        return jsp.erfc(x)
    if aac.is_cupy_namespace(xp):
        from cupyx.scipy import special as csp

        return csp.erfc(x)
    raise TypeError(f"erfc is not available for array namespace {xp.__name__}")


def nan_like_input(xp: Any, x: Any, y: Any) -> Any:
    """``y`` with NaN wherever ``x`` is NaN.

    Piecewise-constant derivatives (``where(x > 0, 1, 0)``) would otherwise turn
    a NaN input into a number; NaN must propagate.
    """
    return xp.where(xp.isnan(x), x, y)


def zero_at_inf(xp: Any, x: Any, y: Any) -> Any:
    """Replace the ``inf * 0`` NaNs of products like ``x * sigmoid(x)`` at ``x = +/-inf``.

    Such a product's limit is 0 (the exponential factor wins), but IEEE
    arithmetic gives NaN. Only infinite inputs are touched, so a NaN that
    came from a NaN input still propagates.
    """
    return xp.where(xp.isinf(x) & xp.isnan(y), xp.zeros_like(y), y)


SQRT_HALF = math.sqrt(0.5)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
