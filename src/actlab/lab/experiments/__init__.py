"""One experiment per claim of the register (C1-C18), registered by claim id.

An experiment turns a claim from the texts into a measurement and a verdict
computed from it. It has four parts, kept apart so each can be checked alone:

* :meth:`Experiment.setup` - what will be run under a profile (data, model,
  depths, optimisers, learning rates, seeds), as plain data for the report;
* :meth:`Experiment.run` - gathers the measurements through a :class:`Context`:
  training goes through the sweep engine (stored, resumable, shared between
  experiments that ask for the same trial), anything else through
  :meth:`Context.measure` (stored too); returns plain JSON-able data;
* :meth:`Experiment.analyse` - a pure function of that data: the
  :class:`Outcome` with its :class:`Verdict`, the evidence numbers, sentences
  written from the numbers, tables and published anchors. Tests feed it
  synthetic data and check that the opposite data gives the opposite verdict;
* :meth:`Experiment.figure` - one matplotlib figure from the data.

Example:
    >>> from actlab.lab import experiments
    >>> exp = experiments.get("C17")
    >>> exp.id, exp.claim[:25]
    ('C17', 'ReLU needs less memory: o')
"""

from __future__ import annotations

import abc
import hashlib
import importlib
import json
import os
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .claims import CLAIMS

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "PROFILES",
    "VERDICTS",
    "Anchor",
    "Context",
    "Experiment",
    "Outcome",
    "Table",
    "Verdict",
    "all_experiments",
    "get",
    "register",
]

#: The verdicts an analysis may reach, and nothing else.
VERDICTS = ("supported", "refuted", "depends", "not testable here")
#: ``smoke`` is for tests (seconds per claim), ``quick`` the default report (10 minutes on
#: 2 cores in all), ``full`` more seeds, epochs, depths and data.
PROFILES = ("smoke", "quick", "full")


@dataclass(frozen=True)
class Verdict:
    """A verdict and the one sentence, written from the numbers, that justifies it.

    Attributes:
        verdict: one of :data:`VERDICTS`.
        reason: why, quoting the measured numbers.
        on: for ``depends``: the variable the answer depends on.
        boundary: for ``depends``: the measured boundary (e.g. "dies above lr 0.3").
        provisional: the data leave room for the other answer (few seeds, a wide
            interval, an effect near the threshold); more data (``--profile full``)
            might change it.
    """

    verdict: str
    reason: str
    on: str | None = None
    boundary: str | None = None
    provisional: bool = False

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.verdict == "depends" and not (self.on and self.boundary):
            raise ValueError("a 'depends' verdict must name what it depends on and the boundary")
        if not self.reason:
            raise ValueError("a verdict needs a reason")


@dataclass(frozen=True)
class Anchor:
    """A published number beside ours."""

    what: str
    published: float
    ours: float
    source: str
    why: str  # why the two may differ (setup, data, definitions)
    unit: str = ""

    @property
    def difference(self) -> float:
        return self.ours - self.published


