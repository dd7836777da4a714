"""Sweeps: the file format, the store's discipline, resume after kill -9, backends, export."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actlab.cli import main
from actlab.lab import sweep
from actlab.lab.store import Store, StoreError, TrialState, UpdateFinishedTrialError, trial_key

QUICK = {
    "name": "t",
    "fixed": {"data": "moons", "hidden": [8], "epochs": 2, "batch_size": 200},
    "grid": {"activation": ["relu", "tanh"], "seed": [0, 1]},
}


def _toml(path: Path, spec: dict) -> Path:
    def val(v):
        return json.dumps(v)

    lines = [f'name = "{spec["name"]}"', "[fixed]"]
    lines += [f"{k} = {val(v)}" for k, v in spec["fixed"].items()]
    lines += ["[grid]"] + [f"{k} = {val(v)}" for k, v in spec["grid"].items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _numbers(rows: list[dict]) -> list[dict]:
    """Rows without the wall-clock column, which rightly differs between runs."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_spec_grid_order_and_validation(tmp_path: Path) -> None:
    s = sweep.Sweep.load(_toml(tmp_path / "g.toml", QUICK))
    trials = s.trials()
    assert [(t["activation"], t["seed"]) for t in trials] == [
        ("relu", 0),
        ("relu", 1),
        ("tanh", 0),
        ("tanh", 1),
    ]
    assert trials[0]["optimizer"] == "adam" and trials[0]["epochs"] == 2  # defaults filled in
    assert len(s.chunks()) == 2  # one batched chunk per activation
    bad = {**QUICK, "grid": {"activation": ["relu", "reluu"]}}
    with pytest.raises(ValueError, match="Unknown activation 'reluu'"):
        sweep.Sweep.from_dict(bad)
    with pytest.raises(ValueError, match="both"):
        sweep.Sweep.from_dict({**QUICK, "fixed": {**QUICK["fixed"], "seed": 1}})
    (tmp_path / "broken.toml").write_text("name = [")
    with pytest.raises(ValueError, match=r"broken\.toml: not valid TOML"):
        sweep.Sweep.load(tmp_path / "broken.toml")


def test_run_skip_status_export(tmp_path: Path) -> None:
    f = _toml(tmp_path / "q.toml", QUICK)
    r1 = sweep.run(f, workers=1)
    assert (r1.completed, r1.skipped, r1.failed) == (4, 0, 0)
    r2 = sweep.run(f, workers=1)  # everything already complete: nothing re-runs
    assert (r2.completed, r2.skipped) == (0, 4)
    assert sweep.status(f) == {"done": 4, "pending": 0, "failed": 0, "total": 4, "stale": 0}
    out = tmp_path / "out.csv"
    assert sweep.export_csv(f, out) == 4
    rows = list(csv.DictReader(out.open()))
    assert set(rows[0]) == {
        "data",
        "hidden",
        "epochs",
        "batch_size",
        "activation",
        "seed",
        "status",
        "final_train_loss",
        "final_test_loss",
        "final_train_acc",
        "final_test_acc",
        "seconds",
    }
    assert {r["status"] for r in rows} == {"complete"}
    with Store(sweep.default_store(f)) as db:
        t = db.trials("t")[0]
        assert len(db.history(t["key"])) == 2  # per-epoch metrics stored with the trial
        with pytest.raises(UpdateFinishedTrialError, match="has already finished"):
            db.complete(t["key"], {}, [], 0.0)


def test_growing_the_grid_runs_only_the_new_trials(tmp_path: Path) -> None:
    f = _toml(tmp_path / "q.toml", QUICK)
    sweep.run(f, workers=1)
    bigger = {**QUICK, "grid": {"activation": ["relu", "tanh", "elu"], "seed": [0, 1]}}
    r = sweep.run(_toml(f, bigger), workers=1)
    assert (r.completed, r.skipped) == (2, 4)


def _failing_on(monkeypatch, data: str) -> None:
    """Training fails for the chunks on ``data`` (a cause the settings cannot foresee)."""
    real = sweep.trainer.train_group

    def train_group(chunk):
        if chunk[0]["data"] == data:
            raise RuntimeError(f"{data}: the disk went away")
        return real(chunk)

    monkeypatch.setattr(sweep.trainer, "train_group", train_group)


