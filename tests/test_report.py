"""The report's machinery: verdicts, the experiment context, the registry, rendering, the CLI."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from actlab.cli import main
from actlab.lab import experiments as ex
from actlab.lab import report
from actlab.lab.experiments.claims import CLAIMS


def test_register_has_the_eighteen_claims() -> None:
    assert list(CLAIMS) == [f"C{i}" for i in range(1, 19)]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(verdict="true", reason="x"), "verdict must be one of"),
        (dict(verdict="depends", reason="x"), "must name what it depends on"),
        (dict(verdict="supported", reason=""), "needs a reason"),
    ],
)
def test_verdicts_are_checked(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        ex.Verdict(**kwargs)


def test_measure_is_stored_and_reused(tmp_path) -> None:
    calls = []

    def f(n: int) -> dict:
        calls.append(n)
        return {"n": n, "t": (1, 2)}

    ctx = ex.Context(tmp_path / "r.db", "smoke")
    assert ctx.measure("m", f, n=3) == {"n": 3, "t": [1, 2]}  # what is stored is returned
    assert ctx.measure("m", f, n=3) == {"n": 3, "t": [1, 2]}
    assert calls == [3]
    ctx.measure("m", f, n=4)
    assert calls == [3, 4]
    fresh = ex.Context(tmp_path / "r.db", "smoke", fresh=True)
    fresh.measure("m", f, n=3)
    assert calls == [3, 4, 3]
    other_profile = ex.Context(tmp_path / "r.db", "quick")
    other_profile.measure("m", f, n=3)
    assert calls == [3, 4, 3, 3]


def test_context_sweep_returns_histories(tmp_path) -> None:
    ctx = ex.Context(tmp_path / "r.db", "smoke", workers=1)
    fixed = {"data": "moons", "hidden": [8], "epochs": 2, "batch_size": 50}
    rows = ctx.sweep("t", fixed, {"activation": ["relu", "tanh"], "seed": [0]})
    assert [r["activation"] for r in rows] == ["relu", "tanh"]
    assert all(len(r["history"]) == 2 and "sparsity" in r["history"][-1] for r in rows)
    assert ctx.trials_run == 2
    again = ex.Context(tmp_path / "r.db", "smoke", workers=1)
    assert again.sweep("t", fixed, {"activation": ["relu", "tanh"], "seed": [0]}) == rows
    assert again.trials_run == 0


def test_context_rejects_unknown_profile(tmp_path) -> None:
    with pytest.raises(ValueError, match="profile"):
        ex.Context(tmp_path / "r.db", "fast")


def test_registry() -> None:
    exps = ex.all_experiments()
    ids = [e.id for e in exps]
    assert ids == sorted(ids, key=lambda c: int(c[1:])) and "C17" in ids
    assert ex.get("c17") is ex.get("C17")
    with pytest.raises(ValueError, match="no experiment for claim 'C99'"):
        ex.get("C99")

    class Bogus(ex.Experiment):
        id = "C42"

    with pytest.raises(ValueError, match="unknown claim id"):
        ex.register(Bogus)


class _Broken(ex.Experiment):
    id, title, question = "C18", "broken", "does it break?"

    def setup(self, profile):
        return {"data": "none"}

    def run(self, ctx):
        raise RuntimeError("the measurement broke")

    def analyse(self, data):  # never reached: run raises
        raise AssertionError

    def figure(self, data, outcome):  # never reached
        raise AssertionError


def _fake(cid: str, verdict: str) -> report.ClaimResult:
    r = report.ClaimResult(cid, CLAIMS[cid]["claim"], "a title", "a question?", "000")
    r.setup = {"data": "moons", "seeds": [0, 1]}
    r.outcome = ex.Outcome(
        ex.Verdict(
            verdict,
            "because 1.5 > 1.2",
            on="x" if verdict == "depends" else None,
            boundary="x > 3" if verdict == "depends" else None,
        ),
        {"number": 1.5},
        ["a finding with <b>markup</b>"],
        [ex.Table("t", ["a", "b"], [["x", 0.123456], ["y", 3]])],
        [ex.Anchor("thing", 68.0, 66.5, "paper", "fewer epochs", unit="%")],
    )
    r.figure_svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    return r


def test_render_writes_html_and_json(tmp_path) -> None:
    broken = report.run_claim(_Broken(), ex.Context(tmp_path / "r.db", "smoke"), tmp_path)
    assert broken.outcome is None and "the measurement broke" in broken.error
    results = [_fake("C1", "supported"), _fake("C2", "depends"), broken]
    path = report.render(results, tmp_path, profile="smoke", command="actlab report -o x")
    html = path.read_text()
    for cid in ("C1", "C2", "C18"):
        assert f'id="{cid}"' in html and f'href="#{cid}"' in html
    assert "&lt;b&gt;markup&lt;/b&gt;" in html  # autoescaped
    assert "the measurement broke" in html and "failed" in html
    assert "0.123" in html and "-1.5%" in html  # table number and anchor difference
    assert not re.search(r"(src|href)=\"https?://", html)  # self-contained
    doc = json.loads((tmp_path / "results.json").read_text())
    assert [c["id"] for c in doc["claims"]] == ["C1", "C2", "C18"]
    c1 = doc["claims"][0]
    assert {"id", "claim", "verdict", "evidence"} <= set(c1)
    assert c1["verdict"] == "supported" and c1["evidence"] == {"number": 1.5}
    assert doc["claims"][2]["verdict"] == "failed"
    assert doc["machine"]["torch"] and doc["command"] == "actlab report -o x"


def test_a_verdict_the_full_profile_contradicts_becomes_provisional(tmp_path) -> None:
    record = {"recorded": "2026-11-23", "commit": "abc1234", "machine": "m", "command": "c"}
    record["claims"] = {
        "C1": {"verdict": "supported", "provisional": False},
        "C2": {"verdict": "refuted", "provisional": True},
    }
    same, other, unrecorded = (
        _fake("C1", "supported"),
        _fake("C2", "depends"),
        _fake("C3", "depends"),
    )
    for r in (same, other, unrecorded):
        report.compare_with_full(r, record)
    assert same.full["agrees"] and not same.outcome.verdict.provisional
    assert not other.full["agrees"] and other.outcome.verdict.provisional
    assert other.verdict == "depends"  # its own verdict stands, qualified
    assert unrecorded.full is None and not unrecorded.outcome.verdict.provisional
    report.render([same, other], tmp_path, profile="quick", command="c")
    html = (tmp_path / "index.html").read_text()
    assert "a different verdict, so this one is provisional" in html and "the same verdict" in html
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["claims"][1]["full_profile"]["verdict"] == "refuted"
    assert doc["claims"][1]["provisional"] is True


def test_recorded_full_verdicts_cover_every_claim() -> None:
    rec = report.full_verdicts()
    assert set(rec["claims"]) == set(CLAIMS) and rec["recorded"] and rec["commit"]
    assert {c["verdict"] for c in rec["claims"].values()} <= set(ex.VERDICTS)


def test_build_one_claim_end_to_end(tmp_path) -> None:
    out = tmp_path / "rep"
    (r,) = report.build(out, profile="smoke", claims=["C17"], workers=1)
    assert r.outcome is not None, r.error
    assert (out / "figures" / "C17.svg").exists() and (out / "figures" / "C17.png").exists()
    html = (out / "index.html").read_text()
    assert "<svg" in html and "<?xml" not in html
    doc = json.loads((out / "results.json").read_text())
    assert doc["claims"][0]["verdict"] == r.verdict


def test_the_report_folder_is_the_users(tmp_path, monkeypatch) -> None:
    """--claims keeps the other claims; a failed run, a damaged store or --fresh loses
    nothing of the user's; nothing is written through a symlink."""
    out = tmp_path / "rep"
    report.build(out, profile="smoke", claims=["C17"], workers=1)
    doc = json.loads((out / "results.json").read_text())
    other = {**doc["claims"][0], "id": "C16", "title": "An earlier claim"}
    doc["claims"].append(other)  # as if an earlier run had reported C16 too
    (out / "results.json").write_text(json.dumps(doc))
    (out / "results.db.bak").write_text("the user's backup")
    outside = tmp_path / "elsewhere.html"
    outside.write_text("not actlab's")
    (out / "index.html").unlink()
    (out / "index.html").symlink_to(outside)

    report.build(out, profile="smoke", claims=["C17"], workers=1)
    ids = [c["id"] for c in json.loads((out / "results.json").read_text())["claims"]]
    assert ids == ["C16", "C17"]  # kept, in claim order
    html = (out / "index.html").read_text()
    assert "An earlier claim" in html and not (out / "index.html").is_symlink()
    assert outside.read_text() == "not actlab's"  # replaced the link, not its target
    report.build(out, profile="smoke", claims=["C17"], workers=1, fresh=True)
    assert (out / "results.db.bak").read_text() == "the user's backup"  # --fresh: only the store
    ids = [c["id"] for c in json.loads((out / "results.json").read_text())["claims"]]
    assert ids == ["C17"]  # a fresh start shows only what it ran
    doc = json.loads((out / "results.json").read_text())
    doc["claims"].append({**doc["claims"][0], "id": "C16"})
    doc["profile"] = "quick"  # another profile's claim is not mixed into a smoke page
    (out / "results.json").write_text(json.dumps(doc))
    report.build(out, profile="smoke", claims=["C17"], workers=1)
    ids = [c["id"] for c in json.loads((out / "results.json").read_text())["claims"]]
    assert ids == ["C17"]

    before = (out / "index.html").read_bytes()

    def broken(*a, **k):
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr(report, "render", broken)
    with pytest.raises(RuntimeError, match="disk filled up"):
        report.build(out, profile="smoke", claims=["C17"], workers=1)
    monkeypatch.undo()
    assert (out / "index.html").read_bytes() == before  # byte for byte
    assert not list(out.glob(".actlab-report-*"))  # the half-built report is gone

    (out / "results.db").write_bytes(b"garbage" * 1000)
    with pytest.raises(ValueError, match=r"results\.db is not an actlab store or is damaged"):
        report.build(out, profile="smoke", claims=["C17"], workers=1)
    assert (out / "index.html").read_bytes() == before

    (out / "results.db").unlink()
    shutil.rmtree(out / "figures")
    (out / "figures").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ValueError, match="figures is not a plain directory"):
        report.build(out, profile="smoke", claims=["C17"], workers=1)


