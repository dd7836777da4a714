"""Fuzzing the edges users type: spec strings and sweep files either work or say why.

Every input either runs or raises the library's own errors (InvalidParameterError,
UnknownActivationError, the sweep's ValueErrors), which the CLI prints as 'Error: ...'
with exit 2; never an error from deep inside (TypeError, IndexError, AttributeError,
RecursionError, MemoryError...).
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import actlab
from actlab.lab import sweep

SPEC_ERRORS = (actlab.InvalidParameterError, actlab.UnknownActivationError)
NAMES = actlab.names()
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

values = st.one_of(
    st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.none(), st.text(max_size=8), st.lists(st.integers(-3, 200), max_size=3),
)  # fmt: skip
specs = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda n, kv: f"{n}({', '.join(f'{k}={v!r}' for k, v in kv.items())})",
        st.sampled_from([*NAMES, "relu ", "LeakyReLU", "nope"]),
        st.dictionaries(st.sampled_from(["alpha", "beta", "dim", "inplace", "negative_slope",
                                         "lambd", "x", "weight"]), values, max_size=3),
    ),
)  # fmt: skip


@FAST
@given(specs)
def test_any_spec_string_builds_or_names_the_problem(text: str) -> None:
    try:
        m = actlab.create(text)
    except SPEC_ERRORS:
        return
    assert actlab.create(actlab.spec(m)).__class__ is m.__class__  # and it round-trips


keys = st.sampled_from(["data", "hidden", "epochs", "lr", "seed", "activation", "norm",
                        "init", "model", "optimizer", "batch_size", "momentum", "colour"])


@FAST
@given(
    st.fixed_dictionaries(
        {},
        optional={"name": st.one_of(st.text(max_size=5), values), "fixed": st.dictionaries(
            keys, values, max_size=4), "grid": st.dictionaries(keys, st.one_of(
                st.lists(values, max_size=3), values), max_size=3), "other": values},
    )
)  # fmt: skip
def test_any_sweep_file_content_loads_or_names_the_problem(spec: dict) -> None:
    try:
        s = sweep.Sweep.from_dict(spec)
    except ValueError:  # the sweep's own messages (SettingsError among them)
        return
    for trial in s.trials():  # what loads is valid: every trial resolves to finite numbers
        assert math.isfinite(trial["lr"]) and trial["lr"] > 0 and trial["epochs"] >= 1
