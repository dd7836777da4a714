"""``actlab diagnose``: train with the monitor on and print what it found; one test per flag."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from actlab.cli import EXIT_FAIL, EXIT_OK, EXIT_USAGE, main


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["diagnose", *argv, "--format", "json"]) == EXIT_OK
    return json.loads(capsys.readouterr().out)


def mnist1d_available() -> bool:
    try:
        import mnist1d  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def user_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module of model factories written by "someone else", importable from the cwd."""
    (tmp_path / "usermodels.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.body = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16),
                                              nn.ReLU())
                    self.head = nn.Linear(16, 3)

                def forward(self, x):
                    return self.head(torch.tanh(self.body(x)))

            def make():
                return Net()

            def dead():
                net = Net()
                with torch.no_grad():
                    net.body[0].bias.fill_(-100.0)
                return net

            def conv():
                return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.GELU(),
                                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 4))

            def not_a_model():
                return 42
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "usermodels", raising=False)
    return "usermodels"


@pytest.mark.skipif(not mnist1d_available(), reason="needs the mnist1d package")
def test_relu_dies_and_leaky_relu_survives_on_mnist1d(capsys: pytest.CaptureFixture[str]) -> None:
    relu = run_json(capsys, "--data", "mnist1d", "--act", "relu", "--lr", "0.5", "--epochs", "3")
    assert relu["data"].startswith("mnist1d (4000 train, 1000 test")
    assert relu["model"] == "MLP 40-100-100-100-10, relu" and relu["notes"] == []
    # the lab's MLP names its activation modules acts.0, acts.1, ...
    assert [r["layer"] for r in relu["summary"]] == ["acts.0", "acts.1", "acts.2"]
    assert max(r["dead_fraction"] for r in relu["summary"]) >= 0.2
    assert any(a["topic"] == "dead_units" for a in relu["advice"])
    assert [e["epoch"] for e in relu["epochs"]] == [1, 2, 3]
    assert relu["summary"][0]["window"] == "epoch 3, steps 81-120 (40 batches, all sampled)"
    leaky = run_json(
        capsys, "--data", "mnist1d", "--act", "leaky_relu", "--lr", "0.5", "--epochs", "3"
    )
    assert [r["dead_fraction"] for r in leaky["summary"]] == [0.0, 0.0, 0.0]
    assert all(r["finite"] for r in leaky["summary"])
    assert not any(a["topic"] == "dead_units" for a in leaky["advice"])


def test_named_data_sets_are_the_labs(capsys: pytest.CaptureFixture[str]) -> None:
    from actlab.lab import data

    spirals = run_json(capsys, "--data", "spirals", "--epochs", "1", "--depth", "2")
    ds = data.load("spirals", seed=0)
    assert spirals["notes"] == []
    assert spirals["data"] == (
        f"spirals ({len(ds.x_train)} train, {len(ds.x_test)} test, 2 inputs, 2 classes)"
    )
    assert spirals["model"] == "MLP 2-100-100-2, relu"
    assert list(spirals["epochs"][0]["dead_fraction"]) == ["acts.0", "acts.1"]
    moons = run_json(capsys, "--data", "moons", "--epochs", "1", "--width", "8", "--seed", "3")
    assert moons["data"] == "moons (1500 train, 500 test, 2 inputs, 2 classes)"
    assert moons["settings"]["seed"] == 3 and 0.0 <= moons["test_accuracy"] <= 1.0


def test_json_keys_are_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "--data", "moons", "--epochs", "1", "--width", "4", "--depth", "1")
    assert list(out) == [
        "data", "model", "settings", "notes", "epochs", "summary", "training_summary",
        "grad_ratio", "advice", "test_accuracy", "seconds",
    ]  # fmt: skip
    assert list(out["settings"]) == [
        "optimizer", "lr", "momentum", "epochs", "batch_size", "seed", "every"
    ]  # fmt: skip
    assert list(out["epochs"][0]) == ["epoch", "loss", "train_accuracy", "dead_fraction"]


def test_same_seed_same_result(capsys: pytest.CaptureFixture[str], user_models: str) -> None:
    argv = ["--model", f"{user_models}:make", "--epochs", "2", "--samples", "200", "--seed", "5"]
    first, again = run_json(capsys, *argv), run_json(capsys, *argv)
    first.pop("seconds"), again.pop("seconds")
    assert first == again  # the factory is called after seeding: the same initialisation
    assert run_json(capsys, *argv[:-1], "6")["epochs"] != first["epochs"]


def test_cli_defaults_are_the_labs() -> None:
    from actlab.cli import diagnose as cli
    from actlab.lab import diagnose as lab

    assert (cli.DEFAULT_WIDTH, cli.DEFAULT_DEPTH) == (lab.DEFAULT_WIDTH, lab.DEFAULT_DEPTH)


