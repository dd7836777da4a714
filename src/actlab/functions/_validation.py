"""Parameter constraints declared as data, checked once at the boundary.

Modelled on scikit-learn's ``_param_validation``: every constraint renders itself
in words, so every parameter error reads the same way::

    The 'alpha' parameter of celu must be a float in the range (0, inf). Got -1.0 instead.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Interval", "InvalidParameterError", "Options", "check_param"]


class InvalidParameterError(ValueError, TypeError):
    """A parameter has the wrong type or a value outside its valid range.

    It is both a ``ValueError`` and a ``TypeError`` so that callers catching
    either (as PyTorch's and scikit-learn's users do) see it.
    """


@dataclass(frozen=True)
class Interval:
    """Real or integral numbers between ``left`` and ``right``.

    ``None`` for a bound means unbounded on that side. ``closed`` is one of
    ``"left"``, ``"right"``, ``"both"``, ``"neither"``. Non-finite values are
    accepted only where an unbounded side allows them and ``allow_inf`` is set.
    """

    kind: type = numbers.Real
    left: float | None = None
    right: float | None = None
    closed: Literal["left", "right", "both", "neither"] = "both"
    allow_inf: bool = False

    def is_satisfied_by(self, value: Any) -> bool:
        # the built-in number types first: isinstance against numbers' ABCs is slow
        if type(value) not in _BUILTIN.get(self.kind, ()) and (
            isinstance(value, bool) or not isinstance(value, self.kind)
        ):
            return False
        if math.isnan(value):
            return False
        if math.isinf(value) and not self.allow_inf:
            return False
        if self.left is not None:
            if value < self.left or (value == self.left and self.closed in ("right", "neither")):
                return False
        if self.right is not None:
            if value > self.right or (value == self.right and self.closed in ("left", "neither")):
                return False
        return True

    def __str__(self) -> str:
        kind = "an int" if self.kind is numbers.Integral else "a float"
        if self.left is None and self.right is None:
            finite_note = self.allow_inf or self.kind is numbers.Integral  # ints are finite
            return f"{kind}" + ("" if finite_note else " (finite)")
        lo = "-inf" if self.left is None else _fmt(self.left)
        hi = "inf" if self.right is None else _fmt(self.right)
        lb = "[" if self.closed in ("left", "both") and self.left is not None else "("
        rb = "]" if self.closed in ("right", "both") and self.right is not None else ")"
        return f"{kind} in the range {lb}{lo}, {hi}{rb}"


_BUILTIN = {numbers.Real: (float, int), numbers.Integral: (int,)}


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (compared with ``==``)."""

    values: tuple[Any, ...]

    def is_satisfied_by(self, value: Any) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


def _fmt(v: float) -> str:
    return repr(int(v)) if float(v).is_integer() else repr(v)


def check_param(caller: str, name: str, value: Any, constraints: tuple) -> None:
    """Raise :class:`InvalidParameterError` unless ``value`` meets one constraint.

    Array-valued parameters (learnable tensors) are not checked here: they are
    checked once when the module that owns them is built.
    """
    if not constraints or any(c.is_satisfied_by(value) for c in constraints):
        return
    words = " or ".join(str(c) for c in constraints)
    raise InvalidParameterError(
        f"The {name!r} parameter of {caller} must be {words}. Got {value!r} instead."
    )
