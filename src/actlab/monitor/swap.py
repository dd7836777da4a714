"""``actlab.swap``: replace the activation modules of any model, recursively."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from torch import nn

from .. import functions
from ..functions import Activation
from ..torch.nn import create
from .activations import module_target

__all__ = ["swap"]


def _matcher(old: Any) -> Callable[[nn.Module], bool]:
    if old is None:
        return lambda m: module_target(m) is not None
    if isinstance(old, type) or (isinstance(old, tuple) and all(isinstance(c, type) for c in old)):
        return lambda m: isinstance(m, old)
    if isinstance(old, (str, Activation)):
        name = functions.get(old).name

        def by_name(m: nn.Module) -> bool:
            t = module_target(m)
            return t is not None and t.act.name == name

        return by_name
    if callable(old):
        return old
    raise TypeError(
        f"old must be a module class, a tuple of classes, an activation name, a predicate "
        f"or None; got {old!r}"
    )


def _builder(spec: Any) -> Callable[[], nn.Module]:
    if isinstance(spec, nn.Module):
        return lambda: copy.deepcopy(spec)
    if isinstance(spec, type) and issubclass(spec, nn.Module):
        return spec
    if isinstance(spec, (str, Activation)):
        create(spec)  # validate once, before anything is replaced
        return lambda: create(spec)
    if callable(spec):
        return spec
    raise TypeError(
        f"spec must be a spec string, a module, a module class or a factory; got {spec!r}"
    )


def swap(model: nn.Module, spec: Any, old: Any = None) -> int:
    """Replace activation modules in ``model``, recursively; return how many were replaced.

    Args:
        model: any ``torch.nn.Module``; changed in place.
        spec: the new activation: a spec string such as
            ``"leaky_relu(negative_slope=0.1)"``, an activation module (copied for each
            place), a module class, or a factory called once per place.
        old: what to replace: a module class (``torch.nn.ReLU``) or a tuple of them
            (subclasses match too), an activation name (``"relu"`` matches
            ``torch.nn.ReLU`` and ``actlab.nn.ReLU``), a predicate ``f(module) -> bool``,
            or ``None`` for every activation module the monitor recognises.

    A module that sits in several places (one ``nn.ReLU`` reused) is replaced by one
    new module everywhere, so the model's structure stays the same; each place
    counts. The new modules take the training mode, and the device and dtype of
    the replaced module's parameters (or of the model's). The model itself is never
    replaced: build a new one for that.

    Example:
        >>> import torch, actlab
        >>> m = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(),
        ...                         torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU()))
        >>> actlab.swap(m, "leaky_relu(negative_slope=0.1)", old=torch.nn.ReLU)
        2
        >>> m[2][1]
        LeakyReLU(negative_slope=0.1)
    """
    match = _matcher(old)
    build = _builder(spec)
    ref = next(model.parameters(), None)
    done: dict[int, nn.Module] = {}
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if child is None or not match(child):
                continue
            new = done.get(id(child))
            if new is None:
                new = build()
                src = next(child.parameters(), ref)
                if src is not None:
                    new = new.to(device=src.device, dtype=src.dtype)
                new.train(child.training)
                done[id(child)] = new
            setattr(parent, name, new)
            count += 1
    return count
