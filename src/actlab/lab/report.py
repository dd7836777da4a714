"""The claims report: run every claim's experiment, then write ``index.html`` and ``results.json``.

``build`` runs the experiments in claim order against one results store
(``OUT/results.db``), so a second run reuses every stored trial and
measurement (``fresh=True`` starts from an empty store). An experiment that
fails is reported as failed, with its error, and the others still run: no
result is lost to one bad claim.

The ``quick`` profile trains shorter and on fewer seeds than ``full``, and a
verdict can change with them. The verdicts of the last ``full`` run are kept with
the package (``full_verdicts.json``, written by
``tools/record_full_verdicts.py`` from a full report's ``results.json``, with
its date, commit and machine); every other profile's verdict is set beside it and
marked provisional where the two differ.

Example:
    >>> from actlab.lab import report
    >>> report.VERDICT_LABELS["depends"]
    'depends'
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import io
import json
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import experiments as ex

__all__ = ["ClaimResult", "build", "compare_with_full", "full_verdicts", "render"]

VERDICT_LABELS = {v: v for v in ex.VERDICTS} | {None: "failed"}


@dataclass
class ClaimResult:
    """One claim's answer, or its error."""

    id: str
    claim: str
    title: str
    question: str
    sources: str
    setup: dict[str, Any] = field(default_factory=dict)
    outcome: ex.Outcome | None = None
    error: str | None = None
    seconds: float = 0.0
    figure_svg: str | None = None
    figure_files: list[str] = field(default_factory=list)
    full: dict[str, Any] | None = None  # the recorded full profile's verdict (other profiles)

    @property
    def verdict(self) -> str | None:
        return self.outcome.verdict.verdict if self.outcome else None

    @classmethod
    def from_dict(cls, d: dict[str, Any], out: Path) -> ClaimResult:
        """A claim of an earlier ``results.json`` in ``out`` (its figure read back from
        ``out/figures``), to be shown again beside claims run now."""
        res = cls(d["id"], d["claim"], d["title"], d["question"], d.get("sources", ""))
        res.setup, res.seconds = d.get("setup", {}), d.get("seconds", 0.0)
        res.figure_files, res.full = list(d.get("figures", [])), d.get("full_profile")
        if d.get("verdict") == "failed":
            res.error = d.get("error") or "failed"
            return res
        verdict = ex.Verdict(
            d["verdict"], d["reason"], d.get("depends_on"), d.get("boundary"),
            bool(d.get("provisional")),
        )  # fmt: skip
        anchors = [{k: v for k, v in a.items() if k != "difference"} for a in d.get("anchors", [])]
        res.outcome = ex.Outcome(
            verdict,
            d.get("evidence", {}),
            list(d.get("findings", [])),
            [ex.Table(**t) for t in d.get("tables", [])],
            [ex.Anchor(**a) for a in anchors],
        )
        svg = next((out / f for f in res.figure_files if f.endswith(".svg")), None)
        if svg is not None and svg.is_file():
            text = svg.read_text(encoding="utf-8")
            res.figure_svg = text[text.index("<svg") :] if "<svg" in text else None
        return res

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "claim": self.claim,
            "title": self.title,
            "question": self.question,
            "sources": self.sources,
            "verdict": self.verdict if self.outcome else "failed",
            "evidence": self.outcome.evidence if self.outcome else {},
            "setup": self.setup,
            "seconds": round(self.seconds, 2),
            "figures": self.figure_files,
        }
        if self.outcome:
            o = self.outcome.as_dict()
            d["reason"] = o["verdict"]["reason"]
            d["depends_on"] = o["verdict"]["on"]
            d["boundary"] = o["verdict"]["boundary"]
            d["provisional"] = o["verdict"]["provisional"]
            d["findings"] = o["findings"]
            d["anchors"] = o["anchors"]
            d["tables"] = o["tables"]
        else:
            d["error"] = self.error
        if self.full is not None:
            d["full_profile"] = self.full
        return d


FULL_VERDICTS = Path(__file__).with_name("full_verdicts.json")