def test_a_failing_chunk_does_not_lose_the_others(tmp_path: Path, monkeypatch) -> None:
    spec = {
        "name": "f",
        "fixed": {"hidden": [4], "epochs": 1},
        "grid": {"data": ["moons", "wine"], "seed": [0]},
    }
    _failing_on(monkeypatch, "wine")
    r = sweep.run(spec, store=tmp_path / "f.db", workers=1)
    assert (r.completed, r.failed) == (1, 1)
    assert "wine: the disk went away" in r.errors[0]
    with Store(tmp_path / "f.db") as db:
        assert db.counts("f")[TrialState.FAIL] == 1
        assert "the disk went away" in db.trials("f", TrialState.FAIL)[0]["error"]


def test_parallel_workers_give_identical_numbers(tmp_path: Path) -> None:
    f = _toml(tmp_path / "q.toml", QUICK)
    sweep.run(f, workers=1)
    sweep.run(f, store=tmp_path / "par.db", workers=2)
    a = sweep.rows(f, with_history=True)
    b = sweep.rows(f, tmp_path / "par.db", with_history=True)
    assert [r["history"] for r in a] == [r["history"] for r in b]


def test_resume_after_kill(tmp_path: Path) -> None:
    """SIGKILL mid-sweep loses only the chunk in flight; the resumed store equals a clean run."""
    spec = {
        **QUICK,
        "grid": {"activation": ["relu", "tanh", "elu", "gelu", "silu", "mish"], "seed": [0, 1]},
    }
    # chunks of about 0.25 s each: the kill must land while chunks are left (at 6 epochs the
    # six chunks took 0.25 s in all, and the sweep could end between two polls)
    spec["fixed"] = {**QUICK["fixed"], "epochs": 50}
    f = _toml(tmp_path / "k.toml", spec)
    store = tmp_path / "k.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "actlab", "sweep", "run", str(f), "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if store.exists():
            try:
                done = sweep.status(f)["done"]
            except sqlite3.OperationalError:
                continue
            if done >= 2:
                break
    assert proc.poll() is None, "the sweep finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = sweep.status(f)
    assert 2 <= partial["done"] < partial["total"]
    with Store(store) as db:  # the killed driver left its chunk RUNNING
        assert db.counts("t")[TrialState.RUNNING] in (0, 2)
    r = sweep.run(f, workers=1)
    assert r.skipped == partial["done"] and r.completed == partial["total"] - partial["done"]
    with Store(store) as db:
        keys = [t["key"] for t in db.trials("t")]
        assert len(keys) == len(set(keys)) == 12
        assert db.counts("t")[TrialState.COMPLETE] == 12
    clean = tmp_path / "clean.db"
    sweep.run(f, store=clean, workers=1)
    assert _numbers(sweep.rows(f, with_history=True)) == _numbers(
        sweep.rows(f, clean, with_history=True)
    )


def test_store_rejects_a_second_driver(tmp_path: Path) -> None:
    f = _toml(tmp_path / "q.toml", QUICK)
    lock = sweep._Lock(sweep.default_store(f))
    with lock, pytest.raises(ValueError, match="another `actlab sweep run`"):
        sweep.run(f, workers=1)


def test_trial_key_is_stable() -> None:
    assert trial_key({"a": 1, "b": [1, 2]}) == trial_key({"b": [1, 2], "a": 1})
    assert trial_key({"a": 1}) != trial_key({"a": 2})


