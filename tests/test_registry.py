"""The catalogue: names, aliases, specs, parameter validation and user registration."""

from __future__ import annotations

import math
import numbers
from collections import defaultdict

import numpy as np
import pytest
import torch

import actlab
from actlab.functions import Interval, InvalidParameterError, Options, parse_spec
from actlab.functions._registry import _norm

NAMES = actlab.names()
#: The functions the seed texts name (VISION.md), and those modern models use: the
#: catalogue must hold each under this canonical name.
SEED_TEXTS = ("sigmoid", "tanh", "relu", "relu6", "leaky_relu", "prelu", "rrelu", "elu",
              "softplus", "silu", "swish", "mish", "softmax", "gelu", "gelu_tanh", "selu",
              "hard_swish", "glu", "swiglu", "geglu")  # fmt: skip
WITH_PARAMS = [n for n in NAMES if actlab.get(n).params]


# --------------------------------------------------------------------------------------
# names and aliases
def test_names_sorted_canonical_and_complete() -> None:
    assert NAMES == sorted(NAMES)
    assert len(NAMES) == len(set(NAMES))
    assert set(SEED_TEXTS) <= set(NAMES)
    for n in NAMES:
        act = actlab.get(n)
        assert act.name == n
        # canonical names are lower snake case; aliases are not listed
        assert n == n.lower() and " " not in n and "-" not in n
    all_aliases = {a for n in NAMES for a in actlab.get(n).aliases}
    assert not (all_aliases - set(NAMES)) & set(NAMES)
    assert "LeakyReLU" not in NAMES and "expit" not in NAMES and "gelu_new" not in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_spelling_resolves_to_its_entry(name: str) -> None:
    act = actlab.get(name)
    spellings = [act.name, *act.aliases] + ([act.class_name] if act.class_name else [])
    for s in spellings:
        for variant in (s, s.lower(), s.upper(), s.swapcase(), s.replace("_", "-"),
                        s.replace("_", " "), f" {s} "):
            assert actlab.get(variant) is act, variant
    # the class name of the generated module is the PyTorch-style one
    if act.class_name:
        assert actlab.nn.module_class(name).__name__ == act.class_name


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("LeakyReLU", "leaky_relu"),
        ("leakyrelu", "leaky_relu"),
        ("leaky-relu", "leaky_relu"),
        ("leaky relu", "leaky_relu"),
        ("LEAKY_RELU", "leaky_relu"),
        ("Hardswish", "hard_swish"),
        ("hardswish", "hard_swish"),
        ("hard_silu", "hard_swish"),
        ("HardSiLU", "hard_swish"),
        ("soft_sign", "softsign"),
        ("Softsign", "softsign"),
        ("gelu_new", "gelu_tanh"),
        ("gelu_pytorch_tanh", "gelu_tanh"),
        ("GELUTanh", "gelu_tanh"),
        ("GELU", "gelu"),
        ("gelu_erf", "gelu"),
        ("expit", "sigmoid"),
        ("logistic", "sigmoid"),
        ("Sigmoid", "sigmoid"),
        ("LogSigmoid", "log_sigmoid"),
        ("logsigmoid", "log_sigmoid"),
        ("Hardsigmoid", "hard_sigmoid"),
        ("hardsigmoid", "hard_sigmoid"),
        ("hard_sigmoid_tf", "hard_sigmoid_keras2"),
        ("Hardtanh", "hard_tanh"),
        ("hardtanh", "hard_tanh"),
        ("ReLU6", "relu6"),
        ("relu_squared", "relu2"),
        ("SquaredReLU", "relu2"),
        ("SiLU", "silu"),
        ("Swish", "swish"),
        ("Mish", "mish"),
        ("linear", "identity"),
        ("Identity", "identity"),
        ("exp", "exponential"),
        ("Tanhshrink", "tanh_shrink"),
        ("tanhshrink", "tanh_shrink"),
        ("Softshrink", "soft_shrink"),
        ("Hardshrink", "hard_shrink"),
        ("Softplus", "softplus"),
        ("SparsePlus", "sparse_plus"),
        ("QuickGELU", "quick_gelu"),
        ("LogSoftmax", "log_softmax"),
        ("logsoftmax", "log_softmax"),
        ("SwiGLU", "swiglu"),
        ("GEGLU", "geglu"),
        ("PReLU", "prelu"),
        ("RReLU", "rrelu"),
        ("rectifier", "relu"),
        ("SELU", "selu"),
        ("CELU", "celu"),
    ],
)
def test_framework_spellings(spelling: str, canonical: str) -> None:
    assert actlab.get(spelling).name == canonical
    if spelling.isidentifier():  # a spec is a Python call expression
        assert actlab.create(spelling).spec() == canonical
        assert actlab.spec(f"{spelling}()") == canonical


def test_no_spelling_reaches_two_entries() -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for n in NAMES:
        act = actlab.get(n)
        for s in (act.name, *act.aliases, act.class_name):
            if s:
                owners[_norm(s)].add(n)
    shared = {k: v for k, v in owners.items() if len(v) > 1}
    assert shared == {}
    table = actlab.functions.aliases()
    assert {k: {v} for k, v in table.items()} == dict(owners)


