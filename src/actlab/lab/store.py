"""The results store: one SQLite file (WAL) holding every trial of every sweep run against it.

Discipline borrowed from Optuna's storages: a trial moves WAITING -> RUNNING ->
COMPLETE or FAIL; a finished trial is never modified; a trial's summary and
its per-epoch metrics are committed in the same transaction, so a crash (even
``kill -9``) leaves each trial either complete or not there at all, and
SQLite's journal keeps the file itself intact.

Example:
    >>> import tempfile, os
    >>> from actlab.lab.store import Store, TrialState
    >>> db = Store(os.path.join(tempfile.mkdtemp(), "s.db"))
    >>> db.add_trials("demo", [{"seed": 0}])
    1
    >>> db.counts("demo")[TrialState.WAITING]
    1
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

__all__ = ["Store", "StoreError", "TrialState", "UpdateFinishedTrialError", "trial_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY,
    sweep TEXT NOT NULL,
    position INTEGER NOT NULL,
    config TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('WAITING', 'RUNNING', 'COMPLETE', 'FAIL')),
    started REAL, finished REAL, seconds REAL, error TEXT,
    final_train_loss REAL, final_test_loss REAL, final_train_acc REAL, final_test_acc REAL,
    final_dead_fraction REAL
);
CREATE INDEX IF NOT EXISTS trials_sweep ON trials (sweep, state);
CREATE TABLE IF NOT EXISTS members (
    sweep TEXT NOT NULL,
    key TEXT NOT NULL REFERENCES trials (key),
    position INTEGER NOT NULL,
    PRIMARY KEY (sweep, key)
);
INSERT OR IGNORE INTO members (sweep, key, position) SELECT sweep, key, position FROM trials;
CREATE TABLE IF NOT EXISTS measurements (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS epochs (
    key TEXT NOT NULL REFERENCES trials (key),
    epoch INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    PRIMARY KEY (key, epoch)
);
"""


#: The keys of one sweep's trials (a sub-select taking the sweep's name as its parameter).
_MEMBERS = "(SELECT key FROM members WHERE sweep=?)"


def _open_readonly(path: Path) -> sqlite3.Connection:
    """The file opened read-only (``mode=ro``); on read-only media, where SQLite cannot
    create the WAL's shared-memory file beside it, as an immutable file."""
    if not path.is_file():
        raise StoreError(f"{path}: no such results file")
    uri = path.resolve().as_uri()
    try:
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        db = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
    names = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not {"trials", "members", "epochs"} <= names:
        db.close()
        raise sqlite3.DatabaseError("it has no trials, members and epochs tables")
    return db


class TrialState(str, Enum):
    WAITING = "WAITING"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAIL = "FAIL"

    def is_finished(self) -> bool:
        return self in (TrialState.COMPLETE, TrialState.FAIL)


class UpdateFinishedTrialError(RuntimeError):
    """A finished trial (COMPLETE or FAIL) cannot be changed."""


