"""The catalogue: one :class:`Activation` per definition, found by name.

Lookup is case-insensitive and ignores ``_``, ``-`` and spaces, so the PyTorch,
Keras and JAX spellings (``LeakyReLU``, ``leaky_relu``, ``hardswish``,
``Hardswish``) all reach the same entry. Aliases are kept apart from canonical
names and never join two different definitions: registering an alias that
already names another entry is an error.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ._array import as_array, compute_dtype, namespace
from ._validation import Interval, InvalidParameterError, check_param

__all__ = [
    "Activation",
    "Param",
    "TorchTwin",
    "UnknownActivationError",
    "aliases",
    "get",
    "names",
    "register",
    "unregister",
]

Kind = Literal["elementwise", "vector"]
Smoothness = Literal["discontinuous", "C0", "C1", "Cinf"]


class DimensionError(InvalidParameterError, IndexError):
    """A vector activation's ``dim`` that the input does not have: an
    :class:`InvalidParameterError` and, as NumPy and PyTorch say it, an ``IndexError``."""


class UnknownActivationError(KeyError, ValueError):
    """No activation has this name. Both a ``KeyError`` and a ``ValueError``."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


@dataclass(frozen=True)
class Param:
    """One parameter of an activation.

    Attributes:
        name: keyword name, as in the forward signature.
        default: value used when the caller gives none.
        constraints: accepted values; a value must meet at least one.
        doc: one line for ``actlab show`` and the docstrings.
        learnable: ``"no"``; ``"optional"`` (a module can learn it when asked,
            like Swish's beta); ``"always"`` (like PReLU's slope).
    """

    name: str
    default: Any
    constraints: tuple = ()
    doc: str = ""
    learnable: Literal["no", "optional", "always"] = "no"


@dataclass(frozen=True)
class TorchTwin:
    """PyTorch's own form of a catalogue entry, named rather than imported.

    ``actlab.functions`` imports no torch, so the twin is a description that the
    torch layer (:mod:`actlab.torch.twins`) turns into calls; every table that maps
    the catalogue onto PyTorch (the benchmarks' baselines, the numerics audit's torch
    rows, the fast paths' native candidates, ``actlab.spec`` of a ``torch.nn`` module,
    the monitor's hooks) is read from here.

    Attributes:
        function: the functional op, a dotted name under ``torch``
            (``"nn.functional.leaky_relu"``, ``"exp"``), called as
            ``function(x, *params, **fixed)``; empty where PyTorch has only a module.
        module: the ``torch.nn`` class (``"LeakyReLU"``), built as ``module(*params,
            **fixed)``; its parameters are attributes of the same names.
        params: the entry's parameters that PyTorch takes, in its positional order
            after the input and under the same names; ``None``: all of them, in order.
        fixed: keywords that select this entry's definition among PyTorch's
            (GELU's ``approximate``, RReLU's ``training=False`` for the mean slope).
        tensor_params: parameters PyTorch takes as tensors (PReLU's weight).
        inplace: the functional op takes ``inplace=``.
        aten: the ATen op whose ``out=`` overload computes the entry (no allocation), as
            ``aten(x, *aten_args, *params, out=buffer)``; empty where there is none.
        aten_args: leading constants of that call (ReLU6 is ``hardtanh(x, 0, 6)``).
        calls: more dotted names that compute the entry (``"special.expit"``): the
            monitor sees calls to them as call sites too.
        audited: how PyTorch's op compares with the catalogue's bounds (2 ULP forward in
            float32, bfloat16 and float16, NaN propagating; ``tests/test_fast_paths.py``
            audits it again on each machine): ``"exact"`` (correctly rounded: it competes
            with actlab's kernels), ``"bounds"`` (within them: it runs where no kernel
            can be built), ``""`` (not offered as a fast path).
        exact_params: parameters that PyTorch's op rounds to the tensor's dtype before
            comparing (a threshold): the native form is offered only where they are exact.
        native_when: the parameter values for which the native form is offered at all.
    """

    function: str = ""
    module: str = ""
    params: tuple[str, ...] | None = None
    fixed: tuple[tuple[str, Any], ...] = ()
    tensor_params: tuple[str, ...] = ()
    inplace: bool = False
    aten: str = ""
    aten_args: tuple[float, ...] = ()
    calls: tuple[str, ...] = ()
    audited: Literal["", "bounds", "exact"] = ""
    exact_params: tuple[str, ...] = ()
    native_when: Callable[[dict], bool] | None = None


