"""Sweeps: a grid of trials from a TOML file or a dict, run resumably into a SQLite store.

The file format (the contract users and actlab's own experiments write)::

    name = "grid"
    [fixed]                      # one value each
    data = "mnist1d"
    hidden = [100, 100]
    epochs = 50
    [grid]                       # the cross product of these lists
    activation = ["relu", "tanh", "leaky_relu(negative_slope=0.1)"]
    seed = [0, 1, 2]

Trials that differ only in ``seed`` and ``lr`` are trained together by the
batched trainer, in chunks fixed by the grid alone, so a trial's numbers do not
depend on the backend, the number of workers, or on whether the sweep was
interrupted and resumed. Each chunk's results are committed in one
transaction; re-running a sweep skips what is complete and re-queues what a
killed run left RUNNING.

Example:
    >>> from actlab.lab.sweep import Sweep
    >>> s = Sweep.from_dict({"name": "t", "fixed": {"data": "moons"},
    ...                      "grid": {"activation": ["relu", "tanh"], "seed": [0, 1]}})
    >>> len(s.trials())
    4
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import itertools
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import settings, trainer
from .store import Store, TrialState, trial_key

__all__ = [
    "CHUNK",
    "RunReport",
    "Sweep",
    "default_store",
    "export_csv",
    "run",
    "status",
    "worker_pool",
]

#: At most this many trials are stacked into one batched training call.
CHUNK = 16


@dataclass(frozen=True)
class Sweep:
    """A named grid: ``fixed`` settings and ``grid`` lists whose cross product gives the trials."""

    name: str
    fixed: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    source: str | None = None

    @classmethod
    def from_dict(cls, spec: dict[str, Any], source: str | None = None) -> Sweep:
        where = source or "sweep"
        unknown = set(spec) - {"name", "fixed", "grid"}
        if unknown:
            raise ValueError(
                f"{where}: unknown top-level key(s) {sorted(unknown)}; "
                "expected name, [fixed], [grid]"
            )
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: needs a non-empty string 'name'")
        fixed = dict(spec.get("fixed", {}))
        grid = dict(spec.get("grid", {}))
        for k, v in grid.items():
            if not isinstance(v, list) or not v:
                raise ValueError(f"{where}: grid.{k} must be a non-empty list, got {v!r}")
            seen = [json.dumps(x, sort_keys=True, default=repr) for x in v]
            twice = sorted({x for x in seen if seen.count(x) > 1})
            if twice:  # the same trial twice: it would be trained and stored twice
                raise ValueError(f"{where}: grid.{k} lists {', '.join(twice)} more than once")
        both = set(fixed) & set(grid)
        if both:
            raise ValueError(f"{where}: {sorted(both)} appear in both [fixed] and [grid]")
        sweep = cls(name, fixed, grid, source)
        sweep.trials()  # validate every trial now, with a clear message
        return sweep

    @classmethod
    def load(cls, path: str | os.PathLike) -> Sweep:
        """Read a sweep TOML file."""
        return cls.from_dict(_read_toml(path), source=str(path))

    def trials(self) -> list[dict[str, Any]]:
        """Every trial's resolved config, in grid order (last grid key varies fastest).

        Every trial is checked against the settings schema first, and one
        :class:`~actlab.lab.settings.SettingsError` lists every problem of the file, each
        once, with the first trial it occurs in.
        """
        keys = list(self.grid)
        configs = [
            {**self.fixed, **dict(zip(keys, values))}
            for values in itertools.product(*(self.grid[k] for k in keys))
        ]
        found: dict[str, dict[str, Any]] = {}
        for cfg in configs:
            for problem in settings.problems(cfg):
                found.setdefault(problem, {k: cfg[k] for k in keys})
        if found:
            # a grid value's problem says which trial has it; a fixed one's needs no trial
            lines = [
                p + (f" (first in the trial {v})" if p.split(":")[0] in keys else "")
                for p, v in found.items()
            ]
            raise settings.SettingsError(
                f"{self.source or self.name}: {len(found)} problem(s) in the settings:\n  "
                + "\n  ".join(lines)
            )
        return [trainer.resolve(cfg) for cfg in configs]

    def chunks(self) -> list[list[dict[str, Any]]]:
        """Trials grouped for batched training: same group key, at most CHUNK per chunk."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for cfg in self.trials():
            groups.setdefault(trainer.group_key(cfg), []).append(cfg)
        return [g[i : i + CHUNK] for g in groups.values() for i in range(0, len(g), CHUNK)]