def test_cli_report_rejects_bad_profile_and_claim(tmp_path, capsys) -> None:
    assert main(["report", "-o", str(tmp_path), "--profile", "fast"]) == 2
    assert "--profile must be one of smoke, quick, full" in capsys.readouterr().err
    assert main(["report", "-o", str(tmp_path), "--claims", "C99"]) == 2
    assert "no experiment for claim 'C99'" in capsys.readouterr().err


# -- C17 (memory): the analysis follows the numbers ---------------------------------------
def _memory_data(relu: float, classic: float, others: float) -> dict:
    from actlab.lab.experiments.c17_memory import ACTIVATIONS

    def entry(v):
        return {"actlab": v, "torch": v}

    model = {k: entry(others) for k in ACTIVATIONS}
    model["relu"] = entry(relu)
    model["sigmoid"] = model["tanh"] = entry(classic)
    return {
        "per_op": {k: entry(4.0) for k in ACTIVATIONS},
        "per_model": model,
        "params": dict.fromkeys(ACTIVATIONS, 0) | {"prelu": 1},
        "dtype_bytes": 4,
    }


@pytest.mark.parametrize(
    "relu, classic, others, verdict",
    [
        (1.0, 5.0, 9.0, "supported"),  # a bit mask: less than everything
        (5.0, 5.0, 9.0, "depends"),  # what PyTorch does: as much as sigmoid/tanh
        (9.0, 5.0, 5.0, "refuted"),  # keeps more than every other
    ],
)
def test_memory_verdict_follows_numbers(relu, classic, others, verdict) -> None:
    out = ex.get("C17").analyse(_memory_data(relu, classic, others))
    assert out.verdict.verdict == verdict
    assert f"{relu:.2f}" in out.verdict.reason