def test_get_accepts_activation_and_rejects_non_strings() -> None:
    act = actlab.get("relu")
    assert actlab.get(act) is act
    with pytest.raises(TypeError, match="must be a str"):
        actlab.get(3)  # type: ignore[arg-type]


def test_unknown_name_is_keyerror_and_valueerror_and_suggests() -> None:
    with pytest.raises(KeyError) as ki:
        actlab.get("reluu")
    assert isinstance(ki.value, ValueError)
    assert isinstance(ki.value, actlab.UnknownActivationError)
    msg = str(ki.value)
    assert msg.startswith("Unknown activation 'reluu'")
    assert "'relu'" in msg
    with pytest.raises(ValueError, match=f"{len(NAMES)} known names"):
        actlab.get("zzzzzzzz")
    with pytest.raises(actlab.UnknownActivationError, match="'leaky_relu'"):
        actlab.create("leaky_relo(negative_slope=0.2)")


def test_keras2_and_pytorch_hard_sigmoid_differ() -> None:
    v3, v2 = actlab.get("hard_sigmoid"), actlab.get("hard_sigmoid_keras2")
    assert v3 is not v2
    assert float(v3.forward(1.0)) == pytest.approx(4.0 / 6.0, rel=1e-15)
    assert float(v2.forward(1.0)) == pytest.approx(0.7, rel=1e-15)
    assert float(v3.derivative(1.0)) == pytest.approx(1 / 6, rel=1e-15)
    assert float(v2.derivative(1.0)) == pytest.approx(0.2, rel=1e-15)
    assert v3.kinks == (-3.0, 3.0) and v2.kinks == (-2.5, 2.5)


def test_swish_beta_one_is_silu_but_a_separate_entry() -> None:
    swish, silu = actlab.get("swish"), actlab.get("silu")
    assert swish is not silu and swish.name != silu.name
    x = np.linspace(-30, 30, 2001)
    np.testing.assert_array_equal(swish.forward(x, beta=1.0), silu.forward(x))
    np.testing.assert_array_equal(swish.derivative(x, beta=1.0), silu.derivative(x))
    assert swish.learnable == ("beta",) and silu.learnable == ()
    assert not np.array_equal(swish.forward(x, beta=2.0), silu.forward(x))
    assert float(silu.forward(1.0)) == pytest.approx(1 / (1 + math.exp(-1)), rel=1e-15)


# --------------------------------------------------------------------------------------
# specs
@pytest.mark.parametrize("name", NAMES)
def test_spec_round_trip_default(name: str) -> None:
    m = actlab.create(name)
    assert actlab.spec(m) == name
    assert actlab.spec(name) == name
    assert actlab.spec(actlab.create(actlab.spec(m))) == name
    assert type(actlab.create(actlab.spec(m))) is type(m)


# A non-default spec for every entry with parameters (and in-place where it exists).
NON_DEFAULT = {
    "celu": ["celu(alpha=0.5)", "celu(alpha=2.0, inplace=True)"],
    "elu": ["elu(alpha=0.5)", "elu(inplace=True)"],
    "geglu": ["geglu(dim=1)"],
    "glu": ["glu(dim=0)"],
    "hard_shrink": ["hard_shrink(lambd=0.25)"],
    "hard_tanh": ["hard_tanh(min_val=-2.0, max_val=2.0)", "hard_tanh(max_val=3.0, inplace=True)"],
    "leaky_relu": [
        "leaky_relu(negative_slope=0.2)",
        "leaky_relu(negative_slope=0.3, inplace=True)",
    ],
    "log_softmax": ["log_softmax(dim=0)"],
    "prelu": ["prelu(num_parameters=3)", "prelu(init=0.1)", "prelu(num_parameters=2, init=0.5)"],
    "rrelu": ["rrelu(lower=0.1, upper=0.3)", "rrelu(upper=0.5, inplace=True)"],
    "soft_shrink": ["soft_shrink(lambd=1.5)"],
    "softmax": ["softmax(dim=1)"],
    "softmin": ["softmin(dim=-2)"],
    "softplus": ["softplus(beta=2.0, threshold=10.0)", "softplus(threshold=inf)"],
    "sparsemax": ["sparsemax(dim=0)"],
    "squareplus": ["squareplus(b=1.0)"],
    "swiglu": ["swiglu(dim=2)"],
    "swish": ["swish(beta=1.5)", "swish(beta=1.5, learnable=True)", "swish(learnable=True)"],
    "threshold": ["threshold(threshold=0.1, value=20.0)", "threshold(value=-inf)"],
}
INPLACE_SPECS = [f"{n}(inplace=True)" for n in NAMES if actlab.get(n).inplace]


def test_every_parametrised_entry_has_a_non_default_spec() -> None:
    assert sorted(NON_DEFAULT) == WITH_PARAMS