@functools.cache
def full_verdicts() -> dict[str, Any]:
    """The recorded verdicts of the last full run: ``{"recorded": ..., "claims": {id: ...}}``."""
    try:
        return json.loads(FULL_VERDICTS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def compare_with_full(res: ClaimResult, record: dict[str, Any]) -> None:
    """Set the full profile's recorded verdict beside ``res``; where they differ, ``res``
    becomes provisional: a shorter profile's verdict is full's, or it says it may not be."""
    full = record.get("claims", {}).get(res.id)
    if full is None or res.outcome is None:
        return
    agrees = full["verdict"] == res.verdict
    res.full = {
        "verdict": full["verdict"],
        "provisional": full.get("provisional", False),
        "agrees": agrees,
        **{k: record.get(k) for k in ("recorded", "commit", "machine", "command")},
    }
    if not agrees and not res.outcome.verdict.provisional:
        verdict = dataclasses.replace(res.outcome.verdict, provisional=True)
        res.outcome = dataclasses.replace(res.outcome, verdict=verdict)


def _save_figure(fig: Any, stem: Path) -> tuple[str, list[str]]:
    """Write the figure as SVG and PNG files; return the SVG text (inlined in the page)."""
    import matplotlib.pyplot as plt

    stem.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buf.getvalue()
    stem.with_suffix(".svg").write_text(svg, encoding="utf-8")
    fig.savefig(stem.with_suffix(".png"), dpi=110, bbox_inches="tight")
    plt.close(fig)
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and doctype: inline SVG takes neither
    return svg, [f"figures/{stem.name}.svg", f"figures/{stem.name}.png"]


def run_claim(exp: ex.Experiment, ctx: ex.Context, out: Path) -> ClaimResult:
    """Run one experiment end to end; an exception becomes the result's ``error``."""
    import matplotlib

    matplotlib.use("Agg")
    res = ClaimResult(exp.id, exp.claim, exp.title, exp.question, exp.sources)
    t0 = time.perf_counter()
    try:
        res.setup = exp.setup(ctx.profile)
        data = exp.run(ctx)
        res.outcome = exp.analyse(data)
        fig = exp.figure(data, res.outcome)
        res.figure_svg, res.figure_files = _save_figure(fig, out / "figures" / exp.id)
    except Exception as exc:  # one failing claim must not lose the others
        res.error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    res.seconds = time.perf_counter() - t0
    return res


def build(
    out: str | Path,
    *,
    profile: str = "quick",
    claims: Sequence[str] | None = None,
    fresh: bool = False,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    command: str | None = None,
    log: Callable[[str], None] | None = None,
    progress: bool | None = False,
) -> list[ClaimResult]:
    """Run the experiments (all, or ``claims``) and write the report into ``out``.

    Writes ``out/index.html`` (self-contained), ``out/results.json``,
    ``out/figures/C*.svg|png`` and keeps every trial in ``out/results.db``. Returns the
    claims run now.

    ``out`` is the user's folder: the report is built in a temporary folder inside it
    and moved into place file by file only when it is complete, so a run that fails or
    is interrupted leaves the previous page as it was; a file is replaced by renaming,
    never written through a symlink; with ``claims``, the claims of the previous
    ``results.json`` that are not run now stay in the page when it was made with the
    same profile; ``fresh`` starts over (a page of the claims run now) and removes only
    the store actlab keeps there (``results.db`` and SQLite's files beside it).
    """
    from .store import Store
    from .sweep import worker_pool

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"-o {out}: not a directory")
    out.mkdir(parents=True, exist_ok=True)
    figures = out / "figures"
    if figures.is_symlink() or (figures.exists() and not figures.is_dir()):
        raise ValueError(f"{figures} is not a plain directory: actlab does not write through it")
    store = out / "results.db"
    if fresh:
        for suffix in _STORE_FILES:
            (out / f"results.db{suffix}").unlink(missing_ok=True)
    Store(store).close()  # a damaged store is said now, before any page is replaced
    exps = [ex.get(c) for c in claims] if claims else ex.all_experiments()
    # the previous page's other claims stay only where they are comparable: same
    # profile, and not a fresh start (whose store no longer holds their trials)
    kept = _kept_claims(out, {e.id for e in exps}, profile) if claims and not fresh else []
    say = log or (lambda _line: None)
    t0 = time.perf_counter()
    results = []
    work = Path(tempfile.mkdtemp(prefix=".actlab-report-", dir=out))
    pool = worker_pool(workers) if backend == "local" else None
    try:
        ctx = ex.Context(
            store,
            profile,
            workers=workers,
            backend=backend,
            address=address,
            executor=pool,
            log=say,
            progress=progress,
        )
        for e in exps:
            say(f"{e.id} {e.title} ...")
            r = run_claim(e, ctx, work)
            if profile != "full":
                compare_with_full(r, full_verdicts())
            results.append(r)
            verdict = r.verdict or "FAILED: " + (r.error or "").strip().splitlines()[-1]
            say(f"{e.id} {verdict} ({r.seconds:.1f} s)")
        total = time.perf_counter() - t0
        command = command or f"actlab report -o {out} --profile {profile}"
        order = {e.id: i for i, e in enumerate(ex.all_experiments())}
        page = sorted([*kept, *results], key=lambda r: order.get(r.id, len(order)))
        render(page, work, profile=profile, command=command, seconds=total)
        _move_into_place(work, out)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        shutil.rmtree(work, ignore_errors=True)
    return results