def _read_toml(path: str | os.PathLike) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{p}: no such sweep file")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{p}: not valid TOML ({exc})") from exc


#: A grid larger than this runs only when asked (``--yes``): a typo in a grid list can
#: multiply it into days of training and a store of gigabytes.
MAX_TRIALS_UNASKED = 10_000


def trial_count(path: str | os.PathLike) -> int:
    """How many trials a sweep file's grid makes, read without checking each of them."""
    grid = _read_toml(path).get("grid", {})
    return math.prod(len(v) if isinstance(v, list) else 1 for v in grid.values())


@dataclass
class RunReport:
    """What a run did: trials completed now, skipped as already complete, failed, re-queued."""

    completed: int = 0
    skipped: int = 0
    failed: int = 0
    requeued: int = 0
    retried: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def default_store(sweep_file: str | os.PathLike) -> Path:
    """The store beside a sweep file: ``grid.toml`` -> ``grid.db``."""
    return Path(sweep_file).with_suffix(".db")


def _work(
    chunk: list[dict[str, Any]], imports: Sequence[str] = ()
) -> list[tuple[dict, list, float]]:
    """Train one chunk (in a worker process, a Ray task, or in-process).

    ``imports`` are modules that register user activations: a spawned worker or a
    Ray task starts from a fresh interpreter and must import them itself.

    Always on one thread: a matmul's rounding can depend on how many threads split
    it, and a trial's numbers must not depend on the backend or the worker count.
    Parallelism comes from running chunks side by side instead.
    """
    import importlib

    import torch

    for mod in imports:
        importlib.import_module(mod)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results = trainer.train_group(chunk)
    finally:
        torch.set_num_threads(before)
    return [(r.summary(), r.history, r.seconds) for r in results]


class _Lock:
    """An exclusive lock beside the store, held while a driver runs (released if it dies)."""

    def __init__(self, store: Path):
        # on the file itself, wherever it is reached from: two names for one database
        # (a symlink, a relative path) take the same lock
        real = Path(os.path.realpath(store))
        self.path = real.with_name(real.name + ".lock")
        self.fd: int | None = None

    def __enter__(self) -> _Lock:
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise ValueError(
                f"{self.path}: another `actlab sweep run` is using this store"
            ) from None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)