@dataclass(frozen=True)
class Activation:
    """An activation function: its math, its derivative, its parameters and what is known of it.

    Call :meth:`forward` and :meth:`derivative` with any array-API array (NumPy,
    torch, ...) or a Python number; the result has the input's type and dtype.

    Metadata describe the function at its default parameters: ``output_range``
    (with ``range_attained`` telling whether each finite end is reached or only
    approached), ``monotonic`` (non-decreasing), ``smoothness`` (``"discontinuous"``,
    ``"C0"``, ``"C1"``, ``"Cinf"``), ``zero_centred`` (E f(z) = 0 for z ~ N(0, 1)),
    ``kinks`` (where f or f' jumps). ``None`` means not declared:
    :func:`actlab.analysis.properties.fill_metadata` computes it.

    ``grad_from_output``, where given, is the derivative as a function of the
    output, ``f'(x) = grad_from_output(f(x))`` for every x (NaN included) and
    every allowed parameter value, with no loss of accuracy (the ReLU family, exp):
    the torch backward then keeps the output, as PyTorch's does, not the input.

    ``torch_twin`` is PyTorch's own form, where it has one (:class:`TorchTwin`).
    ``kernel`` names the compiled kernel this entry runs on where it borrows another
    entry's (PReLU and RReLU run leaky_relu's), with ``kernel_args`` mapping the
    parameters onto the kernel's two numbers; by default an entry runs the kernel of its
    own name, if ``kernels.c`` has one, with its first two parameters.
    """

    name: str
    fn: Callable[..., Any]
    grad: Callable[..., Any] | None = None
    grad_from_output: Callable[..., Any] | None = None
    params: tuple[Param, ...] = ()
    kind: Kind = "elementwise"
    vjp_fn: Callable[..., Any] | None = None
    param_grads: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    check: Callable[[dict], None] | None = None
    exact: bool = False
    formula: str = ""
    latex: str = ""
    output_range: tuple[float, float] | None = None
    range_attained: tuple[bool, bool] = (True, True)  # finite bounds reached, or only approached
    monotonic: bool | None = None
    smoothness: Smoothness | None = None
    zero_centred: bool | None = None
    kinks: tuple[float, ...] = ()
    origin: str = ""
    aliases: tuple[str, ...] = ()
    frameworks: str = ""
    summary: str = ""
    class_name: str = ""
    inplace: bool = False
    stochastic: bool = False
    user: bool = False
    accepts_xp: bool = True
    torch_twin: TorchTwin | None = None
    kernel: str = ""
    kernel_args: Callable[[dict], tuple[float, ...]] | None = None

    # -- derived metadata ------------------------------------------------------------
    @property
    def bounded_below(self) -> bool | None:
        return None if self.output_range is None else math.isfinite(self.output_range[0])

    @property
    def bounded_above(self) -> bool | None:
        return None if self.output_range is None else math.isfinite(self.output_range[1])

    @property
    def learnable(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.learnable != "no")

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    @property
    def has_derivative(self) -> bool:
        return self.grad is not None if self.kind == "elementwise" else self.vjp_fn is not None

    # -- parameters ------------------------------------------------------------------
    def resolve(self, params: Mapping[str, Any], *, caller: str | None = None) -> dict[str, Any]:
        """Fill in defaults and validate ``params``; return the full parameter dict.

        Array-valued parameters (learnable weights) are passed through unchecked.
        """
        if caller is None:  # the hot path (actlab.functional): values seen before pass
            if not params:
                return dict(self._default_params)
            key = _plain_key(params)
            if key is not None and key in self._checked:
                out = dict(self._default_params)
                out.update(params)
                return out
            out = self._resolve(params, self.name)
            if key is not None and len(self._checked) < 1024:
                self._checked.add(key)
            return out
        return self._resolve(params, caller)

    @functools.cached_property
    def _default_params(self) -> dict[str, Any]:
        return self._resolve({}, self.name)

    @functools.cached_property
    def _checked(self) -> set[tuple]:
        """Parameter values that passed :meth:`resolve`, as :func:`_plain_key` keys."""
        return set()

    def _resolve(self, params: Mapping[str, Any], caller: str) -> dict[str, Any]:
        known = {p.name: p for p in self.params}
        unknown = [k for k in params if k not in known]
        if unknown:
            valid = ", ".join(known) or "none"
            raise InvalidParameterError(
                f"{caller} got unexpected parameter(s) {', '.join(map(repr, unknown))}; "
                f"its parameters are: {valid}."
            )
        out = {}
        for p in self.params:
            value = params.get(p.name, p.default)
            if not _is_array(value):
                check_param(caller, p.name, value, p.constraints)
            out[p.name] = value
        if self.check is not None and all(not _is_array(v) for v in out.values()):
            self.check(out)
        return out

    # -- evaluation ------------------------------------------------------------------
    def forward(self, x: Any, /, **params: Any) -> Any:
        """Evaluate the activation elementwise (or along ``dim`` for vector kinds).

        Example:
            >>> import numpy as np, actlab
            >>> actlab.get("leaky_relu").forward(np.array([-2.0, 3.0]), negative_slope=0.1)
            array([-0.2,  3. ])
        """
        return self._eval(self.fn, x, self.resolve(params))

    def derivative(self, x: Any, /, **params: Any) -> Any:
        """The elementwise derivative f'(x), same shape and dtype as ``x``.

        Vector activations (softmax, glu, ...) have a Jacobian, not an
        elementwise derivative: use :meth:`vjp`.

        Example:
            >>> import actlab
            >>> float(actlab.get("sigmoid").derivative(0.0))
            0.25
        """
        if self.kind != "elementwise":
            raise TypeError(
                f"{self.name} is not elementwise (it mixes values along `dim`), so it has no "
                f"elementwise derivative; use .vjp(x, grad) instead."
            )
        p = self.resolve(params)
        if self.grad is None:
            return _autodiff_derivative(self, as_array(x), p)
        return self._eval(self.grad, x, p)

    def vjp(self, x: Any, grad: Any, /, **params: Any) -> Any:
        """Vector-Jacobian product: the gradient with respect to ``x`` of ``sum(grad * f(x))``.

        For elementwise activations this is ``grad * f'(x)``.

        Example:
            >>> import numpy as np, actlab
            >>> actlab.get("softmax").vjp(np.array([0.0, 0.0]), np.array([1.0, 0.0]))
            array([ 0.25, -0.25])
        """
        p = self.resolve(params)
        if self.kind == "elementwise":
            return grad * self.derivative(x, **p)
        x = as_array(x)
        xp = namespace(x)
        cd = compute_dtype(xp, x.dtype, exact=self.exact)
        with np.errstate(all="ignore"):
            g = _astype(xp, as_array(grad), cd)
            out = self.vjp_fn(xp, _astype(xp, x, cd), g, **_cast_params(xp, p, cd))
            return _astype(xp, out, x.dtype)

    def param_derivative(self, name: str, x: Any, /, **params: Any) -> Any:
        """Elementwise partial derivative of f(x) with respect to parameter ``name``."""
        if name not in self.param_grads:
            raise KeyError(f"{self.name} has no derivative with respect to {name!r}")
        return self._eval(self.param_grads[name], x, self.resolve(params))

    def _eval(self, fn: Callable[..., Any], x: Any, params: dict[str, Any]) -> Any:
        x = as_array(x)
        if self.kind == "vector":
            dim = params.get("dim", -1)
            if (isinstance(dim, int) and not -x.ndim <= dim < max(x.ndim, 1)) or x.ndim == 0:
                raise DimensionError(
                    f"{self.name} works along dim={dim}: out of range for an input of shape "
                    f"{tuple(x.shape)} ({x.ndim}-d)"
                )
        xp = namespace(x)
        cd = compute_dtype(xp, x.dtype, exact=self.exact)
        # where() evaluates both branches, and rounding to float32 may overflow to inf
        # as it should: silence NumPy's warnings, the results are the intended ones.
        with np.errstate(all="ignore"):
            y = self._call(fn, xp, _astype(xp, x, cd), _cast_params(xp, params, cd))
            return _astype(xp, y, x.dtype)

    def _call(self, fn: Callable[..., Any], xp: Any, x: Any, params: dict[str, Any]) -> Any:
        if self.accepts_xp:
            return fn(xp, x, **params)
        return fn(x, **params)

    def __repr__(self) -> str:
        return f"<Activation {self.name}>"