@pytest.mark.parametrize("s", [s for v in NON_DEFAULT.values() for s in v] + INPLACE_SPECS)
def test_spec_round_trip_non_default(s: str) -> None:
    m = actlab.create(s)
    assert actlab.spec(m) == s
    again = actlab.create(actlab.spec(m))
    assert actlab.spec(again) == s
    assert repr(again) == repr(m)
    if "inplace=True" in s:
        assert m.inplace is True
    if "learnable=True" in s:
        assert isinstance(m.beta, torch.nn.Parameter)


def test_spec_values_reach_the_module() -> None:
    m = actlab.create("softplus(beta=2.0, threshold=10.0)")
    assert (m.beta, m.threshold) == (2.0, 10.0)
    x = torch.tensor([-1.0, 0.0, 4.0, 6.0], dtype=torch.float64)
    ref = torch.nn.functional.softplus(x, beta=2.0, threshold=10.0)
    torch.testing.assert_close(m(x), ref, rtol=1e-14, atol=0)
    p = actlab.create("prelu(num_parameters=3)")
    assert tuple(p.weight.shape) == (3,)
    assert torch.equal(p.weight.detach(), torch.full((3,), 0.25))
    s = actlab.create("swish(beta=1.5, learnable=True)")
    assert s.beta.item() == 1.5 and s.beta.requires_grad
    assert actlab.create("relu(inplace=True)").inplace is True
    # default values given explicitly are dropped, ints equal to float defaults too
    assert actlab.spec("elu(alpha=1)") == "elu"
    assert actlab.spec("leaky_relu(negative_slope=0.01)") == "leaky_relu"
    assert actlab.spec("LeakyReLU(negative_slope=0.2)") == "leaky_relu(negative_slope=0.2)"
    # keyword arguments add to the spec's; one that contradicts it is an error
    assert actlab.create("elu(alpha=0.5)", inplace=True).inplace is True
    with pytest.raises(InvalidParameterError, match=r"got alpha=0\.25 as well"):
        actlab.create("elu(alpha=0.5)", alpha=0.25)


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (torch.nn.ELU(alpha=0.5), "elu(alpha=0.5)"),
        (torch.nn.ELU(), "elu"),
        (torch.nn.GELU(approximate="tanh"), "gelu_tanh"),
        (torch.nn.GELU(), "gelu"),
        (torch.nn.LeakyReLU(0.2, inplace=True), "leaky_relu(negative_slope=0.2, inplace=True)"),
        (torch.nn.ReLU(), "relu"),
        (torch.nn.ReLU(inplace=True), "relu(inplace=True)"),
        (torch.nn.ReLU6(), "relu6"),
        (torch.nn.Hardtanh(-2.0, 2.0), "hard_tanh(min_val=-2.0, max_val=2.0)"),
        (torch.nn.Softplus(beta=2.0, threshold=10.0), "softplus(beta=2.0, threshold=10.0)"),
        (torch.nn.Threshold(0.1, 20.0), "threshold(threshold=0.1, value=20.0)"),
        (torch.nn.RReLU(), "rrelu"),
        (torch.nn.RReLU(0.1, 0.3), "rrelu(lower=0.1, upper=0.3)"),
        (torch.nn.Hardshrink(0.25), "hard_shrink(lambd=0.25)"),
        (torch.nn.Softshrink(), "soft_shrink"),
        (torch.nn.Softmax(dim=0), "softmax(dim=0)"),
        (torch.nn.LogSoftmax(dim=1), "log_softmax(dim=1)"),
        (torch.nn.Softmin(dim=-1), "softmin"),
        (torch.nn.GLU(dim=0), "glu(dim=0)"),
        (torch.nn.PReLU(), "prelu"),
        (torch.nn.PReLU(3), "prelu(num_parameters=3)"),
        (torch.nn.PReLU(init=0.1), "prelu(init=0.1)"),
        (torch.nn.SiLU(), "silu"),
        (torch.nn.Mish(), "mish"),
        (torch.nn.Hardswish(), "hard_swish"),
        (torch.nn.Hardsigmoid(), "hard_sigmoid"),
        (torch.nn.Tanhshrink(), "tanh_shrink"),
        (torch.nn.LogSigmoid(), "log_sigmoid"),
        (torch.nn.Softsign(), "softsign"),
        (torch.nn.SELU(), "selu"),
        (torch.nn.CELU(0.5), "celu(alpha=0.5)"),
        (torch.nn.Identity(), "identity"),
    ],
)
def test_spec_of_torch_modules(module: torch.nn.Module, expected: str) -> None:
    assert actlab.spec(module) == expected
    rebuilt = actlab.create(expected)
    x = torch.linspace(-4, 4, 24, dtype=torch.float64).reshape(2, 3, 4)
    rebuilt.eval()
    module.eval()
    torch.testing.assert_close(rebuilt.double()(x.clone()), module.double()(x.clone()),
                               rtol=1e-12, atol=1e-15)


