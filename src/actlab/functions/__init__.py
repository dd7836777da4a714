"""The catalogue: one definition of every activation, written against the array API.

Nothing here imports torch or any other part of actlab; every backend, plot,
monitor and experiment reads these definitions.

Example:
    >>> import numpy as np
    >>> from actlab import functions as F
    >>> F.get("mish").forward(np.array([0.0, 1.0], dtype=np.float32))
    array([0.       , 0.8650984], dtype=float32)
"""

from . import gated, rectifiers, shrink, sigmoidal, vector  # noqa: F401  (registers)
from ._registry import (
    Activation,
    Param,
    TorchTwin,
    UnknownActivationError,
    aliases,
    get,
    names,
    register,
    unregister,
)
from ._validation import Interval, InvalidParameterError, Options
from .spec import format_spec, parse_spec

__all__ = [
    "Activation",
    "Interval",
    "InvalidParameterError",
    "Options",
    "Param",
    "TorchTwin",
    "UnknownActivationError",
    "aliases",
    "format_spec",
    "get",
    "names",
    "parse_spec",
    "register",
    "unregister",
]
