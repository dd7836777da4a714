"""The command line: one test per command and flag, in process, plus one console-script run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import actlab
from actlab.cli import EXIT_FAIL, EXIT_OK, EXIT_USAGE, main


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE
    assert "usage: actlab" in capsys.readouterr().out


def test_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == EXIT_OK
    out = capsys.readouterr().out
    for name in ("relu", "gelu_tanh", "hard_sigmoid_keras2", "sparsemax"):
        assert name in out


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--format", "json"]) == EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == actlab.names()
    relu = next(r for r in rows if r["name"] == "relu")
    assert relu["range"] == "[0, inf)" and relu["monotonic"] is True
    sigmoid = next(r for r in rows if r["name"] == "sigmoid")
    assert sigmoid["range"] == "(0, 1)" and sigmoid["bounded_above"] is True


def test_list_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--format", "markdown"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| name |")
    assert len(lines) == 2 + len(actlab.names())


def test_show_text_by_alias(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "Hardswish"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "hard_swish" in out and "MobileNetV3" in out
    assert "x=-3 (f'=0)" in out and "x=3 (f'=1)" in out  # PyTorch's kink choice, stated


def test_show_json_framework_differences(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "hard_sigmoid", "--format", "json"]) == EXIT_OK
    info = json.loads(capsys.readouterr().out)
    assert "Keras 2" in info["frameworks"] and "hard_sigmoid_keras2" in info["frameworks"]
    assert info["kinks"] == [-3.0, 3.0]
    assert info["derivative_at_kinks"] == {"-3.0": 0.0, "3.0": 0.0}


def test_show_parameters_with_ranges(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "celu", "--format", "json"]) == EXIT_OK
    (alpha,) = json.loads(capsys.readouterr().out)["parameters"]
    assert alpha["name"] == "alpha" and alpha["valid"] == "a float in the range (0, inf)"


def test_show_unknown_name_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "reluu"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("Error: Unknown activation 'reluu'; did you mean 'relu'")
    assert "Traceback" not in err


def test_audit_named_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "gelu", "softmax", "--points", "300", "--format", "json"]) == EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    by = {(r["name"], r["impl"]): r for r in rows}
    assert by[("gelu", "actlab")]["fwd_max"] <= 2.0
    assert ("gelu", "torch") in by and ("softmax", "torch") in by


def test_audit_dtypes_and_no_torch(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "audit",
            "mish",
            "--dtype",
            "bfloat16,float16",
            "--points",
            "300",
            "--no-torch",
            "--format",
            "json",
        ]
    )
    assert code == EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    assert {(r["dtype"], r["impl"]) for r in rows} == {
        ("bfloat16", "actlab"),
        ("float16", "actlab"),
    }


def test_audit_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "relu", "--points", "200", "--format", "markdown"]) == EXIT_OK
    assert capsys.readouterr().out.startswith("| activation | dtype |")


def test_audit_bad_dtype(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "relu", "--dtype", "int8"]) == EXIT_USAGE
    assert "dtype must be one of" in capsys.readouterr().err


def _plugin(tmp_path: Path, body: str) -> str:
    mod = f"actlab_plugin_{abs(hash(body)) % 10**8}"
    (tmp_path / f"{mod}.py").write_text(textwrap.dedent(body))
    sys.path.insert(0, str(tmp_path))
    return mod


def test_import_plugin_and_failing_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # x * x overflows the float32 compute of bfloat16 inputs: the audit must say so (exit 3).
    mod = _plugin(
        tmp_path,
        """
        import actlab

        @actlab.register(name="isru_cli_demo")
        def isru(xp, x, /, a=1.0):
            return x / xp.sqrt(1.0 + a * x * x)
        """,
    )
    try:
        assert main(["--import", mod, "show", "isru_cli_demo"]) == EXIT_OK
        out = capsys.readouterr().out
        assert "computed" in out and "monotonic     yes" in out
        code = main(
            ["--import", mod, "audit", "isru_cli_demo", "--dtype", "bfloat16", "--points", "300"]
        )
        assert code == EXIT_FAIL
        assert "isru_cli_demo (bfloat16)" in capsys.readouterr().err
    finally:
        actlab.unregister("isru_cli_demo")
        sys.path.remove(str(tmp_path))


def test_import_missing_module(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--import", "no_such_module_xyz", "list"]) == EXIT_USAGE
    assert "no_such_module_xyz" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert actlab.__version__ in capsys.readouterr().out


def test_console_script_smoke() -> None:
    exe = Path(sys.executable).with_name("actlab")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "actlab"]
    ok = subprocess.run([*cmd, "show", "mish"], capture_output=True, text=True, check=True)
    assert "Misra (2019)" in ok.stdout
    bad = subprocess.run([*cmd, "show", "msh"], capture_output=True, text=True)
    assert bad.returncode == EXIT_USAGE and "did you mean 'mish'" in bad.stderr


# ------------------------------------------------------- messages, not tracebacks
def test_bad_paths_dtypes_devices_and_interrupts_are_messages(tmp_path, capsys, monkeypatch):
    import sqlite3

    import torch

    from actlab.cli import EXIT_INTERRUPTED

    cases = [
        (["bench", "relu", "--dtype", "int32"], "dtype 'int32' is not one of float32"),
        (["plot", "relu", "-o", str(tmp_path / "no" / "x.png")], "No such file or directory"),
        (["sweep", "export", str(tmp_path / "q.toml"), "--csv", "x.csv"], "no such sweep file"),
    ]
    if not torch.cuda.is_available():
        cases.append((["bench", "relu", "--device", "cuda"], "has no CUDA device"))
    for argv, words in cases:
        assert main(argv) == EXIT_USAGE, argv
        err = capsys.readouterr().err
        assert err.startswith("Error: ") and words in err and "Traceback" not in err

    import actlab.cli as cli

    real = cli.build_parser

    def build(fail):  # the parser, with `actlab list` running ``fail`` instead
        def b():
            p = real()
            sub = next(a for a in p._actions if a.dest == "command")
            sub.choices["list"].set_defaults(func=fail)
            return p

        return b

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", build(interrupted))
    assert main(["list"]) == EXIT_INTERRUPTED
    assert "interrupted; the finished work is kept" in capsys.readouterr().err

    def full(args):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(cli, "build_parser", build(full))
    assert main(["list"]) == EXIT_USAGE
    assert "results store could not be read or written: database or disk is full" in (
        capsys.readouterr().err
    )


def test_a_huge_grid_runs_only_when_asked(tmp_path, capsys):
    f = tmp_path / "big.toml"
    seeds = list(range(5001))
    f.write_text(f'name = "big"\n[fixed]\nepochs = 1\n[grid]\nseed = {seeds}\nlr = [0.1, 0.2]\n')
    assert main(["sweep", "run", str(f)]) == EXIT_USAGE
    assert "its grid makes 10,002 trials (more than 10,000)" in capsys.readouterr().err
    assert not (tmp_path / "big.db").exists()