def test_spec_rejects_non_modules() -> None:
    with pytest.raises(TypeError, match="expects an activation module"):
        actlab.spec(3.0)  # type: ignore[arg-type]
    with pytest.raises(actlab.UnknownActivationError):
        actlab.spec(torch.nn.Softmax2d())


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("", "must be a non-empty string"),
        ("   ", "must be a non-empty string"),
        ("relu(", "cannot parse activation spec 'relu\\('"),
        ("a.b(x=1)", "expected NAME or NAME\\(key=value, ...\\)"),
        ("x + y", "expected NAME or NAME\\(key=value, ...\\)"),
        ("leaky_relu(0.2)", "give parameters by keyword"),
        ("elu(**d)", "\\*\\*kwargs are not allowed"),
        ("elu(alpha=foo)", "parameter values must be literals .* got 'foo'"),
        ("elu(alpha=1.0, alpha=2.0)", "'alpha' is given twice"),
    ],
)
def test_spec_parse_errors(bad: str, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message) as ei:
        actlab.create(bad)
    assert isinstance(ei.value, ValueError) and isinstance(ei.value, TypeError)


def test_parse_spec_literals() -> None:
    assert parse_spec("softplus(beta=2, threshold=inf)") == (
        "softplus",
        {"beta": 2, "threshold": math.inf},
    )
    assert parse_spec("threshold(value=-inf)") == ("threshold", {"value": -math.inf})
    assert parse_spec(" mish ") == ("mish", {})
    with pytest.raises(InvalidParameterError, match="non-empty string"):
        parse_spec(3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# parameter validation
# The words every declared constraint renders to: written out, so that a change in
# the wording or in a declared range shows up here.
CONSTRAINT_WORDS = {
    ("celu", "alpha"): "a float in the range (0, inf)",
    ("elu", "alpha"): "a float in the range [0, inf)",
    ("hard_shrink", "lambd"): "a float in the range [0, inf)",
    ("soft_shrink", "lambd"): "a float in the range [0, inf)",
    ("hard_tanh", "min_val"): "a float (finite)",
    ("hard_tanh", "max_val"): "a float (finite)",
    ("leaky_relu", "negative_slope"): "a float in the range [0, inf)",
    ("prelu", "weight"): "a float (finite)",
    ("rrelu", "lower"): "a float in the range [0, inf)",
    ("rrelu", "upper"): "a float in the range [0, inf)",
    ("softplus", "beta"): "a float in the range (0, inf)",
    ("softplus", "threshold"): "a float",
    ("squareplus", "b"): "a float in the range (0, inf)",
    ("swish", "beta"): "a float (finite)",
    ("threshold", "threshold"): "a float (finite)",
    ("threshold", "value"): "a float",
    **{
        (n, "dim"): "an int"
        for n in ("softmax", "log_softmax", "softmin", "sparsemax", "glu", "swiglu", "geglu")
    },
}

PARAMS = [(n, p.name) for n in NAMES for p in actlab.get(n).params]


def test_constraint_table_covers_every_param() -> None:
    assert sorted(CONSTRAINT_WORDS) == sorted(PARAMS)


def invalid_values(constraints: tuple) -> list:
    """Values that meet none of ``constraints`` (after sklearn's generate_invalid_param_val)."""
    assert len(constraints) == 1, "generator written for single constraints"
    (c,) = constraints
    out: list = ["a string", True, False, None, math.nan, [1.0]]
    if isinstance(c, Interval):
        if not c.allow_inf:
            out += [math.inf, -math.inf]
        if c.left is not None:
            out.append(c.left - 1.0)
            if c.closed in ("right", "neither"):
                out.append(c.left)  # at an open bound
            out.append(-math.inf)
        if c.right is not None:
            out.append(c.right + 1.0)
            if c.closed in ("left", "neither"):
                out.append(c.right)
            out.append(math.inf)
        if c.kind is numbers.Integral:
            out += [1.5, np.float64(2.0), math.inf]
        else:
            out.append(np.float64(math.nan))
    elif isinstance(c, Options):
        out.append(object())
    else:  # pragma: no cover
        raise AssertionError(f"unknown constraint {c!r}")
    return out


def valid_value(c) -> object:
    if isinstance(c, Interval):
        if c.kind is numbers.Integral:
            return 0
        return 1.0 if c.left is None else c.left + 1.0
    return c.values[0]


def _expected(param: str, caller: str, words: str, value: object) -> str:
    return f"The {param!r} parameter of {caller} must be {words}. Got {value!r} instead."


@pytest.mark.parametrize(("name", "param"), PARAMS)
def test_invalid_parameter_values(name: str, param: str) -> None:
    act = actlab.get(name)
    p = next(q for q in act.params if q.name == param)
    words = CONSTRAINT_WORDS[(name, param)]
    assert " or ".join(str(c) for c in p.constraints) == words
    x = np.linspace(-2.0, 2.0, 8)
    n_checked = 0
    for value in invalid_values(p.constraints):
        for c in p.constraints:
            assert not c.is_satisfied_by(value), (c, value)
        with pytest.raises(InvalidParameterError) as ei:
            act.forward(x, **{param: value})
        assert isinstance(ei.value, ValueError) and isinstance(ei.value, TypeError)
        assert str(ei.value) == _expected(param, name, words, value)
        if act.kind == "elementwise":
            with pytest.raises(InvalidParameterError) as ei:
                act.derivative(x, **{param: value})
            assert str(ei.value) == _expected(param, name, words, value)
        with pytest.raises(ValueError) as ei:
            getattr(actlab.functional, name)(torch.zeros(2, 4), **{param: value})
        assert str(ei.value) == _expected(param, name, words, value)
        # a module reports itself by its class name
        if name == "prelu":
            with pytest.raises(TypeError) as ei:
                actlab.nn.PReLU(init=value)
            assert str(ei.value) == _expected("init", "PReLU", words, value)
        else:
            cls = actlab.nn.module_class(name)
            with pytest.raises(TypeError) as ei:
                cls(**{param: value})
            assert str(ei.value) == _expected(param, cls.__name__, words, value)
        n_checked += 1
    assert n_checked >= 7
    # and a valid value goes through
    ok = valid_value(p.constraints[0])
    if name == "hard_tanh":
        ok = {"min_val": -5.0, "max_val": 5.0}[param]
    if name == "rrelu" and param == "lower":
        ok = 0.0
    act.resolve({param: ok})


def test_constraint_words_render() -> None:
    assert str(Interval(left=0.0, closed="neither")) == "a float in the range (0, inf)"
    assert str(Interval(left=-1.5, right=2, closed="right")) == "a float in the range (-1.5, 2]"
    assert str(Interval(kind=numbers.Integral, left=1, closed="left")) == (
        "an int in the range [1, inf)"
    )
    assert str(Interval(allow_inf=True)) == "a float"
    assert str(Options(("none", "tanh"))) == "one of 'none', 'tanh'"
    assert Options(("none", "tanh")).is_satisfied_by("tanh")
    assert not Options((1,)).is_satisfied_by(True)
    assert Interval(left=0.0, closed="left").is_satisfied_by(0.0)
    assert not Interval(left=0.0, closed="neither").is_satisfied_by(0.0)
    assert Interval(right=1.0, closed="right").is_satisfied_by(1.0)
    assert not Interval(right=1.0, closed="left").is_satisfied_by(1.0)
    assert Interval(allow_inf=True).is_satisfied_by(-math.inf)
    assert not Interval(left=0.0, allow_inf=True).is_satisfied_by(-math.inf)
    assert not Interval().is_satisfied_by(math.nan)


def test_unknown_keyword_names_valid_parameters() -> None:
    with pytest.raises(InvalidParameterError) as ei:
        actlab.get("softplus").forward(1.0, alpha=2.0)
    assert str(ei.value) == (
        "softplus got unexpected parameter(s) 'alpha'; its parameters are: beta, threshold."
    )
    with pytest.raises(InvalidParameterError) as ei:
        actlab.get("relu").forward(1.0, negative_slope=0.1)
    assert str(ei.value) == (
        "relu got unexpected parameter(s) 'negative_slope'; its parameters are: none."
    )
    with pytest.raises(TypeError, match=r"CELU got unexpected parameter\(s\) 'beta'; .*alpha"):
        actlab.create("celu(beta=1.5)")
    with pytest.raises(ValueError, match="its parameters are: lambd"):
        actlab.functional.hard_shrink(torch.zeros(3), lamda=0.2)


def test_cross_parameter_checks() -> None:
    with pytest.raises(InvalidParameterError) as ei:
        actlab.create("hard_tanh(min_val=1, max_val=0)")
    assert str(ei.value) == (
        "The 'max_val' parameter of hard_tanh must be greater than 'min_val'. "
        "Got min_val=1, max_val=0 instead."
    )
    with pytest.raises(ValueError, match="greater than 'min_val'"):
        actlab.get("hard_tanh").forward(0.0, min_val=0.5, max_val=0.5)
    with pytest.raises(InvalidParameterError) as ei:
        actlab.create("rrelu(lower=0.5, upper=0.1)")
    assert str(ei.value) == (
        "The 'upper' parameter of rrelu must be at least 'lower'. "
        "Got lower=0.5, upper=0.1 instead."
    )
    # lower == upper is a valid (deterministic) rrelu
    assert float(actlab.get("rrelu").forward(-2.0, lower=0.2, upper=0.2)) == pytest.approx(-0.4)


def test_module_construction_errors() -> None:
    with pytest.raises(InvalidParameterError, match="Softplus has no in-place form"):
        actlab.create("softplus(inplace=True)")
    with pytest.raises(InvalidParameterError, match="ReLU has no learnable parameters"):
        actlab.create("relu(learnable=True)")
    with pytest.raises(TypeError, match="takes at most 1 positional"):
        actlab.nn.ELU(0.5, True, 3)
    with pytest.raises(TypeError, match="multiple values for 'alpha'"):
        actlab.nn.ELU(0.5, alpha=0.2)
    with pytest.raises(InvalidParameterError) as ei:
        actlab.nn.PReLU(num_parameters=0)
    assert str(ei.value) == (
        "The 'num_parameters' parameter of PReLU must be an int in the range [1, inf). "
        "Got 0 instead."
    )
    with pytest.raises(InvalidParameterError):
        actlab.nn.PReLU(num_parameters=True)


# --------------------------------------------------------------------------------------
# user registration
@pytest.fixture
def registry():
    """register() that always unregisters what it added, even when the test fails."""
    added: list[str] = []

    def reg(*args, **kwargs):
        act = actlab.register(*args, **kwargs)
        if isinstance(act, actlab.Activation):
            added.append(act.name)
            return act

        def deco(f):
            a = act(f)
            added.append(a.name)
            return a

        return deco

    yield reg
    for n in added:
        if n in actlab.names():
            actlab.unregister(n)
    assert not set(added) & set(actlab.names())


def isru_fn(xp, x, /, a=1.0):
    """Inverse square root unit x / sqrt(1 + a x^2)."""
    return x / xp.sqrt(1.0 + a * x * x)


def isru_grad(xp, x, /, a=1.0):
    return (1.0 + a * x * x) ** -1.5


def isru_ref(x: np.ndarray, a: float) -> np.ndarray:
    return x / np.sqrt(1.0 + a * x * x)


def isru_deriv_ref(x: np.ndarray, a: float) -> np.ndarray:
    return (1.0 + a * x * x) ** -1.5


@pytest.mark.parametrize("analytic", [True, False])
def test_register_isru(registry, analytic: bool) -> None:
    before = list(actlab.names())
    act = registry(
        isru_fn,
        name="isru",
        derivative=isru_grad if analytic else None,
        constraints={"a": Interval(left=0.0, closed="neither")},
        output_range=(-1.0, 1.0),
        monotonic=True,
        smoothness="Cinf",
        aliases=("ISRU", "inverse_square_root_unit"),
    )
    assert act.user and act.has_derivative is analytic
    assert actlab.names() == sorted([*before, "isru"])
    assert actlab.get("InverseSquareRootUnit") is act
    assert act.summary == "Inverse square root unit x / sqrt(1 + a x^2)."
    assert act.defaults == {"a": 1.0}

    x = np.linspace(-5.0, 5.0, 101)
    np.testing.assert_allclose(act.forward(x, a=0.5), isru_ref(x, 0.5), rtol=1e-15, atol=0)
    np.testing.assert_allclose(act.derivative(x, a=0.5), isru_deriv_ref(x, 0.5),
                               rtol=1e-13, atol=0)
    x32 = x.astype(np.float32)
    y32 = act.forward(x32, a=0.5)
    assert isinstance(y32, np.ndarray) and y32.dtype == np.float32
    np.testing.assert_array_equal(y32, isru_ref(x32.astype(np.float64), 0.5).astype(np.float32))
    d32 = act.derivative(x32, a=0.5)
    assert isinstance(d32, np.ndarray) and d32.dtype == np.float32
    np.testing.assert_allclose(d32, isru_deriv_ref(x, 0.5), rtol=2e-7)

    t = torch.from_numpy(x)
    yt = act.forward(t, a=0.5)
    assert isinstance(yt, torch.Tensor) and yt.dtype == torch.float64
    np.testing.assert_allclose(yt.numpy(), isru_ref(x, 0.5), rtol=1e-15)
    dt = act.derivative(t, a=0.5)
    assert isinstance(dt, torch.Tensor)
    np.testing.assert_allclose(dt.numpy(), isru_deriv_ref(x, 0.5), rtol=1e-13)

    # parameter validation with the declared constraint
    with pytest.raises(InvalidParameterError) as ei:
        act.forward(x, a=0.0)
    assert str(ei.value) == (
        "The 'a' parameter of isru must be a float in the range (0, inf). Got 0.0 instead."
    )

    # torch module from a spec, its spec, gradients
    m = actlab.create("isru(a=0.5)")
    assert type(m).__name__ == "Isru" and repr(m) == "Isru(a=0.5)"
    assert actlab.spec(m) == "isru(a=0.5)"
    assert actlab.spec(actlab.create("ISRU")) == "isru"
    ti = torch.linspace(-3, 3, 13, dtype=torch.float64, requires_grad=True)
    out = m(ti)
    torch.testing.assert_close(out.detach(), torch.from_numpy(isru_ref(ti.detach().numpy(), 0.5)),
                               rtol=1e-15, atol=0)
    (g,) = torch.autograd.grad(out.sum(), ti)
    torch.testing.assert_close(g, torch.from_numpy(isru_deriv_ref(ti.detach().numpy(), 0.5)),
                               rtol=1e-13, atol=0)
    xr = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(m, (xr,))
    assert torch.autograd.gradgradcheck(m, (xr,))

    # functional access, also for a name registered after import
    f = actlab.functional.isru
    torch.testing.assert_close(f(ti.detach(), a=2.0),
                               torch.from_numpy(isru_ref(ti.detach().numpy(), 2.0)),
                               rtol=1e-15, atol=0)
    assert actlab.functional.ISRU(torch.tensor([3.0])).item() == pytest.approx(0.9486833, 1e-6)

    actlab.unregister("isru")
    assert "isru" not in actlab.names()
    with pytest.raises(actlab.UnknownActivationError):
        actlab.get("ISRU")
    with pytest.raises(AttributeError):
        actlab.functional.isru  # noqa: B018


def test_register_bent_identity_without_xp_or_derivative(registry) -> None:
    @registry(name="bent_identity", output_range=(-math.inf, math.inf), monotonic=True)
    def bent_identity(x):
        """Bent identity (sqrt(x^2 + 1) - 1) / 2 + x."""
        return ((x * x + 1.0) ** 0.5 - 1.0) / 2.0 + x

    act = actlab.get("BentIdentity")
    assert act is bent_identity and not act.accepts_xp and not act.has_derivative
    x = np.array([-3.0, -1.0, 0.0, 0.5, 2.0])
    expected = (np.sqrt(x * x + 1) - 1) / 2 + x
    np.testing.assert_allclose(act.forward(x), expected, rtol=1e-15, atol=0)
    # no analytic derivative: differentiated by torch autograd, numpy in -> numpy out
    d = act.derivative(x)
    assert isinstance(d, np.ndarray) and d.dtype == np.float64
    np.testing.assert_allclose(d, x / (2 * np.sqrt(x * x + 1)) + 1, rtol=1e-15)
    d16 = act.derivative(torch.tensor(x, dtype=torch.float16))
    assert d16.dtype == torch.float16
    np.testing.assert_allclose(d16.double().numpy(), x / (2 * np.sqrt(x * x + 1)) + 1, rtol=1e-3)
    m = actlab.create("bent_identity")
    assert actlab.spec(m) == "bent_identity" and repr(m) == "BentIdentity()"
    xr = torch.randn(7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(m, (xr,))
    assert torch.autograd.gradgradcheck(m, (xr,))
    # a parameterless function rejects parameters
    with pytest.raises(InvalidParameterError, match="its parameters are: none"):
        act.forward(x, a=1.0)


def test_register_default_constraint_and_vjp(registry) -> None:
    act = registry(isru_fn, name="isru_default", derivative=isru_grad)
    (p,) = act.params
    assert str(p.constraints[0]) == "a float"
    x = np.array([-1.0, 2.0])
    np.testing.assert_allclose(act.vjp(x, np.array([2.0, 3.0])),
                               np.array([2.0, 3.0]) * isru_deriv_ref(x, 1.0), rtol=1e-15)
    with pytest.raises(InvalidParameterError, match="Got 'x' instead"):
        act.forward(x, a="x")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "relu"},
        {"name": "ReLU"},
        {"name": "leaky-relu"},
        {"name": "my_act", "aliases": ("LeakyReLU",)},
        {"name": "my_act", "aliases": ("expit",)},
        {"name": "my_act", "class_name": "Mish"},
    ],
)
def test_register_collision_raises(registry, kwargs: dict) -> None:
    before = actlab.functions.aliases()
    relu = actlab.get("relu")
    with pytest.raises(ValueError, match="cannot register"):
        registry(isru_fn, **kwargs)
    assert actlab.functions.aliases() == before
    assert actlab.get("relu") is relu and not relu.user
    assert "my_act" not in actlab.names()


