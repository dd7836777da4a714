"""One settings schema: every key checked before anything trains, every problem named."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from actlab.cli import main
from actlab.lab import settings, sweep, trainer

BAD = [  # (setting, value, what the message says)
    ("data", "moonz", "'moonz' is not a data set (did you mean 'moons'?)"),
    ("data", "npz", "'npz' is not a data set"),  # needs a path no trial can give
    ("hidden", 8, "8 is not a list of layer widths"),
    ("hidden", [-8], "[-8] is not a list of layer widths"),
    ("epochs", 2.5, "2.5 is not an int in the range [1, inf)"),
    ("epochs", 0, "0 is not an int in the range [1, inf)"),
    ("seed", "a", "'a' is not an int in the range [0, inf)"),
    ("lr", math.nan, "nan is not a float in the range (0, inf)"),
    ("lr", math.inf, "inf is not a float in the range (0, inf)"),
    ("lr", 0, "0 is not a float in the range (0, inf)"),
    ("momentum", 1.0, "1.0 is not a float in the range [0, 1)"),
    ("batch_size", True, "True is not an int in the range [1, inf)"),
    ("model", "resnet", "'resnet' is not one of 'mlp', 'cnn'"),
    ("norm", "btach", "did you mean 'batch'?"),
    ("init", "kaiming", "'kaiming' is not one of 'he', 'xavier'"),
    ("activation", "reluu", "Unknown activation 'reluu'; did you mean 'relu'"),
    ("activation", "elu(alpha=-1.0)", "'alpha' parameter of ELU must be a float in the range"),
    ("output", 3, "3 is not an activation spec"),
    ("standardize", "yes", "'yes' is not true or false"),
    ("eval_noise", -0.1, "-0.1 is not a float in the range [0, inf)"),
]


@pytest.mark.parametrize(("key", "value", "words"), BAD, ids=[f"{k}={v!r}" for k, v, _ in BAD])
def test_each_bad_value_is_named(key: str, value, words: str) -> None:
    (problem,) = settings.problems({key: value})
    assert problem.startswith(f"{key}: ") and words in problem


def test_defaults_are_valid_and_are_the_trainers() -> None:
    assert settings.problems({}) == []
    assert trainer.DEFAULTS == settings.DEFAULTS
    assert settings.resolve({"lr": 0.1}) == {**settings.DEFAULTS, "lr": 0.1}
    assert settings.problems({"model": "cnn", "channels": [8, 16], "name": "x"}) == []


def test_unknown_keys_and_every_problem_in_one_error() -> None:
    with pytest.raises(settings.SettingsError) as e:
        trainer.resolve({"hiddn": [8], "lr": -1.0, "epochs": 0})
    msg = str(e.value)
    assert "hiddn: not a setting (did you mean 'hidden'?)" in msg
    assert "lr: -1.0 is not" in msg and "epochs: 0 is not" in msg


def test_a_sweep_file_is_checked_whole_before_anything_runs(tmp_path: Path, capsys) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(
        'name = "bad"\n[fixed]\ndata = "moonz"\nepochs = 1\n'
        '[grid]\nlr = [0.1, nan]\nhidden = [[8], 8]\n'
    )
    with pytest.raises(settings.SettingsError) as e:
        sweep.Sweep.load(f)
    msg = str(e.value)
    assert "bad.toml: 3 problem(s) in the settings" in msg
    assert "data: 'moonz' is not a data set (did you mean 'moons'?)\n" in msg  # fixed: no trial
    trial = "(first in the trial {'lr': nan, 'hidden': [8]})"
    assert f"lr: nan is not a float in the range (0, inf) {trial}" in msg
    assert main(["sweep", "run", str(f)]) == 2
    err = capsys.readouterr().err
    assert "3 problem(s)" in err and not (tmp_path / "bad.db").exists()  # nothing stored
