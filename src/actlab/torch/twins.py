"""PyTorch's own form of each catalogue entry, as calls.

Every entry that PyTorch also implements declares its twin once, in its definition
(:class:`actlab.functions.TorchTwin`: names, not imports, so that the catalogue stays
free of torch). This module turns those declarations into the callables that the rest
of actlab compares against or recognizes: the benchmarks' baselines, the numerics
audit's torch rows, the fast paths' native candidates, ``actlab.spec`` of a
``torch.nn`` module and the monitor's call sites. Nothing else maps the catalogue onto
PyTorch.

Example:
    >>> import torch
    >>> from actlab.torch import twins
    >>> twins.function("leaky_relu", {"negative_slope": 0.5})(torch.tensor([-2.0, 3.0]))
    tensor([-1.,  3.])
    >>> twins.entry_of(torch.nn.GELU(approximate="tanh")).name
    'gelu_tanh'
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .. import functions
from ..functions import Activation, TorchTwin

__all__ = [
    "CallSite",
    "aten_out",
    "call_sites",
    "caller",
    "entry_of",
    "function",
    "inplace_function",
    "module_classes",
    "module_kwargs",
    "param_names",
    "twin",
]


def twin(act: str | Activation) -> TorchTwin | None:
    """The entry's declared twin, or None where PyTorch has no form of it."""
    return functions.get(act).torch_twin


def param_names(act: str | Activation) -> tuple[str, ...]:
    """The entry's parameters that PyTorch's form takes, in its positional order."""
    a = functions.get(act)
    tw = a.torch_twin
    if tw is None:
        return ()
    return tuple(p.name for p in a.params) if tw.params is None else tw.params


@functools.cache
def _resolve(dotted: str) -> Any:
    obj: Any = torch
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _args(a: Activation, params: dict[str, Any] | None, x: torch.Tensor) -> list[Any]:
    p = a.resolve(params or {})
    tensors = a.torch_twin.tensor_params if a.torch_twin else ()
    out = []
    for k in param_names(a):
        v = p[k]
        if k in tensors and not isinstance(v, torch.Tensor):  # PReLU's weight: a tensor
            v = torch.tensor([v], dtype=x.dtype, device=x.device)
        out.append(v)
    return out


def caller(act: str | Activation) -> Callable[[torch.Tensor, dict], torch.Tensor] | None:
    """PyTorch's functional op for the entry, ``(x, params) -> y`` with the parameters
    already resolved (defaults filled in, validated), or None."""
    a = functions.get(act)
    tw = a.torch_twin
    if tw is None or not tw.function:
        return None
    op, fixed, names = _resolve(tw.function), dict(tw.fixed), param_names(a)
    if tw.tensor_params:
        return lambda x, p: op(x, *_args(a, p, x), **fixed)
    return lambda x, p: op(x, *[p[k] for k in names], **fixed)