def run(
    sweep: Sweep | str | os.PathLike | dict,
    *,
    store: str | os.PathLike | None = None,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: bool | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
    imports: Sequence[str] = (),
    executor: Executor | None = None,
    retry_failed: bool = False,
) -> RunReport:
    """Run every trial of ``sweep`` not yet complete in ``store``.

    A trial that failed stays failed (a finished trial is never changed) unless
    ``retry_failed`` re-queues the sweep's failed trials first.

    Args:
        sweep: a :class:`Sweep`, a TOML path, or a dict in the file format.
        store: SQLite file (default: the sweep file with ``.db``).
        backend: ``"local"`` (processes on this machine) or ``"ray"``.
        workers: parallel chunks (local: processes; default all cores), each on one
            thread. With one worker the chunks run in this process.
        address: Ray cluster address (default: start or join a local Ray).
        progress: show a progress bar (default: when stderr is a terminal).
        on_chunk: called with (chunks done, chunks total) after each chunk.
        imports: modules to import in every worker first (user activations' registrations;
            the command line passes its ``--import`` modules).
        executor: a process pool to run the local backend's chunks in (one made with
            :func:`worker_pool` and shared by several sweeps saves each its start-up);
            default: a pool of ``workers`` processes for this run.
        retry_failed: run the trials that failed before again (after their cause is
            fixed); :attr:`RunReport.retried` says how many.
    """
    if not isinstance(sweep, Sweep):
        src = sweep
        sweep = Sweep.from_dict(sweep) if isinstance(sweep, dict) else Sweep.load(sweep)
        if store is None and not isinstance(src, dict):
            store = default_store(src)
    if store is None:
        raise ValueError("run() needs store= when the sweep is not read from a file")
    if backend not in ("local", "ray"):
        raise ValueError(f"The 'backend' must be 'local' or 'ray'. Got {backend!r}")
    t0 = time.perf_counter()
    report = RunReport()
    path = Path(os.path.realpath(store))  # the lock and the database: one file, one name
    with _Lock(path), Store(path) as db:
        report.requeued = db.requeue_running(sweep.name)  # orphans of a killed driver
        db.add_trials(sweep.name, sweep.trials())
        if retry_failed:
            report.retried = db.retry_failed(sweep.name)
        done = {t["key"] for t in db.trials(sweep.name, TrialState.COMPLETE)}
        failed_before = {t["key"] for t in db.trials(sweep.name, TrialState.FAIL)}
        todo = []
        for chunk in sweep.chunks():
            keys = [trial_key(c) for c in chunk]
            open_keys = [k for k in keys if k not in done and k not in failed_before]
            report.skipped += sum(k in done for k in keys)
            if open_keys:
                # A chunk is always trained whole, so a trial's numbers never depend on
                # which of its neighbours another sweep sharing the store already ran;
                # only the open trials are recorded (a finished trial never changes).
                todo.append((chunk, keys, open_keys))
        n_workers = max(1, workers or os.cpu_count() or 1)
        if n_workers > 1:
            todo = _longest_first(todo)
        if backend == "local":
            results = _run_local(todo, db, n_workers, executor, tuple(imports))
        else:
            results = _run_ray(todo, db, n_workers, address, tuple(imports))
        bar = _Progress(len(todo), sweep.name, progress)
        with bar:
            for i, (_chunk, keys, open_keys, outcome) in enumerate(results):
                if isinstance(outcome, BaseException):
                    msg = "".join(traceback.format_exception_only(type(outcome), outcome)).strip()
                    db.fail(open_keys, msg)
                    report.failed += len(open_keys)
                    report.errors.append(msg)
                else:
                    db.complete_many(
                        [(k, s, h, sec) for k, (s, h, sec) in zip(keys, outcome) if k in open_keys]
                    )
                    report.completed += len(open_keys)
                bar.advance()
                if on_chunk:
                    on_chunk(i + 1, len(todo))
    report.seconds = time.perf_counter() - t0
    return report


def _longest_first(todo: list) -> list:
    """The chunks in the order to start them: the costliest first (LPT scheduling).

    Started in grid order, a long chunk that comes last keeps one worker busy while the
    others wait (the seeds' grid ends with GELU, its costliest chunk: 3.3 s of a 64 s
    run idle on one of two workers). The cost is an estimate: trials x epochs x the
    model's widths, then the activation's measured forward and backward time on one
    tensor. The order decides when a chunk runs, never what it computes.
    """

    def cost(item: tuple) -> tuple[float, float]:
        c = item[0][0]
        widths = c.get("hidden") or c.get("channels") or [1]
        try:
            act = _activation_seconds(c["activation"])
        except TypeError:  # an unhashable spec (a dict in a Python sweep): no estimate
            act = 0.0
        return len(item[0]) * c["epochs"] * sum(widths), act

    return sorted(todo, key=cost, reverse=True)


