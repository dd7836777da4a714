"""Which catalogue entry, with which parameters, a torch activation module or function computes.

The monitor measures saturation with the catalogue's derivative, so it must know
for every activation it sees the :class:`~actlab.functions.Activation` and its
parameters: ``torch.nn.LeakyReLU(0.2)`` is ``leaky_relu(negative_slope=0.2)``,
``F.gelu(x, approximate="tanh")`` is ``gelu_tanh``, ``x.relu()`` is ``relu``.

Example:
    >>> import torch, torch.nn.functional as F
    >>> module_target(torch.nn.LeakyReLU(0.2)).spec
    'leaky_relu(negative_slope=0.2)'
    >>> FUNCTIONS[F.gelu].resolve((torch.zeros(1),), {"approximate": "tanh"})[0].name
    'gelu_tanh'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .. import functions
from ..functions import Activation, format_spec, parse_spec
from ..torch import twins
from ..torch.nn import ActivationModule
from ..torch.nn import PReLU as ActlabPReLU
from ..torch.nn import spec as module_spec

__all__ = ["FUNCTIONS", "TORCH_MODULES", "FunctionTarget", "Target", "module_target"]

#: ``torch.nn`` activation classes the monitor hooks (elementwise ones only: softmax,
#: GLU and friends mix values along a dimension and have no per-value derivative).
TORCH_MODULES: tuple[type[nn.Module], ...] = twins.module_classes("elementwise")


@dataclass(frozen=True)
class Target:
    """An activation as the monitor sees it.

    Attributes:
        act: the catalogue entry.
        params: numeric parameters (validated, defaults filled in).
        tensor_params: for learnable parameters (PReLU's slopes): a function of the
            input that returns them, shaped to broadcast against it; ``None`` otherwise.
        inplace: the module overwrites its input (the pre-activation must be read first).
        origin: where it comes from, e.g. ``"torch.nn.ReLU"`` or ``"F.relu"``.
    """

    act: Activation
    params: dict[str, Any] = field(default_factory=dict)
    tensor_params: Callable[[torch.Tensor], dict[str, torch.Tensor]] | None = None
    inplace: bool = False
    origin: str = ""

    @property
    def spec(self) -> str:
        """``NAME`` or ``NAME(key=value, ...)`` with the non-default parameters."""
        return format_spec(self.act.name, self.params, self.act.defaults)


def _channel_view(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # PReLU's slopes are per channel (dim 1), or one shared slope.
    w = w.detach()
    if w.numel() > 1 and x.dim() >= 2:
        return w.reshape((1, -1) + (1,) * (x.dim() - 2))
    return w.reshape(()) if w.numel() == 1 else w


def module_target(m: nn.Module) -> Target | None:
    """The :class:`Target` of an activation module, or ``None`` if ``m`` is not one.

    Recognised: actlab's modules (:class:`actlab.nn.ActivationModule`) and the
    elementwise ``torch.nn`` activations of :data:`TORCH_MODULES` (exact classes: a
    subclass that overrides ``forward`` computes something else; the functions it
    calls are still seen as call sites).
    """
    if isinstance(m, ActlabPReLU) or type(m) is getattr(nn, "PReLU", None):
        return Target(
            functions.get("prelu"),
            {},
            tensor_params=lambda x, m=m: {"weight": _channel_view(m.weight, x)},
            origin=_origin(m),
        )
    if isinstance(m, ActivationModule):
        act = m.activation
        if act.kind != "elementwise":
            return None
        values = m._params()
        static = {k: v for k, v in values.items() if not isinstance(v, torch.Tensor)}
        learn = tuple(k for k, v in values.items() if isinstance(v, torch.Tensor))
        dyn = None
        if learn:

            def dyn(x: torch.Tensor, m: nn.Module = m, learn: tuple = learn) -> dict:
                return {k: getattr(m, k).detach() for k in learn}

        return Target(act, static, dyn, bool(m.inplace), _origin(m))
    if type(m) not in TORCH_MODULES:
        return None
    name, kw = parse_spec(module_spec(m))
    inplace = bool(kw.pop("inplace", False))
    act = functions.get(name)
    return Target(act, act.resolve(kw), None, inplace, _origin(m))


def _origin(m: nn.Module) -> str:
    cls = type(m)
    mod = cls.__module__
    if mod.startswith("torch.nn"):
        mod = "torch.nn"
    elif mod.startswith("actlab.torch.nn"):  # shown by its public name
        mod = "actlab.nn"
    return f"{mod}.{cls.__qualname__}"


@dataclass(frozen=True)
class FunctionTarget:
    """A torch function that computes a catalogue activation (from its declared twin).

    ``params`` lists ``(catalogue_name, position, keyword)``: where the call
    carries each parameter (``F.leaky_relu(x, 0.2)`` or ``negative_slope=0.2``).
    ``entries`` are the activations it computes, each with the keywords that select it
    (F.gelu's ``approximate``): a call takes the first whose keywords it does not
    contradict.
    """

    origin: str
    entries: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]
    params: tuple[tuple[str, int, str], ...] = ()
    inplace_arg: tuple[int, str] | None = None
    always_inplace: bool = False

    @property
    def name(self) -> str:
        """The activation a call with PyTorch's defaults computes."""
        return self.entries[0][0]

    def resolve(self, args: tuple, kwargs: dict) -> tuple[Activation, dict[str, Any], Any]:
        """The activation, its numeric parameters and the tensor ones (PReLU), for a call."""
        got: dict[str, Any] = {}
        for pname, pos, kw in self.params:
            if kw in kwargs:
                got[pname] = kwargs[kw]
            elif len(args) > pos:
                got[pname] = args[pos]
        selectors = {k for _, fixed in self.entries for k, _ in fixed}
        given = {k: got.pop(k) for k in selectors if k in got}
        name = next(
            (n for n, fixed in self.entries if all(given.get(k, v) == v for k, v in fixed)),
            self.name,
        )
        act = functions.get(name)
        tensors = {k: v for k, v in got.items() if isinstance(v, torch.Tensor)}
        if "weight" in tensors and args and isinstance(args[0], torch.Tensor):
            tensors["weight"] = _channel_view(tensors["weight"], args[0])
        numbers = {k: v for k, v in got.items() if k not in tensors}
        return act, act.resolve(numbers), tensors or None

    def inplace(self, args: tuple, kwargs: dict) -> bool:
        if self.always_inplace:
            return True
        if self.inplace_arg is None:
            return False
        pos, kw = self.inplace_arg
        return bool(kwargs.get(kw, args[pos] if len(args) > pos else False))


def _table() -> dict[Any, FunctionTarget]:
    return {
        c.func: FunctionTarget(c.origin, c.entries, c.params, c.inplace_arg, c.always_inplace)
        for c in twins.call_sites()
    }


#: torch functions (and Tensor methods) intercepted as activation call sites.
FUNCTIONS: dict[Any, FunctionTarget] = _table()