#: The files SQLite and the sweep lock keep beside ``results.db``: what ``fresh`` removes.
_STORE_FILES = ("", "-wal", "-shm", "-journal", ".lock")


def _kept_claims(out: Path, now: set[str], profile: str) -> list[ClaimResult]:
    """The claims of the previous report in ``out`` that are not run now, where that
    report was made with the same ``profile`` (a page states one profile)."""
    try:
        doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
        if doc.get("profile") != profile:
            return []
        return [ClaimResult.from_dict(d, out) for d in doc["claims"] if d["id"] not in now]
    except (OSError, ValueError, KeyError, TypeError):  # none, or not one actlab wrote
        return []


def _move_into_place(work: Path, out: Path) -> None:
    """Rename the finished report's files from ``work`` into ``out``: the figures first,
    index.html last. A rename replaces a symlink itself, never the file it points to."""
    (out / "figures").mkdir(exist_ok=True)
    for f in sorted((work / "figures").glob("*")) if (work / "figures").is_dir() else []:
        os.replace(f, out / "figures" / f.name)
    for name in ("results.json", "index.html"):
        os.replace(work / name, out / name)


def _context(profile: str, command: str, seconds: float) -> dict[str, Any]:
    from ..analysis.machine import describe

    return {
        "profile": profile,
        "command": command,
        "seconds": round(seconds, 1),
        "machine": describe(),
    }


def render(
    results: Sequence[ClaimResult],
    out: str | Path,
    *,
    profile: str,
    command: str,
    seconds: float = 0.0,
) -> Path:
    """Write ``results.json`` and the self-contained ``index.html`` for ``results``."""
    import jinja2

    out = Path(out)
    meta = _context(profile, command, seconds)
    doc = {**meta, "claims": [r.as_dict() for r in results]}
    (out / "results.json").write_text(json.dumps(doc, indent=2, default=_json), encoding="utf-8")
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("actlab.lab", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["brief"] = brief
    env.filters["json"] = lambda v: json.dumps(v, indent=1, default=_json)
    html = env.get_template("report.html.j2").render(
        results=results,
        meta=meta,
        counts={v: sum(r.verdict == v for r in results) for v in (*ex.VERDICTS, None)},
        favicon=base64.b64encode(_FAVICON).decode(),
    )
    path = out / "index.html"
    path.write_text(html, encoding="utf-8")
    return path


def brief(text: str, limit: int = 220) -> str:
    """The start of a verdict's reason, for the summary table: whole clauses up to ``limit``.

    Example:
        >>> brief("A holds (x 1.2); B fails (y 3.4); C too.", limit=20)
        'A holds (x 1.2); …'
    """
    if len(text) <= limit:
        return text
    cut = max(text.rfind("; ", 0, limit), text.rfind(". ", 0, limit), text.rfind(": ", 0, limit))
    if cut < limit // 4:
        cut = text.rfind(" ", 0, limit)
    return text[: cut + 1].rstrip() + " …"


def _json(v: Any) -> Any:
    if hasattr(v, "tolist"):
        return v.tolist()
    return repr(v)


def _num(v: Any, digits: int = 3) -> str:
    """A number for a table cell: ``3 significant digits``, integers as they are."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if v != v:
        return "n/a"
    if v == 0:
        return "0"
    return f"{v:.{digits}g}"


# A 1x1 transparent PNG: a favicon inline, so the browser asks the network for nothing.
_FAVICON = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