@functools.cache
def _activation_seconds(spec: str) -> float:
    """Seconds for what an epoch asks of activation ``spec``: a forward alone (evaluation)
    and a forward and backward (training), on 256K float32 elements, one thread, best of
    3. The caller's random state is left as it was (RReLU draws from it)."""
    import torch

    from .. import create

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            act = create(spec)
            x = torch.randn(1 << 18, requires_grad=True)
            best = math.inf
            for _ in range(3):
                t0 = time.perf_counter()
                with torch.no_grad():
                    act(x)
                act(x).backward(x)
                best = min(best, time.perf_counter() - t0)
        return best
    except Exception:  # only an order: an activation that cannot run here fails in its chunk
        return 0.0
    finally:
        torch.set_num_threads(threads)


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to reuse freed memory instead of returning it to the kernel.

    Training allocates and frees tensors of a few hundred KB some thousand times a
    second. With glibc's defaults, blocks from 128 KB up are mapped fresh from the
    kernel and freed heap is handed back early, so such a tensor page-faults on first
    touch, every time: a sizeable share of a lab chunk's time, and most of the batched
    optimizer's step, went to page faults. The numbers computed do not change. Called in
    actlab's own worker processes, never in a user's. Returns False where the C library
    has no ``mallopt`` (not glibc).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    # 32 MB: glibc's largest allowed mmap threshold on 64-bit
    return bool(mallopt(m_mmap_threshold, 32 << 20) and mallopt(m_trim_threshold, 256 << 20))


#: How often a worker looks whether the process that started it is still there.
PARENT_POLL_S = 0.5


def _worker_init(parent: int) -> None:
    """Set up one of actlab's worker processes: reuse freed memory, and end when the
    driver that started it is gone.

    A driver killed with SIGKILL cannot stop its pool, and its workers would go on
    training for nobody (and keep multiprocessing's resource tracker alive through the
    pipe they inherited). A daemon thread watches the parent pid instead: once the
    worker has been handed to another parent, it exits at once. (PR_SET_PDEATHSIG would
    fire when the thread that spawned the worker ends, which in a pool is not the
    driver's death.)
    """
    import threading

    keep_freed_memory()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="actlab-parent-watch", daemon=True).start()


