"""The one schema of a training trial's settings: every key, its default, its type and range.

A trial config (a sweep file's ``[fixed]`` and ``[grid]`` values, an experiment's
configs, ``trainer.train_group``'s argument) is checked against this schema before
anything trains, and one error lists every problem, each naming the key, the value,
what is valid and, for a misspelt name, the close ones. The defaults live here too:
``trainer.DEFAULTS`` is :data:`DEFAULTS`.

Example:
    >>> from actlab.lab import settings
    >>> for line in settings.problems({"data": "moonz", "lr": 0.0, "epochs": 2.5}):
    ...     print(line)
    data: 'moonz' is not a data set (did you mean 'moons'?)
    epochs: 2.5 is not an int in the range [1, inf)
    lr: 0.0 is not a float in the range (0, inf)
"""

from __future__ import annotations

import difflib
import functools
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..functions import Interval

__all__ = ["DEFAULTS", "OPTIMIZERS", "SETTINGS", "Setting", "SettingsError", "problems", "resolve"]

OPTIMIZERS = ("sgd", "momentum", "adam", "adagrad")
MODELS = ("mlp", "cnn")
NORMS = (None, "batch", "layer")
#: Data sets a trial can name: those :func:`actlab.lab.data.load` finds without a path.
#: (cifar10 and npz need one, which a trial config has no key for.)
PATHLESS_DATA = ("mnist", "fashion_mnist")


class SettingsError(ValueError):
    """Settings that cannot run; the message lists every problem found."""


@dataclass(frozen=True)
class Setting:
    """One key of a trial config.

    Attributes:
        name: the key.
        default: its value when a config leaves it out (absent: the key is optional).
        check: returns what is wrong with a value, or None when it is valid.
        doc: one line for the documentation.
    """

    name: str
    default: Any
    check: Callable[[Any], str | None]
    doc: str


def _close(value: Any, valid: list[str]) -> str:
    close = difflib.get_close_matches(str(value), valid, n=3)
    return f" (did you mean {', '.join(map(repr, close))}?)" if close else ""


def _within(*, kind: type = numbers.Real, left: float | None = None,
            right: float | None = None, closed: str = "both") -> Callable[[Any], str | None]:
    """A check by the catalogue's own :class:`~actlab.functions.Interval` (finite, no
    bools): the same rule and the same words as every parameter of an activation."""
    interval = Interval(kind, left, right, closed)  # type: ignore[arg-type]

    def check(v: Any) -> str | None:
        return None if interval.is_satisfied_by(v) else f"{v!r} is not {interval}"

    return check


def _bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else f"{v!r} is not true or false"


def _one_of(options: tuple) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if v in options and not isinstance(v, bool):
            return None
        words = [str(o) for o in options if o is not None]
        return f"{v!r} is not one of {', '.join(map(repr, options))}{_close(v, words)}"

    return check


def _data(v: Any) -> str | None:
    from . import data

    known = [*data.names(), *PATHLESS_DATA]
    if isinstance(v, str) and v.lower().replace("-", "_") in known:
        return None
    return f"{v!r} is not a data set{_close(v, known)}"


def _widths(v: Any) -> str | None:
    if isinstance(v, list) and all(isinstance(w, int) and not isinstance(w, bool) and w >= 1
                                   for w in v):  # fmt: skip
        return None
    return f"{v!r} is not a list of layer widths (ints >= 1), e.g. [100, 100]"


@functools.lru_cache(maxsize=1024)
def _spec_problem(spec: str, catalogue: tuple[str, ...]) -> str | None:
    # one module built per distinct spec and catalogue (a registration changes what is
    # valid), however many trials name it
    from ..functions import UnknownActivationError
    from ..torch.nn import create

    try:
        create(spec)
    except (UnknownActivationError, ValueError, TypeError) as exc:
        return str(exc)
    return None