def _plain_key(params: Mapping[str, Any]) -> tuple | None:
    """``params`` as a hashable key, types included (1, 1.0 and True differ), or None
    unless every value is a built-in scalar (a tensor or array is never remembered)."""
    key = []
    for k, v in params.items():
        t = type(v)
        if t is not float and t is not int and t is not bool and t is not str:
            return None
        key.append((k, t, v))
    return tuple(key)


def _is_array(v: Any) -> bool:
    if type(v) is float or type(v) is int:  # the common case, without attribute lookups
        return False
    return hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(v, np.number)


def _astype(xp: Any, x: Any, dtype: Any) -> Any:
    # The array API's astype copies by default; a same-dtype "cast" must cost nothing.
    return x if x.dtype == dtype else xp.astype(x, dtype)


def _cast_params(xp: Any, params: dict[str, Any], dtype: Any) -> dict[str, Any]:
    """Array parameters follow the compute dtype; Python numbers stay Python numbers."""
    return {k: _astype(xp, v, dtype) if _is_array(v) else v for k, v in params.items()}


# --------------------------------------------------------------------------------------
# the registry
_REGISTRY: dict[str, Activation] = {}
_LOOKUP: dict[str, str] = {}  # normalised spelling -> canonical name
_AUTODIFF: list[Callable[..., Any]] = []  # installed by a backend that can differentiate