def test_register_same_name_twice_needs_replace(registry) -> None:
    first = registry(isru_fn, name="isru_twice")
    with pytest.raises(ValueError, match="already exists"):
        registry(isru_fn, name="isru_twice")
    assert actlab.get("isru_twice") is first
    second = registry(isru_fn, name="isru_twice", derivative=isru_grad, replace=True)
    assert actlab.get("isru_twice") is second and second is not first
    # replace=True never replaces a catalogue entry
    with pytest.raises(ValueError, match="cannot register"):
        registry(isru_fn, name="mish", replace=True)
    assert not actlab.get("mish").user


def test_register_rejects_bad_functions() -> None:
    def no_default(xp, x, a):
        return x

    with pytest.raises(TypeError, match="needs a default value"):
        actlab.register(no_default, name="no_default_act")
    with pytest.raises(TypeError, match="unknown parameter"):
        actlab.register(isru_fn, name="bad_constraint_act", constraints={"b": Interval()})
    assert "no_default_act" not in actlab.names()
    assert "bad_constraint_act" not in actlab.names()


def test_catalogue_entries_cannot_be_unregistered() -> None:
    with pytest.raises(ValueError, match="part of the catalogue"):
        actlab.unregister("relu")
    assert "relu" in actlab.names()


def test_spec_name_may_be_any_spelling_get_accepts() -> None:
    m = actlab.create("leaky-relu(negative_slope=0.1)")
    assert actlab.spec(m) == "leaky_relu(negative_slope=0.1)"
    assert actlab.spec(actlab.create("Hard Sigmoid")) == "hard_sigmoid"
    with pytest.raises(actlab.InvalidParameterError, match=r"as in relu\(key=value\)"):
        actlab.create("relu(1)")


