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


def lab_data_available() -> bool:
    try:
        import mnist1d  # noqa: F401

        from actlab.lab import data  # noqa: F401
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


@pytest.mark.skipif(not lab_data_available(), reason="needs actlab.lab.data and mnist1d")
def test_relu_dies_and_leaky_relu_survives_on_mnist1d(capsys: pytest.CaptureFixture[str]) -> None:
    relu = run_json(capsys, "--data", "mnist1d", "--act", "relu", "--lr", "0.5", "--epochs", "3")
    assert relu["data"].startswith("mnist1d (4000 train, 1000 test")
    assert relu["model"] == "MLP 40-100-100-100-10, relu" and relu["notes"] == []
    assert [r["layer"] for r in relu["summary"]] == ["1", "3", "5"]
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


def test_fallback_data_when_lab_data_is_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "actlab.lab.data", None)  # import fails as if absent
    out = run_json(capsys, "--data", "mnist1d", "--epochs", "1", "--width", "16")
    assert "synthetic stand-in" in out["notes"][0]
    assert out["data"] == "mnist1d (4000 train, 1000 test, 40 inputs, 10 classes)"
    spirals = run_json(capsys, "--data", "spirals", "--epochs", "1", "--depth", "2")
    assert spirals["notes"] == [] and spirals["data"].startswith("spirals (4000 train")
    assert spirals["model"] == "MLP 2-100-100-3, relu"


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
