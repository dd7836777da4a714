"""The whole report, built in the smoke profile, opened in headless Chromium.

Every claim must be answered (a verdict, not a failure), and every section and
figure must be laid out by a real browser with no console error. ``make test``
installs Debian's ``chromium`` where it is missing; the test is skipped only on a
machine with neither Chromium nor apt-get (and says so).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from actlab.lab import report
from actlab.lab.experiments.claims import CLAIMS

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    report.build(out, profile="smoke", workers=2)
    return out


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if shutil.which("apt-get"):
        pytest.fail("chromium is missing: `make test` installs it (apt-get install chromium)")
    pytest.skip("no chromium and no apt-get on this machine: the browser check cannot run")


def _run(args: list[str], profile_dir: Path) -> subprocess.CompletedProcess:
    cmd = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_every_claim_is_answered(smoke_report: Path) -> None:
    doc = json.loads((smoke_report / "results.json").read_text())
    got = {c["id"]: c for c in doc["claims"]}
    assert list(got) == list(CLAIMS)
    failed = {k: c.get("error", "")[-300:] for k, c in got.items() if c["verdict"] == "failed"}
    assert not failed, failed
    for c in got.values():
        assert c["verdict"] in ("supported", "refuted", "depends", "not testable here")
        assert c["reason"] and c["evidence"], c["id"]
        assert (smoke_report / "figures" / f"{c['id']}.svg").exists()


def test_report_renders_in_chromium(smoke_report: Path, tmp_path: Path) -> None:
    page = (smoke_report / "index.html").as_uri()
    dom = _run(["--dump-dom", "--enable-logging=stderr", "--v=0", page], tmp_path / "p1")
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body[^>]*>", dom.stdout).group(0)
    assert 'data-layout="ok"' in body, body  # every section and figure has a size
    assert f'data-figures="{len(CLAIMS)}"' in body, body
    console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln]
    assert not console, console
    for cid in CLAIMS:
        assert f'id="{cid}"' in dom.stdout
    # a screenshot, at phone width too, for a person to look at (kept beside the report)
    for width, name in ((1200, "screenshot.png"), (390, "screenshot-phone.png")):
        shot = smoke_report / name
        r = _run([f"--window-size={width},2400", f"--screenshot={shot}", page], tmp_path / name)
        assert r.returncode == 0 and shot.stat().st_size > 10_000, r.stderr[-2000:]