def test_vector_activation_must_bring_its_vjp() -> None:
    from actlab.functions._registry import define

    with pytest.raises(ValueError, match="needs vjp_fn"):
        define(name="vector_without_vjp_demo", fn=lambda xp, x: x, kind="vector")
    assert "vector_without_vjp_demo" not in actlab.names()


def test_resolve_remembers_checked_values_without_confusing_them() -> None:
    """resolve() skips checking values it has passed before; the key keeps the type and the
    sign of zero, so 1 and True, 0.0 and -0.0 are never taken for one another."""
    act = actlab.get("leaky_relu")
    assert act.resolve({"negative_slope": 0.2}) == {"negative_slope": 0.2}
    assert act.resolve({"negative_slope": 0.2}) == {"negative_slope": 0.2}  # remembered
    assert act.resolve({}) == {"negative_slope": 0.01}
    assert act.resolve({}) is not act.resolve({})  # a fresh dict: callers may change it
    elu = actlab.get("elu")
    assert elu.resolve({"alpha": 1}) == {"alpha": 1}
    with pytest.raises(InvalidParameterError):
        elu.resolve({"alpha": True})  # equal to 1, and hashes alike, yet not a number
    thr = actlab.get("threshold")
    out = thr.resolve({"threshold": 0.0, "value": 0.0})
    neg = thr.resolve({"threshold": -0.0, "value": -0.0})
    assert math.copysign(1.0, neg["value"]) == -1.0 and math.copysign(1.0, out["value"]) == 1.0
    with pytest.raises(InvalidParameterError):
        elu.resolve({"alpha": math.nan})
    with pytest.raises(InvalidParameterError, match="unexpected parameter"):
        elu.resolve({"beta": 1.0})