def test_cli_run_status_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _toml(tmp_path / "c.toml", QUICK)
    assert main(["sweep", "status", str(f), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "done": 0, "pending": 4, "failed": 0, "total": 4, "stale": 0
    }  # fmt: skip
    assert main(["sweep", "run", str(f), "--workers", "1", "--store", str(tmp_path / "c2.db")]) == 0
    assert "4 trials run" in capsys.readouterr().out
    assert (
        main(
            [
                "sweep",
                "export",
                str(f),
                "--store",
                str(tmp_path / "c2.db"),
                "--csv",
                str(tmp_path / "c.csv"),
            ]
        )
        == 0
    )
    assert (tmp_path / "c.csv").read_text().count("\n") == 5
    assert main(["sweep", "run", str(tmp_path / "missing.toml")]) == 2
    assert "no such sweep file" in capsys.readouterr().err


def test_ray_backend_matches_local(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    f = _toml(tmp_path / "r.toml", QUICK)
    sweep.run(f, workers=1)
    sweep.run(f, store=tmp_path / "ray.db", backend="ray", workers=2)
    a = sweep.rows(f, with_history=True)
    b = sweep.rows(f, tmp_path / "ray.db", with_history=True)
    assert [r["history"] for r in a] == [r["history"] for r in b]


def test_example_sweeps_parse() -> None:
    root = Path(__file__).resolve().parents[1] / "examples" / "sweeps"
    quick = sweep.Sweep.load(root / "quick.toml")
    grid = sweep.Sweep.load(root / "mnist1d_grid.toml")
    assert len(quick.trials()) == 9 and len(grid.trials()) == 120


def test_user_activation_in_parallel_workers(tmp_path: Path, capsys) -> None:
    """Spawned workers import the --import modules, so a registered activation trains there."""
    import actlab

    mod = "actlab_sweep_plugin_demo"
    (tmp_path / f"{mod}.py").write_text(
        "import actlab\n\n"
        "@actlab.register(name='isru_sweep_demo')\n"
        "def isru(xp, x, /, a=1.0):\n"
        "    return x / xp.sqrt(1.0 + a * x * x)\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        spec = {**QUICK, "grid": {"activation": ["isru_sweep_demo(a=0.5)", "relu"], "seed": [0]}}
        f = _toml(tmp_path / "u.toml", spec)
        assert main(["--import", mod, "sweep", "run", str(f), "--workers", "2"]) == 0
        assert "2 trials run" in capsys.readouterr().out
        rows = sweep.rows(f)
        assert {r["activation"] for r in rows} == {"isru_sweep_demo(a=0.5)", "relu"}
        assert all(r["status"] == "complete" for r in rows)
    finally:
        sys.path.remove(str(tmp_path))
        actlab.unregister("isru_sweep_demo")


def test_two_sweeps_share_one_trial_in_one_store(tmp_path):
    """A config in two sweeps is trained once; each sweep sees it (no finished-trial update)."""
    db = tmp_path / "shared.db"
    base = {"fixed": {"data": "moons", "hidden": [8], "epochs": 1, "batch_size": 50}}
    a = {"name": "a", **base, "grid": {"activation": ["relu", "tanh"], "seed": [0]}}
    b = {"name": "b", **base, "grid": {"activation": ["tanh", "elu"], "seed": [0]}}
    ra = sweep.run(a, store=db, workers=1, progress=False)
    rb = sweep.run(b, store=db, workers=1, progress=False)
    assert (ra.completed, rb.completed) == (2, 1)
    assert rb.skipped == 1
    got_b = sweep.rows(sweep.Sweep.from_dict(b), db)
    assert [r["activation"] for r in got_b] == ["tanh", "elu"]
    tanh_a = [r for r in sweep.rows(sweep.Sweep.from_dict(a), db) if r["activation"] == "tanh"]
    assert tanh_a[0]["final_test_loss"] == got_b[0]["final_test_loss"]
    assert sweep.status(sweep.Sweep.from_dict(b), db)["done"] == 2


def test_measurements_round_trip(tmp_path):
    from actlab.lab.store import Store

    with Store(tmp_path / "m.db") as db:
        assert db.get_measurement("x") is None
        db.put_measurement("x", {"a": [1, 2.5]})
        assert db.get_measurement("x") == {"a": [1, 2.5]}


def test_sweep_whose_chunk_another_sweep_half_finished(tmp_path):
    """Chunks are fixed by each grid: a chunk partly finished by another sweep is trained
    whole and only its open trials are recorded (no UpdateFinishedTrialError)."""
    db = tmp_path / "shared.db"
    base = {"fixed": {"data": "moons", "hidden": [8], "epochs": 1, "batch_size": 50}}
    small = {"name": "small", **base, "grid": {"seed": [0]}}
    big = {"name": "big", **base, "grid": {"seed": [0, 1]}}
    sweep.run(small, store=db, workers=1, progress=False)
    rep = sweep.run(big, store=db, workers=1, progress=False)
    assert (rep.completed, rep.skipped, rep.failed) == (1, 1, 0)
    assert sweep.status(sweep.Sweep.from_dict(big), db)["done"] == 2


def test_worker_processes_keep_freed_memory() -> None:
    """The workers' malloc setting takes on glibc (in a fresh process: not this one's)."""
    import platform

    code = "from actlab.lab.sweep import keep_freed_memory as k; print(k())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    want = "True" if platform.libc_ver()[0] == "glibc" else out.stdout.strip()
    assert out.stdout.strip() == want


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent that does not reap it counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to watch the workers")
def test_workers_end_when_their_driver_is_killed(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "from actlab.lab.sweep import worker_pool\n"
        "pool = worker_pool(2)\n"
        "list(pool.map(time.sleep, [2.0, 2.0]))  # both workers started and set up\n"
        "futs = [pool.submit(time.sleep, 120) for _ in range(2)]\n"
        "print(*pool._processes, flush=True)\n"
        "time.sleep(120)\n"
    )
    driver = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in driver.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=10)
        deadline = time.monotonic() + 5.0
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in pids if _alive(p)], "workers outlived their driver by 5 s"
    finally:
        driver.kill()
        for p in pids if "pids" in dir() else []:
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)


