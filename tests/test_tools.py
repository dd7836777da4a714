"""tools/: the kernels' constants against mpmath (fit_kernel_constants.py), and the generators run.

The fit itself (Remez, about 10 s) is left to ``python tools/fit_kernel_constants.py``; here
only the comparisons run, the rational function's error on a coarse grid.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_tools_{name}", TOOLS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fit():
    return _load("fit_kernel_constants")


@pytest.fixture(scope="module")
def constants(fit) -> dict:
    return fit.read_constants()


def test_gelu_zero_and_taylor_coefficients_are_mpmaths(fit, constants) -> None:
    rows = fit.check_taylor(constants)
    assert len(rows) == 2 + 6  # x0 as a pair, and p's six coefficients
    for name, have, want, d in rows:
        assert d <= 1, (name, have, want)
    # the pair carries x0 to far below an ULP of double
    hi, lo, _ = fit.gelu_zero_taylor()
    assert abs(lo) < 2.0**-52 * abs(hi)


def test_committed_rational_phi_error(fit, constants) -> None:
    rp, rq = constants["GELU_RP"], constants["GELU_RQ"]
    assert (len(rp), len(rq)) == (7, 8) and rq[-1] == 1.0
    assert all(v > 0 for v in rp + rq)
    err = fit.rational_error(rp, rq, points=301)
    # the figure kernels.c states, and not so far below it that the measure is vacuous
    assert 1e-12 < err["exact"] <= fit.STATED_ERROR
    assert err["double"] <= fit.STATED_ERROR


def test_known_constants(fit, constants) -> None:
    for name, have, want, good in fit.known_constants(constants):
        assert good, (name, have, want)


def test_check_exits_1_on_a_changed_constant(fit, tmp_path: Path) -> None:
    source = fit.SOURCE.read_text()
    assert fit.main(["--check", "--points", "31"]) == 0
    old = "p = p * s + 0.388284982990552;"
    assert source.count(old) == 1
    changed = tmp_path / "kernels.c"
    changed.write_text(source.replace(old, "p = p * s + 0.388284982990559;"))
    assert fit.main(["--check", "--points", "31", "--source", str(changed)]) == 1


@pytest.mark.parametrize("name", ["numerics_audit", "properties_table", "record_full_verdicts"])
def test_generators_live_in_tools(name: str) -> None:
    out = subprocess.run([sys.executable, str(TOOLS / f"{name}.py"), "--help"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert f"tools/{name}.py" in (TOOLS / f"{name}.py").read_text()