# --------------------------------------------------------------------------------------
# edges of specs and parameters: each a clear error, never a silent meaning
def test_spec_and_parameter_edges() -> None:
    import torch

    with pytest.raises(InvalidParameterError, match=r"'inplace' parameter of ReLU must be True"):
        actlab.create("relu(inplace='False')")  # bool('False') would be True
    with pytest.raises(InvalidParameterError, match="must be a Python number, not a tensor"):
        actlab.create("leaky_relu", negative_slope=torch.tensor(-1.0))
    with pytest.raises(InvalidParameterError, match=r"learnable=True makes it a learned"):
        actlab.create("swish", beta=torch.tensor(2.0))
    with pytest.raises(actlab.UnknownActivationError, match="Linear is not an activation module"):
        actlab.spec(torch.nn.Linear(2, 2))  # 'linear' is identity's alias, Linear no activation
    assert actlab.spec(torch.nn.Identity()) == "identity"
    with pytest.raises(InvalidParameterError, match=r"got alpha=2\.0 as well"):
        actlab.create("elu(alpha=0.5)", alpha=2.0)
    assert actlab.spec(actlab.create("elu(alpha=0.5)", alpha=0.5)) == "elu(alpha=0.5)"
    with pytest.raises(InvalidParameterError, match="a built module keeps its own"):
        actlab.create(torch.nn.ReLU(), inplace=True)
    with pytest.raises(InvalidParameterError, match=r"softmax works along dim=-1.*\(\) \(0-d\)"):
        actlab.functional.softmax(torch.tensor(1.0))
    with pytest.raises(IndexError, match=r"glu works along dim=2: out of range.*\(4,\)"):
        actlab.get("glu").forward(np.ones(4), dim=2)
    with pytest.raises(InvalidParameterError, match="at most 1000 characters; this one has 100012"):
        actlab.create("elu(alpha=" + "-" * 100_000 + "1)")
    with pytest.raises(InvalidParameterError, match=r"PReLU got unexpected parameter\(s\) 'A'"):
        actlab.create("prelu(A=0)")  # was a TypeError from deep inside
    with pytest.raises(InvalidParameterError, match="its parameters are: alpha, inplace"):
        actlab.create("elu(beta=1)")


