"""actlab: activation functions, implemented exactly and put to the test.

Example:
    >>> import actlab
    >>> actlab.get("LeakyReLU").name
    'leaky_relu'
    >>> actlab.create("mish")
    Mish()
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .functions import (
    Activation,
    InvalidParameterError,
    UnknownActivationError,
    get,
    names,
    register,
    unregister,
)
from .functions import _registry as _reg

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "InvalidParameterError",
    "UnknownActivationError",
    "create",
    "functional",
    "get",
    "names",
    "nn",
    "register",
    "spec",
    "unregister",
]


def create(spec: Any, /, **kwargs: Any) -> Any:
    """Build a ``torch.nn.Module`` from a spec such as ``"leaky_relu(negative_slope=0.2)"``.

    See :func:`actlab.nn.create`.

    Example:
        >>> import actlab
        >>> actlab.create("elu(alpha=0.5)")
        ELU(alpha=0.5)
    """
    from .nn import create as _create

    return _create(spec, **kwargs)


def spec(module: Any) -> str:
    """The spec string of an activation module; ``create(spec(m))`` rebuilds it.

    Example:
        >>> import actlab
        >>> actlab.spec(actlab.create("softplus(beta=2.0)"))
        'softplus(beta=2.0)'
    """
    from .nn import spec as _spec

    return _spec(module)


def _autodiff(act: Activation, x: Any, params: dict) -> Any:
    # Installed lazily so that `import actlab.functions` stays free of torch.
    return import_module("actlab.torch.functional").autodiff_derivative(act, x, params)


_reg._AUTODIFF.append(_autodiff)

_LAZY = {"functional", "nn", "analysis", "cli"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return import_module(f"actlab.{name}")
    if name == "plot":  # actlab.plot(...): matplotlib is imported only when a plot is made
        return import_module("actlab.analysis.plot").plot
    if name in ("Monitor", "swap"):  # diagnostics: torch hooks, imported on first use
        return getattr(import_module("actlab.monitor"), name)
    raise AttributeError(f"module 'actlab' has no attribute {name!r}")