@dataclass(frozen=True)
class Table:
    """A small table for the report: a title, column names, rows of preformatted cells."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]


@dataclass
class Outcome:
    """What an analysis concludes from the data."""

    verdict: Verdict
    evidence: dict[str, Any]
    findings: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    anchors: list[Anchor] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": asdict(self.verdict),
            "evidence": self.evidence,
            "findings": list(self.findings),
            "tables": [asdict(t) for t in self.tables],
            "anchors": [{**asdict(a), "difference": a.difference} for a in self.anchors],
        }


class Context:
    """Where an experiment runs: the profile, the results store, and how to train.

    Args:
        store: the SQLite file every sweep and measurement of a report goes into.
        profile: one of :data:`PROFILES`.
        workers: parallel training chunks (processes; each trains on one thread).
        backend: ``"local"`` or ``"ray"``.
        address: a Ray cluster's address.
        executor: a process pool shared by every sweep of the report (saves start-up).
        fresh: measure again even where a stored measurement exists.
        log: called with a line of progress.
    """

    def __init__(
        self,
        store: str | os.PathLike,
        profile: str = "quick",
        *,
        workers: int | None = None,
        backend: str = "local",
        address: str | None = None,
        executor: Executor | None = None,
        fresh: bool = False,
        log: Callable[[str], None] | None = None,
        progress: bool | None = False,
    ):
        if profile not in PROFILES:
            raise ValueError(f"The 'profile' must be one of {', '.join(PROFILES)}. Got {profile!r}")
        self.store = Path(store)
        self.profile = profile
        self.workers = workers
        self.backend = backend
        self.address = address
        self.executor = executor
        self.fresh = fresh
        self.log = log or (lambda _line: None)
        self.progress = progress
        self.trials_run = 0

    def pick(self, *, smoke: Any, quick: Any, full: Any) -> Any:
        """The value for the current profile."""
        return {"smoke": smoke, "quick": quick, "full": full}[self.profile]

    def sweep(
        self, name: str, fixed: Mapping[str, Any], grid: Mapping[str, Sequence[Any]]
    ) -> list[dict[str, Any]]:
        """Train the grid through the sweep engine (skipping stored trials); return its rows.

        Each row has every fixed and grid key, the final metrics (``final_test_acc``...),
        ``config`` (the resolved trial config) and ``history`` (one dict per epoch:
        ``train_loss``, ``test_acc``, ``dead_fraction``, ``dead_units``, ``sparsity``,
        ``grad_norms``...). Rows of failed trials have ``status == "fail"``.
        """
        from .. import sweep as sweep_mod

        spec = {
            "name": f"{self.profile}/{name}",
            "fixed": dict(fixed),
            "grid": {k: list(v) for k, v in grid.items()},
        }
        sw = sweep_mod.Sweep.from_dict(spec)
        rep = sweep_mod.run(
            sw,
            store=self.store,
            backend=self.backend,
            workers=self.workers,
            address=self.address,
            progress=self.progress,
            executor=self.executor,
        )
        self.trials_run += rep.completed
        if rep.completed:
            self.log(f"  sweep {name}: {rep.completed} trials trained in {rep.seconds:.1f} s")
        if rep.failed:
            self.log(f"  sweep {name}: {rep.failed} trials failed: {rep.errors[0]}")
        return sweep_mod.rows(sw, self.store, with_history=True)

    def measure(self, name: str, fn: Callable[..., Any], **params: Any) -> Any:
        """``fn(**params)``, stored under (profile, name, params): computed once per store.

        For measurements that are not training runs (timings, Monte Carlo, gradient
        norms at initialisation). The result must be JSON-able. ``fresh`` recomputes.
        """
        from ..store import Store

        canon = json.dumps(params, sort_keys=True, default=repr)
        key = f"{self.profile}/{name}/" + hashlib.sha256(canon.encode()).hexdigest()[:16]
        with Store(self.store) as db:
            if not self.fresh:
                hit = db.get_measurement(key)
                if hit is not None:
                    return hit
        value = fn(**params)
        value = json.loads(json.dumps(value))  # what is stored is what is returned
        with Store(self.store) as db:
            db.put_measurement(key, value)
        return value


class Experiment(abc.ABC):
    """Base class of a claim's experiment; subclasses are registered with :func:`register`.

    Subclasses set ``id`` (the claim id, e.g. ``"C5"``), ``title`` (a few words) and
    ``question`` (the claim as one testable question), and implement the four methods.
    """

    id: ClassVar[str]
    title: ClassVar[str]
    question: ClassVar[str]

    @property
    def claim(self) -> str:
        """The claim's text, as the register in VISION.md words it."""
        return CLAIMS[self.id]["claim"]

    @property
    def sources(self) -> str:
        return CLAIMS[self.id]["sources"]

    @abc.abstractmethod
    def setup(self, profile: str) -> dict[str, Any]:
        """What is run under ``profile``: plain data shown in the report."""

    @abc.abstractmethod
    def run(self, ctx: Context) -> dict[str, Any]:
        """Gather the measurements (JSON-able)."""

    @abc.abstractmethod
    def analyse(self, data: dict[str, Any]) -> Outcome:
        """The verdict and evidence, from ``data`` alone (no training, no timing)."""

    @abc.abstractmethod
    def figure(self, data: dict[str, Any], outcome: Outcome) -> Figure:
        """One matplotlib figure of the evidence."""


_REGISTRY: dict[str, Experiment] = {}


def register(cls: type[Experiment]) -> type[Experiment]:
    """Class decorator: register an experiment under its claim id."""
    if cls.id not in CLAIMS:
        raise ValueError(f"{cls.__name__}: unknown claim id {cls.id!r}; known: {sorted(CLAIMS)}")
    if cls.id in _REGISTRY and type(_REGISTRY[cls.id]) is not cls:
        raise ValueError(f"claim {cls.id} already has an experiment ({type(_REGISTRY[cls.id])})")
    _REGISTRY[cls.id] = cls()
    return cls


def _load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("c") and mod.name[1:2].isdigit():
            importlib.import_module(f"{__name__}.{mod.name}")


def _order(cid: str) -> int:
    return int(cid[1:])


def all_experiments() -> list[Experiment]:
    """Every registered experiment, in claim order."""
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY, key=_order)]


def get(claim_id: str) -> Experiment:
    """The experiment for a claim id (``"C5"`` or ``"c5"``)."""
    _load_all()
    cid = claim_id.upper()
    if cid not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY, key=_order))
        raise ValueError(f"no experiment for claim {claim_id!r}; known: {known}")
    return _REGISTRY[cid]