def worker_pool(workers: int | None = None) -> Executor:
    """A pool of spawned worker processes for :func:`run`'s ``executor`` (close it when done).

    Each worker ends by itself within about a second when the process that made the
    pool dies, however it dies.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    n = max(1, workers or os.cpu_count() or 1)
    return ProcessPoolExecutor(
        max_workers=n,
        mp_context=mp.get_context("spawn"),
        initializer=_worker_init,
        initargs=(os.getpid(),),
    )


def _run_local(todo: list, db: Store, n_workers: int, executor: Executor | None, imports: tuple):
    if executor is None and (n_workers == 1 or len(todo) <= 1):
        for chunk, keys, open_keys in todo:
            db.mark_running(open_keys)
            try:
                yield chunk, keys, open_keys, _work(chunk, imports)
            except Exception as exc:  # a failing trial must not lose the others
                yield chunk, keys, open_keys, exc
        return
    from concurrent.futures import as_completed

    with contextlib.nullcontext(executor) if executor else worker_pool(n_workers) as pool:
        futures = {}
        for chunk, keys, open_keys in todo:
            db.mark_running(open_keys)
            futures[pool.submit(_work, chunk, imports)] = (chunk, keys, open_keys)
        for fut in as_completed(futures):
            chunk, keys, open_keys = futures[fut]
            try:
                yield chunk, keys, open_keys, fut.result()
            except Exception as exc:
                yield chunk, keys, open_keys, exc


def _run_ray(todo: list, db: Store, n_workers: int, address: str | None, imports: tuple):
    try:
        import ray
    except ImportError:
        raise ValueError("the ray backend needs Ray: pip install 'actlab[ray]'") from None
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"address": address} if address else {"num_cpus": n_workers}
        ray.init(ignore_reinit_error=True, log_to_driver=False, include_dashboard=False, **kwargs)
        started = True
    try:
        remote = ray.remote(num_cpus=1)(_work)
        refs = {}
        for chunk, keys, open_keys in todo:
            db.mark_running(open_keys)
            refs[remote.remote(chunk, imports)] = (chunk, keys, open_keys)
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            chunk, keys, open_keys = refs[ready[0]]
            try:
                yield chunk, keys, open_keys, ray.get(ready[0])
            except Exception as exc:
                yield chunk, keys, open_keys, exc
    finally:
        if started:
            ray.shutdown()


class _Progress:
    """A rich progress bar with ETA on a terminal; silent otherwise."""

    def __init__(self, total: int, name: str, show: bool | None):
        self.show = sys.stderr.isatty() if show is None else show
        self.total, self.name = total, name
        self._p = None

    def __enter__(self) -> _Progress:
        if self.show and self.total:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._p = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                transient=False,
            )
            self._p.__enter__()
            self._task = self._p.add_task(f"sweep {self.name} (chunks)", total=self.total)
        return self

    def advance(self) -> None:
        if self._p is not None:
            self._p.advance(self._task)

    def __exit__(self, *exc: Any) -> None:
        if self._p is not None:
            self._p.__exit__(*exc)


def status(
    sweep: Sweep | str | os.PathLike, store: str | os.PathLike | None = None
) -> dict[str, int]:
    """Trial counts of the grid as the file has it now: ``done``, ``pending`` (waiting,
    running or not yet stored), ``failed`` and ``total``; and ``stale``, the trials the
    store holds for this sweep that its grid no longer names (a typo since fixed, a grid
    since shrunk), which the other counts leave out. The store is only read."""
    if not isinstance(sweep, Sweep):
        store = store or default_store(sweep)
        sweep = Sweep.load(sweep)
    keys = {trial_key(c) for c in sweep.trials()}
    total = len(keys)
    if store is None or not Path(store).exists():
        return {"done": 0, "pending": total, "failed": 0, "total": total, "stale": 0}
    with Store(store, readonly=True) as db:
        states = db.states(keys)
        stale = len(set(db.members(sweep.name)) - keys)
    done = sum(st is TrialState.COMPLETE for st in states.values())
    failed = sum(st is TrialState.FAIL for st in states.values())
    return {
        "done": done,
        "pending": total - done - failed,
        "failed": failed,
        "total": total,
        "stale": stale,
    }


SUMMARY_COLUMNS = (
    "status",
    "final_train_loss",
    "final_test_loss",
    "final_train_acc",
    "final_test_acc",
    "seconds",
)


def rows(
    sweep: Sweep | str | os.PathLike,
    store: str | os.PathLike | None = None,
    *,
    with_history: bool = False,
) -> list[dict[str, Any]]:
    """One dict per finished trial: grid and fixed keys, status and final metrics."""
    if not isinstance(sweep, Sweep):
        store = store or default_store(sweep)
        sweep = Sweep.load(sweep)
    keys = [*sweep.fixed, *sweep.grid]
    wanted = {trial_key(c): c for c in sweep.trials()}
    out = []
    with Store(store, readonly=True) as db:
        for t in db.trials(sweep.name):
            if t["key"] not in wanted or t["state"] not in ("COMPLETE", "FAIL"):
                continue
            cfg = t["config"]
            row = {k: cfg.get(k) for k in keys}
            row["status"] = t["state"].lower()
            for col in SUMMARY_COLUMNS[1:]:
                row[col] = t[col]
            if with_history:
                row["history"] = db.history(t["key"])
                row["config"] = cfg
            out.append(row)
    return out


def export_csv(
    sweep: Sweep | str | os.PathLike, out: str | os.PathLike, store: str | os.PathLike | None = None
) -> int:
    """Write one CSV row per finished trial; returns the number of rows."""
    import csv
    import json

    data = rows(sweep, store)
    if not data:
        Path(out).write_text("", encoding="utf-8")
        return 0
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(data[0]))
        w.writeheader()
        for r in data:
            w.writerow(
                {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()}
            )
    return len(data)