def trial_key(config: dict[str, Any]) -> str:
    """A stable identity for a resolved trial config (a hash of its canonical JSON)."""
    import hashlib

    canon = json.dumps(config, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(canon.encode()).hexdigest()[:24]


class StoreError(ValueError):
    """A results file that cannot be opened as a store (damaged, not SQLite, unreadable)."""


class Store:
    """A sweep results file. Safe for one writer at a time (the sweep driver).

    With ``readonly=True`` the file is only read, never created or changed (its bytes
    stay as they are), and one on read-only media can still be read.
    """

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        try:
            if readonly:
                self._db = _open_readonly(self.path)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute("PRAGMA foreign_keys=ON")
                with self._tx():
                    for stmt in _SCHEMA.strip().split(";"):
                        if stmt.strip():
                            self._db.execute(stmt)
        except sqlite3.DatabaseError as exc:  # not a database, damaged, read-only, locked
            raise StoreError(
                f"{self.path} is not an actlab store or is damaged: {exc}"
            ) from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- writing -----------------------------------------------------------------------
    def add_trials(self, sweep: str, configs: Sequence[dict[str, Any]]) -> int:
        """Add trials not already present (by key); returns how many were new.

        A trial belongs to every sweep that lists it: two sweeps sharing a config
        share its one result (trained once), and each sees it in its own grid order.
        """
        new = 0
        with self._tx() as db:
            for pos, cfg in enumerate(configs):
                key = trial_key(cfg)
                cur = db.execute(
                    "INSERT OR IGNORE INTO trials (key, sweep, position, config, state) "
                    "VALUES (?, ?, ?, ?, 'WAITING')",
                    (key, sweep, pos, json.dumps(cfg, sort_keys=True)),
                )
                new += cur.rowcount
                db.execute(
                    "INSERT OR REPLACE INTO members (sweep, key, position) VALUES (?, ?, ?)",
                    (sweep, key, pos),
                )
        return new

    def _check_unfinished(self, db: sqlite3.Connection, keys: Iterable[str]) -> None:
        for key in keys:
            row = db.execute("SELECT state FROM trials WHERE key = ?", (key,)).fetchone()
            if row is None:
                raise KeyError(f"no trial {key} in {self.path}")
            if TrialState(row[0]).is_finished():
                raise UpdateFinishedTrialError(
                    f"Trial {key} has already finished ({row[0]}) and can not be updated."
                )

    def mark_running(self, keys: Sequence[str]) -> None:
        with self._tx() as db:
            self._check_unfinished(db, keys)
            now = time.time()
            db.executemany(
                "UPDATE trials SET state='RUNNING', started=? WHERE key=?", [(now, k) for k in keys]
            )

    def requeue_running(self, sweep: str) -> int:
        """Put trials left RUNNING by a driver that died back to WAITING; returns how many."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE trials SET state='WAITING', started=NULL WHERE state='RUNNING' "
                f"AND key IN {_MEMBERS}",
                (sweep,),
            )
            return cur.rowcount

    def complete(
        self, key: str, summary: dict[str, Any], history: Sequence[dict[str, Any]], seconds: float
    ) -> None:
        """Record a finished trial: its summary and every epoch, in one transaction."""
        self.complete_many([(key, summary, history, seconds)])

    def complete_many(self, items: Sequence[tuple[str, dict, Sequence[dict], float]]) -> None:
        with self._tx() as db:
            self._check_unfinished(db, [k for k, *_ in items])
            now = time.time()
            for key, summary, history, seconds in items:
                db.execute(
                    "UPDATE trials SET state='COMPLETE', finished=?, seconds=?, "
                    "final_train_loss=?, final_test_loss=?, final_train_acc=?, final_test_acc=?, "
                    "final_dead_fraction=? WHERE key=?",
                    (
                        now,
                        seconds,
                        summary.get("final_train_loss"),
                        summary.get("final_test_loss"),
                        summary.get("final_train_acc"),
                        summary.get("final_test_acc"),
                        summary.get("final_dead_fraction"),
                        key,
                    ),
                )
                db.executemany(
                    "INSERT INTO epochs (key, epoch, metrics) VALUES (?, ?, ?)",
                    [(key, int(row["epoch"]), json.dumps(row)) for row in history],
                )

    def fail(self, keys: Sequence[str], error: str) -> None:
        with self._tx() as db:
            self._check_unfinished(db, keys)
            now = time.time()
            db.executemany(
                "UPDATE trials SET state='FAIL', finished=?, error=? WHERE key=?",
                [(now, error, k) for k in keys],
            )

    def retry_failed(self, sweep: str) -> int:
        """Explicitly re-queue FAIL trials (the only way a finished trial changes)."""
        with self._tx() as db:
            db.execute(
                "DELETE FROM epochs WHERE key IN "
                f"(SELECT key FROM trials WHERE state='FAIL' AND key IN {_MEMBERS})",
                (sweep,),
            )
            return db.execute(
                "UPDATE trials SET state='WAITING', error=NULL, finished=NULL "
                f"WHERE state='FAIL' AND key IN {_MEMBERS}",
                (sweep,),
            ).rowcount

    # -- reading -----------------------------------------------------------------------
    def counts(self, sweep: str) -> dict[TrialState, int]:
        """Trials per state among every trial ever listed by ``sweep`` in this store."""
        out = dict.fromkeys(TrialState, 0)
        for state, n in self._db.execute(
            f"SELECT state, COUNT(*) FROM trials WHERE key IN {_MEMBERS} GROUP BY state", (sweep,)
        ):
            out[TrialState(state)] = n
        return out

    def states(self, keys: Iterable[str]) -> dict[str, TrialState]:
        """The state of each of ``keys`` that the store holds (absent keys are left out)."""
        out: dict[str, TrialState] = {}
        keys = list(keys)
        for i in range(0, len(keys), 500):  # SQLite's limit on bound parameters
            part = keys[i : i + 500]
            q = f"SELECT key, state FROM trials WHERE key IN ({','.join('?' * len(part))})"
            out.update((k, TrialState(st)) for k, st in self._db.execute(q, part))
        return out

    def members(self, sweep: str) -> list[str]:
        """The keys of every trial ``sweep`` has ever listed in this store."""
        return [k for (k,) in self._db.execute("SELECT key FROM members WHERE sweep=?", (sweep,))]

    def trials(self, sweep: str, state: TrialState | None = None) -> list[dict[str, Any]]:
        """Trials of a sweep in grid order: config, state and summary columns."""
        q = (
            "SELECT t.*, m.position AS position FROM trials t JOIN members m ON m.key = t.key "
            "WHERE m.sweep=?" + (" AND t.state=?" if state else "")
        )
        args: tuple = (sweep, state.value) if state else (sweep,)
        cur = self._db.execute(q + " ORDER BY m.position", args)
        cols = [c[0] for c in cur.description]
        rows = []
        for r in cur.fetchall():
            d = dict(zip(cols, r))
            d["config"] = json.loads(d["config"])
            d["sweep"] = sweep
            rows.append(d)
        return rows

    def history(self, key: str) -> list[dict[str, Any]]:
        return [
            json.loads(m)
            for (m,) in self._db.execute(
                "SELECT metrics FROM epochs WHERE key=? ORDER BY epoch", (key,)
            )
        ]

    # -- measurements ------------------------------------------------------------------
    def get_measurement(self, key: str) -> Any | None:
        """A stored measurement (JSON) or None: what experiments measure outside trials."""
        row = self._db.execute("SELECT value FROM measurements WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put_measurement(self, key: str, value: Any) -> None:
        """Store (or replace) a measurement, in one transaction."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO measurements (key, value, created) VALUES (?, ?, ?)",
                (key, json.dumps(value), time.time()),
            )