def test_every_module_class_has_its_own_signature() -> None:
    import inspect

    for name in NAMES:
        cls = actlab.nn.module_class(name)
        got = [p for p in inspect.signature(cls).parameters if p not in ("inplace", "learnable")]
        want = [p.name for p in actlab.get(name).params]
        if name == "prelu":
            want = ["num_parameters", "init", "device", "dtype"]  # PyTorch's PReLU arguments
        if name == "gelu":
            want = ["approximate"]  # as torch.nn.GELU: 'tanh' gives gelu_tanh
        assert got == want, name


def test_gelu_module_takes_torchs_approximate() -> None:
    import torch

    x = torch.linspace(-6, 6, 101)
    for approximate, name in (("none", "gelu"), ("tanh", "gelu_tanh")):
        m = actlab.nn.GELU(approximate=approximate)
        assert actlab.spec(m) == name and m.activation.name == name
        want = torch.nn.functional.gelu(x.double(), approximate=approximate).float()
        torch.testing.assert_close(m(x), want, rtol=2e-6, atol=1e-7)
    assert actlab.spec(torch.nn.GELU(approximate="tanh")) == "gelu_tanh"
    assert repr(actlab.create("gelu", approximate="tanh")) == "GELU(approximate='tanh')"
    with pytest.raises(InvalidParameterError, match=r"'none' or 'tanh'\. Got 'fast'"):
        actlab.nn.GELU(approximate="fast")