def test_costliest_chunks_start_first(monkeypatch) -> None:
    """LPT order: more work (trials x epochs x widths) first, then the slower activation;
    the order never changes a chunk's contents."""
    times = {"relu": 1.0, "gelu": 3.0, "tanh": 2.0}
    monkeypatch.setattr(sweep, "_activation_seconds", lambda spec: times[spec])

    def item(act: str, epochs: int, n: int = 2, hidden=(8,)):
        chunk = [{"activation": act, "epochs": epochs, "hidden": list(hidden)}] * n
        return (chunk, [f"{act}{epochs}{n}"], [])

    todo = [item("relu", 5), item("gelu", 5), item("tanh", 5), item("relu", 50), item("relu", 5, 1)]
    order = [t[1][0] for t in sweep._longest_first(todo)]
    assert order == ["relu502", "gelu52", "tanh52", "relu52", "relu51"]


def test_activation_cost_probe() -> None:
    import torch

    state = torch.random.get_rng_state()
    assert sweep._activation_seconds("rrelu") > 0.0
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's stream untouched
    assert sweep._activation_seconds("no_such_activation") == 0.0  # only an order


# ------------------------------------------------------------------ failures, counts, locks
def test_failed_trials_are_retried_only_when_asked(tmp_path: Path, capsys, monkeypatch) -> None:
    spec = {"name": "r", "fixed": {"hidden": [4], "epochs": 1, "data": "wine"},
            "grid": {"seed": [0, 1]}}  # fmt: skip
    f = _toml(tmp_path / "r.toml", spec)
    with monkeypatch.context() as m:
        _failing_on(m, "wine")
        assert sweep.run(f, workers=1).failed == 2
        assert main(["sweep", "run", str(f), "--workers", "1"]) == 3  # no re-run by itself
        out = capsys.readouterr().out
        assert "0 trials run" in out and "2 trials failed in an earlier run" in out
        assert "--retry-failed" in out
        r = sweep.run(f, workers=1, retry_failed=True)
        assert (r.retried, r.failed) == (2, 2)  # re-queued and run again, failing again
    # the cause is gone: a retry completes them
    assert main(["sweep", "run", str(f), "--workers", "1", "--retry-failed"]) == 0
    out = capsys.readouterr().out
    assert "2 failed trials re-queued" in out and "2/2 done" in out
    # a changed config is a new trial; the old ones are stale, not counted
    _toml(f, {**spec, "fixed": {**spec["fixed"], "data": "moons"}})
    st = sweep.status(f)
    assert (st["done"], st["failed"], st["pending"], st["stale"]) == (0, 0, 2, 2)


def test_status_counts_only_the_current_grid_and_reads_only(tmp_path: Path, capsys) -> None:
    f = _toml(tmp_path / "q.toml", QUICK)
    sweep.run(f, workers=1)
    db = sweep.default_store(f)
    smaller = {**QUICK, "grid": {"activation": ["relu"], "seed": [0, 1]}}
    _toml(f, smaller)
    before = db.read_bytes()
    assert sweep.status(f) == {"done": 2, "pending": 0, "failed": 0, "total": 2, "stale": 2}
    assert main(["sweep", "status", str(f)]) == 0
    assert "2 stored trials are no longer in the grid" in capsys.readouterr().out
    assert len(sweep.rows(f)) == 2
    assert db.read_bytes() == before  # status and export never write


