"""``torch.nn.Module`` versions of every activation, drop-in for their ``torch.nn`` twins.

Each catalogue entry gets a class (``actlab.nn.Mish``, ``actlab.nn.LeakyReLU``,
...) with the same constructor arguments as PyTorch's where PyTorch has one,
hyperparameters as plain attributes, learnable ones as ``nn.Parameter``, a
one-line ``forward`` and an ``extra_repr`` like PyTorch's. :func:`create` builds
one from a spec string and :func:`spec` gives the string back.

Example:
    >>> import torch, actlab
    >>> m = actlab.create("leaky_relu(negative_slope=0.2)")
    >>> m
    LeakyReLU(negative_slope=0.2)
    >>> actlab.spec(m)
    'leaky_relu(negative_slope=0.2)'
    >>> m(torch.tensor([-1.0, 1.0]))
    tensor([-0.2000,  1.0000])
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from .. import functions
from ..functions import Activation, Interval, InvalidParameterError, format_spec, parse_spec
from ..functions._validation import check_param
from . import functional as AF
from . import twins

__all__ = ["ActivationModule", "PReLU", "create", "module_class", "spec"]


class ActivationModule(nn.Module):
    """Base class: an activation from the catalogue as a module.

    Shape:
        - Input: ``(*)``, any number of dimensions (vector kinds: ``(*, n, *)`` along ``dim``).
        - Output: ``(*)``, same shape as the input (GLUs: half the size along ``dim``).
    """

    activation: Activation  # set on each generated subclass
    inplace: bool

    def __init__(self, *args: Any, inplace: bool = False, learnable: bool = False, **kwargs: Any):
        super().__init__()
        act = self.activation
        names = [p.name for p in act.params]
        if len(args) > len(names) + act.inplace:
            raise TypeError(
                f"{type(self).__name__} takes at most {len(names)} positional arguments"
            )
        if len(args) > len(names):  # PyTorch order: (params..., inplace)
            inplace = args[-1]
            args = args[:-1]
        for n, v in zip(names, args):
            if n in kwargs:
                raise TypeError(f"{type(self).__name__} got multiple values for {n!r}")
            kwargs[n] = v
        for flag, value in (("inplace", inplace), ("learnable", learnable)):
            if not isinstance(value, bool):  # bool("False") is True: no truthiness here
                raise InvalidParameterError(
                    f"The {flag!r} parameter of {type(self).__name__} must be True or False. "
                    f"Got {value!r} instead."
                )
        for n, v in kwargs.items():
            if isinstance(v, torch.Tensor):  # its spec could not be written or read back
                hint = " (learnable=True makes it a learned parameter)" if n in [
                    p.name for p in act.params if p.learnable == "optional"] else ""  # fmt: skip
                raise InvalidParameterError(
                    f"The {n!r} parameter of {type(self).__name__} must be a Python number, "
                    f"not a tensor{hint}."
                )
        if inplace and not act.inplace:
            raise InvalidParameterError(f"{type(self).__name__} has no in-place form")
        optional = [p.name for p in act.params if p.learnable == "optional"]
        if learnable and not optional:
            raise InvalidParameterError(f"{type(self).__name__} has no learnable parameters")
        params = act.resolve(kwargs, caller=type(self).__name__)
        self._init_kwargs = dict(kwargs)
        self.inplace = bool(inplace)
        self.learnable = bool(learnable)
        for n, v in params.items():
            if learnable and n in optional:
                self.register_parameter(n, nn.Parameter(torch.tensor(float(v))))
            else:
                setattr(self, n, v)

    def _params(self) -> dict[str, Any]:
        return {p.name: getattr(self, p.name) for p in self.activation.params}

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return AF.dispatch(self.activation, input, self._params(), self.inplace, self.training)

    def extra_repr(self) -> str:
        shown = {k: v for k, v in self._params().items() if not isinstance(v, torch.Tensor)}
        parts = [f"{k}={v!r}" for k, v in shown.items()]
        if self.learnable:
            parts.append("learnable=True")
        if self.inplace:
            parts.append("inplace=True")
        return ", ".join(parts)

    def spec(self) -> str:
        """The spec string that :func:`create` turns back into this module."""
        defaults = {p.name: p.default for p in self.activation.params}
        kw = dict(self._init_kwargs)
        if self.learnable:
            kw["learnable"] = True
        if self.inplace:
            kw["inplace"] = True
        return format_spec(self.activation.name, kw, {**defaults, "learnable": False})


class PReLU(ActivationModule):
    r"""PReLU with a learned negative slope, one shared or one per channel (dim 1).

    .. math:: \text{PReLU}(x) = \max(0, x) + a \min(0, x)

    Args:
        num_parameters: number of slopes: 1, or the number of channels. Default: 1
        init: initial slope. Default: 0.25

    Shape:
        - Input: ``(*)``; with ``num_parameters > 1`` the channel dimension is dim 1.
        - Output: ``(*)``, same shape as the input.

    Example:
        >>> import torch, actlab
        >>> m = actlab.nn.PReLU(num_parameters=3)
        >>> m(torch.full((2, 3, 4), -1.0)).shape
        torch.Size([2, 3, 4])
    """

    activation = functions.get("prelu")

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        nn.Module.__init__(self)
        if (
            isinstance(num_parameters, bool)
            or not isinstance(num_parameters, int)
            or (num_parameters < 1)
        ):
            raise InvalidParameterError(
                f"The 'num_parameters' parameter of PReLU must be an int in the range [1, inf). "
                f"Got {num_parameters!r} instead."
            )
        check_param("PReLU", "init", init, (Interval(),))
        self.num_parameters = num_parameters
        self.init = init
        self.inplace = False
        self.learnable = True
        self._init_kwargs = {"num_parameters": num_parameters, "init": init}
        self.weight = nn.Parameter(
            torch.full((num_parameters,), float(init), device=device, dtype=dtype)
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        w = self.weight
        if self.num_parameters > 1:
            if input.dim() < 2 or input.shape[1] != self.num_parameters:
                raise ValueError(
                    f"PReLU has {self.num_parameters} slopes but the input's channel dimension "
                    f"(dim 1) has shape {tuple(input.shape)}"
                )
            w = w.reshape((1, -1) + (1,) * (input.dim() - 2))
        return AF.dispatch(self.activation, input, {"weight": w})

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"

    def spec(self) -> str:
        return format_spec("prelu", self._init_kwargs, {"num_parameters": 1, "init": 0.25})


class GELU(ActivationModule):
    r"""GELU, x Phi(x): exact (erf) by default, or its tanh approximation, as ``torch.nn.GELU``.

    .. math:: \text{GELU}(x) = x \, \Phi(x)

    Args:
        approximate: ``"none"`` (the exact GELU, catalogue entry ``gelu``) or ``"tanh"``
            (``gelu_tanh``, the form GPT-2 and ``jax.nn.gelu`` use). Default: ``"none"``

    Shape:
        - Input: ``(*)``, any number of dimensions.
        - Output: ``(*)``, same shape as the input.

    Example:
        >>> import torch, actlab
        >>> m = actlab.nn.GELU(approximate="tanh")
        >>> m, actlab.spec(m)
        (GELU(approximate='tanh'), 'gelu_tanh')
        >>> x = torch.tensor([-2.0, -0.5, 0.5, 1.5])
        >>> m(x).double().numpy().round(4) + 0.0  # float32 output, 4 places
        array([-0.0454, -0.1543,  0.3457,  1.3996])
    """

    activation = functions.get("gelu")

    def __init__(self, approximate: str = "none", *, inplace: bool = False) -> None:
        if approximate not in ("none", "tanh"):
            raise InvalidParameterError(
                f"The 'approximate' parameter of GELU must be 'none' or 'tanh'. "
                f"Got {approximate!r} instead."
            )
        super().__init__(inplace=inplace)  # which says that GELU has no in-place form
        self.approximate = approximate
        if approximate == "tanh":  # the other definition: an alias never joins the two
            self.activation = functions.get("gelu_tanh")

    def extra_repr(self) -> str:
        return "approximate='tanh'" if self.approximate == "tanh" else ""


_CLASSES: dict[str, type[ActivationModule]] = {"prelu": PReLU, "gelu": GELU}


def module_class(name: str | Activation) -> type[ActivationModule]:
    """The module class of an activation (built on first use for user-registered ones)."""
    act = functions.get(name)
    cls = _CLASSES.get(act.name)
    if cls is None or cls.activation is not act:
        cls = _build_class(act)
        _CLASSES[act.name] = cls
    return cls


#: The docstrings' example input: both signs, off the kinks at 0.
_EXAMPLE_X = (-2.0, -0.5, 0.5, 1.5)


def _example(act: Activation) -> str:
    """The class docstring's example: the module on four numbers.

    The printed values are the catalogue's definition in float64, rounded to 4 places,
    so the doctest checks the module's own (float32, fast) path against the definition.
    """
    import numpy as np

    create = f"actlab.create({act.name!r})" + (".eval()" if act.stochastic else "")
    head = f"    Examples::\n\n        >>> import torch, actlab\n        >>> m = {create}\n"
    try:
        want = np.round(np.asarray(act.forward(np.array(_EXAMPLE_X)), np.float64), 4) + 0.0
    except Exception:  # a user's definition that NumPy cannot run: show the shape only
        return head + "        >>> m(torch.randn(4, 6)).shape\n        torch.Size([4, 6])\n"
    return (
        head + f"        >>> x = torch.tensor({list(_EXAMPLE_X)})\n"
        "        >>> m(x).double().numpy().round(4) + 0.0  # float32 output, 4 places\n"
        f"        {want!r}\n"
    )


def _build_class(act: Activation) -> type[ActivationModule]:
    cls_name = act.class_name or "".join(w.capitalize() for w in act.name.split("_"))
    params = [
        inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=p.default)
        for p in act.params
    ]
    if act.inplace:
        params.append(
            inspect.Parameter("inplace", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=False)
        )
    if any(p.learnable == "optional" for p in act.params):
        params.append(inspect.Parameter("learnable", inspect.Parameter.KEYWORD_ONLY, default=False))
    sig = inspect.Signature(params)
    args = "\n".join(f"        {p.name}: {p.doc}. Default: ``{p.default!r}``" for p in act.params)
    if act.inplace:
        args += "\n        inplace: write the result into the input. Default: ``False``"
    doc = (
        f"{act.summary}\n\n    .. math:: {act.latex}\n\n"
        + (f"    Args:\n{args}\n\n" if args else "")
        + "    Shape:\n        - Input: ``(*)``, any number of dimensions.\n"
        "        - Output: ``(*)``, same shape as the input"
        + (" (half the size along ``dim``)" if "glu" in act.name else "")
        + ".\n\n"
        + _example(act)
    )
    # the class's own signature (inspect.signature(cls), help()): __init__ is the one
    # function every generated class shares, so a signature set on it would be the last
    # class's for all of them
    ns = {"activation": act, "__doc__": doc, "__module__": __name__, "__signature__": sig}
    return type(cls_name, (ActivationModule,), ns)


for _name in functions.names():
    _cls = module_class(_name)
    globals()[_cls.__name__] = _cls
    __all__.append(_cls.__name__)
del _name, _cls


def create(spec: str | Activation | type[nn.Module] | nn.Module, /, **kwargs: Any) -> nn.Module:
    """Build an activation module from a spec string, a name, a class or a module.

    A string is ``NAME`` or ``NAME(key=value, ...)`` with any alias as the name;
    keyword arguments add to the spec's (one that contradicts it is an error). A module
    class is instantiated with ``kwargs``; a module instance is returned as it is.

    Example:
        >>> import actlab
        >>> actlab.create("LeakyReLU(negative_slope=0.2)")
        LeakyReLU(negative_slope=0.2)
        >>> actlab.create("mish")
        Mish()
    """
    if isinstance(spec, nn.Module):
        if kwargs:
            raise InvalidParameterError(
                f"create() got a module ({spec!r}) and parameters {sorted(kwargs)}: a built "
                "module keeps its own; pass a spec string or a class to set them"
            )
        return spec
    if isinstance(spec, type) and issubclass(spec, nn.Module):
        return spec(**kwargs)
    if isinstance(spec, Activation):
        return _build(module_class(spec), kwargs)
    name, parsed = parse_spec(spec)
    clash = sorted(k for k in parsed.keys() & kwargs.keys() if parsed[k] != kwargs[k])
    if clash:
        raise InvalidParameterError(
            f"create({spec!r}) got {', '.join(f'{k}={kwargs[k]!r}' for k in clash)} as well: "
            "give each parameter once, in the spec or as a keyword"
        )
    return _build(module_class(name), {**parsed, **kwargs})


def _build(cls: type[ActivationModule], kwargs: dict[str, Any]) -> nn.Module:
    """``cls(**kwargs)``, with an unknown keyword named among the valid ones."""
    known = inspect.signature(cls).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in known.values()):
        # inplace and learnable where there is no such form: the class says so itself
        unknown = [k for k in kwargs if k not in known and k not in ("inplace", "learnable")]
        if unknown:
            valid = list(known)
            raise InvalidParameterError(
                f"{cls.__name__} got unexpected parameter(s) {', '.join(map(repr, unknown))}; "
                f"its parameters are: {', '.join(valid) or 'none'}."
            )
    return cls(**kwargs)


def spec(module: nn.Module | str) -> str:
    """The spec string of an activation module, e.g. ``'leaky_relu(negative_slope=0.2)'``.

    ``torch.nn`` activation modules are described too, in actlab's names.

    Example:
        >>> import torch, actlab
        >>> actlab.spec(torch.nn.ELU(alpha=0.5))
        'elu(alpha=0.5)'
    """
    if isinstance(module, str):
        return create(module).spec()
    if isinstance(module, ActivationModule):
        return module.spec()
    if isinstance(module, nn.Module):
        return _torch_spec(module)
    raise TypeError(f"spec() expects an activation module or a spec string, got {module!r}")


def _torch_spec(m: nn.Module) -> str:
    cls = type(m).__name__
    if cls == "PReLU":
        return format_spec(
            "prelu",
            {"num_parameters": m.num_parameters, "init": getattr(m, "init", 0.25)},
            {"num_parameters": 1, "init": 0.25},
        )
    act = twins.entry_of(m)
    if act is None:  # nn.Identity and the like: a catalogue class of the same name
        act = functions.get(cls)
        if act.class_name != cls:  # "Linear" is identity's alias, not its class
            raise functions.UnknownActivationError(f"spec(): {cls} is not an activation module")
    kw = twins.module_kwargs(m, act)
    if getattr(m, "inplace", False):
        kw["inplace"] = True
    return format_spec(act.name, kw, act.defaults)