def test_table_output_has_the_summary_and_the_advice(
    capsys: pytest.CaptureFixture[str], user_models: str
) -> None:
    assert main(["diagnose", "--model", f"{user_models}:dead", "--epochs", "1"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "monitor summary" in out and "dead units per epoch" in out
    assert "[warning] Layer body.1 (relu, 16 units): 16 units (100%) are dead" in out
    assert "Things to try" in out and "smaller learning rate" in out


def test_model_factory_with_random_data_and_swapped_activation(
    capsys: pytest.CaptureFixture[str], user_models: str
) -> None:
    out = run_json(
        capsys, "--model", f"{user_models}:make", "--act", "elu(alpha=0.5)", "--epochs", "2",
        "--samples", "300", "--batch-size", "50",
    )  # fmt: skip
    assert out["notes"] == [
        "--act: replaced 2 activation module(s) with elu(alpha=0.5)",
        "random Gaussian inputs and random labels",
    ]
    assert out["data"] == "random (300 train, 0 test, 8 inputs, 3 classes)"
    assert [(r["layer"], r["kind"], r["units"]) for r in out["summary"]] == [
        ("body.1", "elu(alpha=0.5)", 16),
        ("body.3", "elu(alpha=0.5)", 16),
        ("model:tanh#1", "tanh", 16),  # a function call in forward, found too
    ]
    assert out["summary"][0]["samples"] == 300 and out["test_accuracy"] is None


def test_conv_factory_with_input_shape(
    capsys: pytest.CaptureFixture[str], user_models: str
) -> None:
    out = run_json(
        capsys, "--model", f"{user_models}:conv", "--input-shape", "3,8,8", "--epochs", "1",
        "--samples", "64", "--classes", "4",
    )  # fmt: skip
    (gelu,) = out["summary"]
    assert (gelu["layer"], gelu["kind"], gelu["units"]) == ("1", "gelu", 6)
    assert gelu["values_per_unit"] == 64 * 8 * 8


def test_given_data_from_an_npz_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    np.savez(
        tmp_path / "mine.npz", x_train=x[:150], y_train=y[:150], x_test=x[150:], y_test=y[150:]
    )
    out = run_json(capsys, "--data", str(tmp_path / "mine.npz"), "--epochs", "2", "--width", "8")
    assert out["data"] == "mine.npz (150 train, 50 test, 5 inputs, 2 classes)"
    assert out["model"] == "MLP 5-8-8-8-2, relu"
    assert 0.0 <= out["test_accuracy"] <= 1.0
    np.savez(tmp_path / "train_only.npz", x_train=x, y_train=y)  # the test arrays are optional
    out = run_json(capsys, "--data", str(tmp_path / "train_only.npz"), "--epochs", "1")
    assert out["data"] == "train_only.npz (200 train, 0 test, 5 inputs, 2 classes)"
    assert out["test_accuracy"] is None


def test_npz_file_without_the_arrays(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    np.savez(tmp_path / "wrong.npz", a=np.zeros(3))
    assert main(["diagnose", "--data", str(tmp_path / "wrong.npz")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "wrong.npz: expected arrays x and y (or x_train and y_train" in err
    assert "found ['a']" in err
    np.savez(
        tmp_path / "half.npz", x_train=np.zeros((3, 2)), y_train=np.zeros(3), x_test=np.zeros(3)
    )
    assert main(["diagnose", "--data", str(tmp_path / "half.npz")]) == EXIT_USAGE
    assert "half.npz: has x_test but no y_test" in capsys.readouterr().err


def test_strict_exits_3_when_the_advice_warns(
    capsys: pytest.CaptureFixture[str], user_models: str
) -> None:
    assert main(["diagnose", "--model", f"{user_models}:dead", "--strict"]) == EXIT_FAIL
    assert main(["diagnose", "--model", f"{user_models}:dead"]) == EXIT_OK
    capsys.readouterr()


def test_scan_after_training(capsys: pytest.CaptureFixture[str], user_models: str) -> None:
    out = run_json(capsys, "--model", f"{user_models}:dead", "--epochs", "1", "--scan")
    assert out["summary"][0]["window"].startswith("scan of ")
    assert out["summary"][0]["samples"] == 1000 and out["summary"][0]["dead_fraction"] == 1.0
    assert out["training_summary"][0]["window"].startswith("epoch 1")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "no_colon"], "--model expects MODULE:FACTORY"),
        (["--model", "no_such_module_xyz:make"], "cannot import 'no_such_module_xyz'"),
        (["--act", "lekay_relu"], "did you mean"),
        (["--lr", "0"], "--lr must be a positive number"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--data", "missing.npz"], "no such file"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["diagnose", *argv]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err


def test_factory_that_returns_no_module(
    capsys: pytest.CaptureFixture[str], user_models: str
) -> None:
    assert main(["diagnose", "--model", f"{user_models}:not_a_model"]) == EXIT_USAGE
    assert "returned int, not a torch.nn.Module" in capsys.readouterr().err


def test_a_model_that_needs_arguments_is_named(capsys) -> None:
    assert main(["diagnose", "--model", "os:system", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "os:system: system cannot be called without arguments" in err
    assert "Traceback" not in err