def _spec(optional: bool) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if v is None and optional:
            return None
        if not isinstance(v, str):
            return f"{v!r} is not an activation spec (a string such as 'leaky_relu(0.1)')"
        from .. import functions

        return _spec_problem(v, tuple(functions.names()))

    return check


def _init(v: Any) -> str | None:
    from .models import INITS

    return _one_of(INITS)(v)


_COUNT0 = _within(kind=numbers.Integral, left=0)
_COUNT1 = _within(kind=numbers.Integral, left=1)
_FINITE = _within()
_NONNEGATIVE = _within(left=0.0)
_POSITIVE = _within(left=0.0, closed="neither")
_FRACTION = _within(left=0.0, right=1.0, closed="left")

_ALL = (
    Setting("data", "mnist1d", _data, "data set name (actlab.lab.data.names())"),
    Setting("data_seed", 0, _COUNT0, "the train/test split and synthetic draw"),
    Setting("standardize", True, _bool, "zero mean, unit variance per feature"),
    Setting("shift_mean", 0.0, _FINITE, "added to every input after standardizing"),
    Setting("shift_scale", 1.0, _POSITIVE, "inputs multiplied by it"),
    Setting("model", "mlp", _one_of(MODELS), "mlp or cnn"),
    Setting("hidden", [100, 100], _widths, "the MLP's hidden widths"),
    Setting("channels", None, _widths, "the CNN's channels (optional)"),
    Setting("activation", "relu", _spec(False), "the hidden layers' activation spec"),
    Setting("init", "torch", _init, "weight initialisation"),
    Setting("norm", None, _one_of(NORMS), "normalisation before each activation"),
    Setting("residual", False, _bool, "skip connections between equal widths"),
    Setting("output", None, _spec(True), "an output activation spec, or none"),
    Setting("optimizer", "adam", _one_of(OPTIMIZERS), "the optimizer"),
    Setting("lr", 0.01, _POSITIVE, "learning rate"),
    Setting("momentum", 0.9, _FRACTION, "momentum (optimizer 'momentum')"),
    Setting("weight_decay", 0.0, _NONNEGATIVE, "L2 weight decay"),
    Setting("batch_size", 100, _COUNT1, "rows per step"),
    Setting("epochs", 50, _COUNT1, "passes over the training data"),
    Setting("seed", 0, _COUNT0, "the model's initialisation and the batches' order"),
    Setting("eval_noise", 0.0, _NONNEGATIVE, "std of Gaussian noise on the test inputs"),
    Setting("name", None, lambda v: None, "a label, ignored by training (optional)"),
)
#: Every setting, by key.
SETTINGS: dict[str, Setting] = {s.name: s for s in _ALL}
#: The value of every non-optional setting when a config leaves it out.
DEFAULTS: dict[str, Any] = {s.name: s.default for s in _ALL if s.name not in ("channels", "name")}


def problems(config: dict[str, Any]) -> list[str]:
    """Everything wrong with ``config``, one line per problem (empty: it can run)."""
    if not isinstance(config, dict):
        return [f"settings must be a table of key = value, not {type(config).__name__}"]
    out = []
    for key in sorted(config):
        if key not in SETTINGS:
            out.append(f"{key}: not a setting{_close(key, list(SETTINGS))}")
    merged = {**DEFAULTS, **config}
    for key in sorted(merged):
        s = SETTINGS.get(key)
        if s is None or (key in ("channels", "name") and merged[key] is None):
            continue
        why = s.check(merged[key])
        if why:
            out.append(f"{key}: {why}")
    return out


def resolve(config: dict[str, Any], where: str = "") -> dict[str, Any]:
    """``config`` with the defaults filled in, or a :class:`SettingsError` listing every
    problem (``where`` names the file or trial in the message)."""
    found = problems(config)
    if found:
        head = f"{where}: " if where else ""
        raise SettingsError(head + "invalid settings:\n  " + "\n  ".join(found))
    return {**DEFAULTS, **config}