def test_a_store_on_read_only_media_can_be_read(tmp_path: Path) -> None:
    f = _toml(tmp_path / "q.toml", QUICK)
    sweep.run(f, workers=1)
    d = tmp_path
    for p in d.iterdir():
        p.chmod(0o444)
    d.chmod(0o555)
    try:
        if os.access(d, os.W_OK):  # root writes anyway: SQLite's fallback path not reached
            with Store(sweep.default_store(f), readonly=True) as db:
                assert db.counts("t")[TrialState.COMPLETE] == 4
        assert sweep.status(f)["done"] == 4
        assert len(sweep.rows(f)) == 4
    finally:
        d.chmod(0o755)


def test_a_damaged_store_is_a_message(tmp_path: Path, capsys) -> None:
    f = _toml(tmp_path / "q.toml", QUICK)
    db = sweep.default_store(f)
    db.write_bytes(b"this is not a database, " * 100)
    with pytest.raises(StoreError, match=r"q\.db is not an actlab store or is damaged"):
        sweep.status(f)
    for cmd in (["status", str(f)], ["run", str(f), "--workers", "1"],
                ["export", str(f), "--csv", str(tmp_path / "x.csv")]):  # fmt: skip
        assert main(["sweep", *cmd]) == 2
        assert "is not an actlab store or is damaged" in capsys.readouterr().err
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (a)").connection.commit()
    with pytest.raises(StoreError, match="no trials, members and epochs tables"):
        Store(other, readonly=True)


def test_the_lock_holds_through_a_symlink(tmp_path: Path) -> None:
    f = _toml(tmp_path / "q.toml", QUICK)
    real = sweep.default_store(f)
    link = tmp_path / "link.db"
    Store(real).close()
    link.symlink_to(real)
    with sweep._Lock(real), pytest.raises(ValueError, match="another `actlab sweep run`"):
        sweep.run(f, store=link, workers=1)


def test_read_only_open_falls_back_to_immutable(tmp_path: Path, monkeypatch) -> None:
    """Where SQLite cannot make the WAL's shared-memory file (read-only media), mode=ro
    fails: the store is then opened as an immutable file."""
    from actlab.lab import store as store_mod

    f = _toml(tmp_path / "q.toml", QUICK)
    sweep.run(f, workers=1)
    real = sqlite3.connect
    uris = []

    def connect(target, *a, **k):
        uris.append(str(target))
        if str(target).endswith("mode=ro"):
            raise sqlite3.OperationalError("unable to open database file")
        return real(target, *a, **k)

    monkeypatch.setattr(store_mod.sqlite3, "connect", connect)
    with Store(sweep.default_store(f), readonly=True) as db:
        assert db.counts("t")[TrialState.COMPLETE] == 4
    assert [u.rsplit("?", 1)[1] for u in uris] == ["mode=ro", "immutable=1"]


def test_a_value_listed_twice_in_the_grid_is_named(tmp_path: Path, capsys) -> None:
    spec = {"name": "d", "fixed": {"data": "moons", "epochs": 1, "hidden": [8]},
            "grid": {"seed": [0, 0]}}  # fmt: skip
    f = _toml(tmp_path / "d.toml", spec)
    assert main(["sweep", "run", str(f), "--workers", "1"]) == 2
    assert "grid.seed lists 0 more than once" in capsys.readouterr().err
    assert not (tmp_path / "d.db").exists()


def test_run_exits_3_while_failed_trials_remain(tmp_path: Path, capsys, monkeypatch) -> None:
    spec = {"name": "e", "fixed": {"hidden": [4], "epochs": 1, "data": "wine"},
            "grid": {"seed": [0]}}  # fmt: skip
    f = _toml(tmp_path / "e.toml", spec)
    _failing_on(monkeypatch, "wine")
    assert main(["sweep", "run", str(f), "--workers", "1"]) == 3
    assert main(["sweep", "run", str(f), "--workers", "1"]) == 3  # still not complete
    assert "1 trials failed in an earlier run" in capsys.readouterr().out