def _norm(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


def define(**fields: Any) -> Activation:
    """Add a catalogue entry (used by the definition modules)."""
    return _add(Activation(**fields))


def _add(act: Activation) -> Activation:
    if act.kind == "vector" and act.vjp_fn is None:
        # a vector activation has no elementwise derivative to fall back on
        raise ValueError(f"cannot register {act.name!r}: a vector activation needs vjp_fn")
    keys = {_norm(act.name)} | {_norm(a) for a in act.aliases}
    if act.class_name:
        keys.add(_norm(act.class_name))
    if act.name in _REGISTRY:  # same canonical name: it would silently replace that entry
        raise ValueError(
            f"cannot register {act.name!r}: an activation of that name already exists "
            f"(use replace=True to replace a user-registered one)"
        )
    for key in keys:
        owner = _LOOKUP.get(key)
        if owner is not None and owner != act.name:
            raise ValueError(
                f"cannot register {act.name!r}: the name {key!r} already refers to {owner!r} "
                f"(an alias never maps one definition onto another); choose another name"
            )
    _REGISTRY[act.name] = act
    for key in keys:
        _LOOKUP[key] = act.name
    return act


def names() -> list[str]:
    """Canonical names of every registered activation, sorted.

    Example:
        >>> import actlab
        >>> "mish" in actlab.names()
        True
    """
    return sorted(_REGISTRY)


def aliases() -> dict[str, str]:
    """Every accepted spelling (normalised) mapped to its canonical name."""
    return dict(_LOOKUP)


def get(name: str | Activation) -> Activation:
    """Find an activation by any of its names (case-insensitive; ``_`` and ``-`` ignored).

    Raises:
        UnknownActivationError: (a ``KeyError`` and a ``ValueError``) listing the
            closest names.

    Example:
        >>> import actlab
        >>> actlab.get("LeakyReLU").name
        'leaky_relu'
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a str, got {type(name).__name__}")
    canonical = _LOOKUP.get(_norm(name))
    if canonical is None:
        raise UnknownActivationError(_unknown_message(name))
    return _REGISTRY[canonical]


def _unknown_message(name: str) -> str:
    spellings = {**{_norm(n): n for n in _REGISTRY}}
    for act in _REGISTRY.values():
        for a in act.aliases:
            spellings.setdefault(_norm(a), a)
    close = difflib.get_close_matches(_norm(name), list(spellings), n=4, cutoff=0.6)
    hint = ", ".join(repr(spellings[c]) for c in close)
    msg = f"Unknown activation {name!r}"
    if hint:
        return f"{msg}; did you mean {hint}?"
    return f"{msg}; `actlab list` shows the {len(_REGISTRY)} known names."


def unregister(name: str) -> None:
    """Remove a user-registered activation (catalogue entries cannot be removed)."""
    act = get(name)
    if not act.user:
        raise ValueError(f"{act.name!r} is part of the catalogue and cannot be unregistered")
    del _REGISTRY[act.name]
    for key in [k for k, v in _LOOKUP.items() if v == act.name]:
        del _LOOKUP[key]


def _autodiff_derivative(act: Activation, x: Any, params: dict[str, Any]) -> Any:
    # Importing actlab.functions runs actlab/__init__.py first, which installs the hook.
    if not _AUTODIFF:
        raise RuntimeError("internal error: actlab's autodiff hook is not installed")
    return _AUTODIFF[0](act, x, params)


def register(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    derivative: Callable[..., Any] | None = None,
    constraints: Mapping[str, tuple | Any] | None = None,
    replace: bool = False,
    **meta: Any,
) -> Any:
    """Register your own elementwise activation; every part of actlab then works on it.

    The forward is written with array-API operations. It takes the array first
    and its parameters as keyword arguments with defaults; if it also takes
    ``xp`` as its first argument, it receives the array namespace (``xp.exp``,
    ``xp.where``, ...) so it runs on NumPy and torch alike. Metadata keywords
    (``formula``, ``output_range``, ``monotonic``, ``smoothness``, ``aliases``,
    ``origin``, ...) are optional.

    Example:
        >>> import numpy as np, actlab
        >>> @actlab.register(name="bent_identity_demo", output_range=(-np.inf, np.inf))
        ... def bent(xp, x, /, a=1.0):
        ...     return (xp.sqrt(x * x + a) - a**0.5) / 2 + x
        >>> float(actlab.get("bent_identity_demo").forward(0.0))
        0.0
        >>> actlab.unregister("bent_identity_demo")
    """

    def wrap(f: Callable[..., Any]) -> Activation:
        sig = inspect.signature(f)
        ps = list(sig.parameters.values())
        accepts_xp = bool(ps) and ps[0].name == "xp"
        rest = ps[1 + accepts_xp :]
        cons = dict(constraints or {})
        params = []
        for p in rest:
            if p.default is inspect.Parameter.empty:
                raise TypeError(f"parameter {p.name!r} of {f.__name__} needs a default value")
            numeric = isinstance(p.default, (int, float)) and not isinstance(p.default, bool)
            c = cons.pop(p.name, (Interval(allow_inf=True),) if numeric else ())
            params.append(Param(p.name, p.default, c if isinstance(c, tuple) else (c,)))
        if cons:
            raise TypeError(f"constraints given for unknown parameter(s): {', '.join(cons)}")
        act_name = name or f.__name__
        if replace and _LOOKUP.get(_norm(act_name)) in _REGISTRY:
            old = _REGISTRY[_LOOKUP[_norm(act_name)]]
            if old.user:
                unregister(old.name)
        act = Activation(
            name=act_name,
            fn=f,
            grad=derivative,
            params=tuple(params),
            user=True,
            accepts_xp=accepts_xp,
            summary=meta.pop("summary", (f.__doc__ or "").strip().split("\n")[0]),
            **meta,
        )
        return _add(act)

    return wrap if fn is None else wrap(fn)
