"""Activation specs: ``"leaky_relu(negative_slope=0.2)"`` <-> name and keyword arguments.

A spec is a Python call expression whose arguments are literals, so a config
file or a checkpoint can name an activation with its parameters and get the
same thing back.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping
from typing import Any

from ._validation import InvalidParameterError

__all__ = ["format_spec", "parse_spec"]


#: The longest spec string accepted (the longest real one is a few dozen characters).
MAX_SPEC_LENGTH = 1000


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split a spec string into a name and literal keyword arguments.

    Example:
        >>> parse_spec("leaky_relu(negative_slope=0.2)")
        ('leaky_relu', {'negative_slope': 0.2})
        >>> parse_spec("mish")
        ('mish', {})
        >>> parse_spec("leaky-relu(negative_slope=0.1)")  # any spelling get() accepts
        ('leaky-relu', {'negative_slope': 0.1})
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidParameterError(f"an activation spec must be a non-empty string; got {spec!r}")
    if len(spec) > MAX_SPEC_LENGTH:  # Python's parser runs out of memory on deep nesting
        raise InvalidParameterError(
            f"an activation spec is at most {MAX_SPEC_LENGTH} characters; this one has "
            f"{len(spec)} ({spec[:40]!r}...)"
        )
    text = spec.strip()
    # The name is whatever precedes "(", so spellings that are not Python identifiers
    # ("leaky-relu", "hard sigmoid") work as in get(); the arguments are parsed as a call.
    name, paren, rest = text.partition("(")
    name = name.strip()
    if not name or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\- ]*", name):
        raise InvalidParameterError(
            f"cannot parse activation spec {spec!r}: expected NAME or NAME(key=value, ...)"
        )
    if not paren:
        return name, {}
    try:
        node = ast.parse("f(" + rest, mode="eval").body
    except SyntaxError as exc:
        raise InvalidParameterError(
            f"cannot parse activation spec {spec!r}: expected NAME or NAME(key=value, ...)"
        ) from exc
    if not isinstance(node, ast.Call):
        raise InvalidParameterError(
            f"cannot parse activation spec {spec!r}: expected NAME or NAME(key=value, ...)"
        )
    if node.args:
        raise InvalidParameterError(
            f"activation spec {spec!r}: give parameters by keyword, as in {name}(key=value)"
        )
    kwargs = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise InvalidParameterError(f"activation spec {spec!r}: **kwargs are not allowed")
        if kw.arg in kwargs:
            raise InvalidParameterError(f"activation spec {spec!r}: {kw.arg!r} is given twice")
        kwargs[kw.arg] = _literal(kw.value, spec)
    return name, kwargs


def _literal(node: ast.AST, spec: str) -> Any:
    if isinstance(node, ast.Name) and node.id in ("inf", "nan"):
        return float(node.id)
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Name)
        and node.operand.id == "inf"
    ):
        return -math.inf
    try:
        return ast.literal_eval(node)
    except ValueError as exc:
        raise InvalidParameterError(
            f"activation spec {spec!r}: parameter values must be literals "
            f"(numbers, True/False, strings); got {ast.unparse(node)!r}"
        ) from exc


def format_spec(name: str, kwargs: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    """The spec string of ``name`` with the arguments that differ from ``defaults``.

    Example:
        >>> format_spec("elu", {"alpha": 0.5}, {"alpha": 1.0})
        'elu(alpha=0.5)'
    """
    items = [
        f"{k}={_repr(v)}"
        for k, v in kwargs.items()
        if k not in defaults or not _same(v, defaults[k])
    ]
    return f"{name}({', '.join(items)})" if items else name


def _same(a: Any, b: Any) -> bool:
    return (type(a) is type(b) and a == b) or (
        isinstance(a, (int, float))
        and isinstance(b, (int, float))
        and not isinstance(a, bool)
        and not isinstance(b, bool)
        and float(a) == float(b)
    )


def _repr(v: Any) -> str:
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v)