def function(
    act: str | Activation, params: dict[str, Any] | None = None
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """PyTorch's functional op for the entry at ``params`` (defaults filled in), or None."""
    a = functions.get(act)
    tw = a.torch_twin
    if tw is None or not tw.function:
        return None
    p = a.resolve(params or {})  # a bad parameter is named now, not at the first call
    if tw.tensor_params:
        call = caller(a)
        return lambda x: call(x, p)
    # PyTorch's op itself, or a partial (no Python frame): timings of it stay its own
    kw = {k: p[k] for k in param_names(a)} | dict(tw.fixed)  # PyTorch's keywords, ours
    return functools.partial(_resolve(tw.function), **kw) if kw else _resolve(tw.function)


def inplace_function(
    act: str | Activation, params: dict[str, Any] | None = None
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """PyTorch's in-place form (``inplace=True``) of the entry, or None."""
    a = functions.get(act)
    tw = a.torch_twin
    if tw is None or not tw.function or not tw.inplace:
        return None
    p = a.resolve(params or {})
    kw = {k: p[k] for k in param_names(a)} | dict(tw.fixed)
    return functools.partial(_resolve(tw.function), **kw, inplace=True)


def aten_out(
    act: str | Activation, params: dict[str, Any] | None = None
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None:
    """PyTorch's op writing into a given ``out`` tensor (no allocation), ``(x, out) -> out``."""
    a = functions.get(act)
    tw = a.torch_twin
    if tw is None or not tw.aten:
        return None
    op = getattr(torch.ops.aten, tw.aten).out
    lead, fixed = tw.aten_args, dict(tw.fixed)

    def run(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return op(x, *lead, *_args(a, params, x), **fixed, out=out)

    return run


# ------------------------------------------------------------------------------ modules
@functools.cache
def _by_module() -> dict[str, tuple[Activation, ...]]:
    out: dict[str, list[Activation]] = {}
    for name in functions.names():
        a = functions.get(name)
        if a.torch_twin is not None and a.torch_twin.module and not a.user:
            out.setdefault(a.torch_twin.module, []).append(a)
    return {k: tuple(v) for k, v in out.items()}


def module_classes(kind: str = "elementwise") -> tuple[type[nn.Module], ...]:
    """The ``torch.nn`` classes of the entries of one kind, in catalogue order."""
    seen: dict[type[nn.Module], None] = {}
    for name, acts in _by_module().items():
        if acts[0].kind == kind and hasattr(nn, name):
            seen[getattr(nn, name)] = None
    return tuple(seen)


def entry_of(m: nn.Module) -> Activation | None:
    """The catalogue entry a ``torch.nn`` module computes, or None.

    Where several entries share a class (GELU and its tanh form), the one whose
    ``fixed`` keywords match the module's attributes.
    """
    acts = _by_module().get(type(m).__name__)
    if not acts:
        return None
    for a in acts:
        if all(getattr(m, k, v) == v for k, v in a.torch_twin.fixed if hasattr(m, k)):
            return a
    return acts[0]


def module_kwargs(m: nn.Module, act: Activation) -> dict[str, Any]:
    """The entry's parameters as a ``torch.nn`` module holds them (attributes)."""
    return {k: getattr(m, k) for k in param_names(act) if getattr(m, k, None) is not None}


# --------------------------------------------------------------------------- call sites
@dataclass(frozen=True)
class CallSite:
    """One torch function (or Tensor method) that computes catalogue entries.

    Attributes:
        func: the callable, as ``__torch_function__`` sees it.
        origin: its name, e.g. ``"F.leaky_relu"``, ``"torch.relu_"``, ``"Tensor.tanh"``.
        entries: the entries it computes (several where ``fixed`` keywords choose, as
            F.gelu's ``approximate``), each with the keywords that select it.
        params: ``(catalogue name, position, keyword)`` of each parameter in a call.
        inplace_arg: ``(position, keyword)`` of its ``inplace`` flag, if any.
        always_inplace: the function writes into its input (``relu_``).
    """

    func: Any
    origin: str
    entries: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]
    params: tuple[tuple[str, int, str], ...]
    inplace_arg: tuple[int, str] | None
    always_inplace: bool


_PREFIXES = (("torch", torch), ("F", nn.functional), ("Tensor", torch.Tensor))


def _positions(func: Any, names: list[str]) -> dict[str, int]:
    """Each name's position in ``func``'s signature (input first), and ``inplace``'s where
    it takes one; a builtin without a signature takes ``names`` in order, and no flag."""
    try:
        sig = list(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return {n: i + 1 for i, n in enumerate(names)}
    return {n: sig.index(n) for n in [*names, "inplace"] if n in sig}


@functools.cache
def call_sites() -> tuple[CallSite, ...]:
    """Every torch function that computes an elementwise entry with a ``torch.nn`` module.

    For a twin's function ``X`` (``F.X`` or ``torch.X``): ``F.X``, ``torch.X`` and
    ``Tensor.X`` where they exist, their in-place ``X_`` forms, and the twin's ``calls``.
    Entries without a module (exp) are left out: a model's exp is rarely its activation.
    """
    groups: dict[str, list[Activation]] = {}
    for name in functions.names():
        a = functions.get(name)
        tw = a.torch_twin
        if a.kind == "elementwise" and tw is not None and tw.function and tw.module:
            groups.setdefault(tw.function, []).append(a)
    sites: dict[Any, CallSite] = {}
    for dotted, acts in groups.items():
        base = dotted.rsplit(".", 1)[-1]
        tw = acts[0].torch_twin
        names = list(param_names(acts[0]))
        keys = names + [k for k, _ in tw.fixed]
        entries = tuple((a.name, a.torch_twin.fixed) for a in acts)
        found = [(f"{p}.{n}", getattr(mod, n)) for n in (base, base + "_") for p, mod in _PREFIXES
                 if hasattr(mod, n)] + [(f"torch.{c}", _resolve(c)) for c in tw.calls]  # fmt: skip
        for origin, func in found:
            if func in sites:
                continue
            inplace = origin.endswith("_")
            pos = _positions(_resolve(dotted) if inplace else func, keys)
            sites[func] = CallSite(
                func,
                origin,
                entries,
                tuple((k, pos[k], k) for k in keys if k in pos),
                None if inplace or "inplace" not in pos else (pos["inplace"], "inplace"),
                inplace,
            )
    return tuple(sites.values())
