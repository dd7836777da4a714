"""``actlab sweep run|status|export``: grids of training runs, resumable, into SQLite."""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import EXIT_FAIL, EXIT_OK, print_table


def cmd_run(args: argparse.Namespace) -> int:
    from ..lab import sweep

    n = sweep.trial_count(args.file)
    if n > sweep.MAX_TRIALS_UNASKED and not args.yes:
        raise ValueError(
            f"{args.file}: its grid makes {n:,} trials (more than "
            f"{sweep.MAX_TRIALS_UNASKED:,}); check the grid lists, or add --yes to run them"
        )
    report = sweep.run(
        args.file,
        store=args.store,
        backend=args.backend,
        workers=args.workers,
        address=args.address,
        imports=args.imports,
        retry_failed=args.retry_failed,
    )
    st = sweep.status(args.file, args.store or sweep.default_store(args.file))
    retried = f", {report.retried} failed trials re-queued" if report.retried else ""
    print(
        f"sweep {args.file}: {report.completed} trials run, {report.skipped} already complete, "
        f"{report.failed} failed, {report.requeued} re-queued from an interrupted run{retried} "
        f"({report.seconds:.1f} s); {st['done']}/{st['total']} done"
    )
    for err in report.errors[:5]:
        print(f"  failure: {err}")
    if st["failed"] and not report.failed:
        print(
            f"  {st['failed']} trials failed in an earlier run and were not run again; "
            "after fixing their cause, `actlab sweep run --retry-failed` re-runs them"
        )
    _say_stale(st)
    # failed trials left in the grid, from this run or an earlier one: not complete
    return EXIT_FAIL if report.failed or st["failed"] else EXIT_OK


def _say_stale(st: dict[str, int]) -> None:
    if st.get("stale"):
        print(
            f"  {st['stale']} stored trials are no longer in the grid (not counted above; "
            "they stay in the store)"
        )


def cmd_status(args: argparse.Namespace) -> int:
    from ..lab import sweep

    st = sweep.status(args.file, args.store or sweep.default_store(args.file))
    if args.format == "json":
        print(json.dumps(st))
    else:
        print_table(
            f"sweep {args.file}",
            ["done", "pending", "failed", "total"],
            [[str(st[k]) for k in ("done", "pending", "failed", "total")]],
            args.format,
        )
        _say_stale(st)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from ..lab import sweep

    n = sweep.export_csv(args.file, args.csv, args.store or sweep.default_store(args.file))
    print(f"wrote {n} rows to {args.csv}")
    return EXIT_OK


def register(sub: Any) -> None:
    """Add ``actlab sweep`` and its subcommands."""
    p = sub.add_parser("sweep", help="run, inspect and export grids of training runs")
    ss = p.add_subparsers(dest="sweep_command", metavar="SUBCOMMAND", required=True)

    r = ss.add_parser("run", help="run every trial not yet complete (resumes after a crash)")
    r.add_argument("file", help="sweep TOML file")
    r.add_argument("--store", help="SQLite results file (default: FILE with .db)")
    r.add_argument("--backend", choices=["local", "ray"], default="local")
    r.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel chunks (default: all cores; 1 runs in this process)",
    )
    r.add_argument("--address", help="Ray cluster address (ray backend)")
    r.add_argument(
        "--yes",
        action="store_true",
        help=f"run a grid of more than {10_000:,} trials (refused without it)",
    )
    r.add_argument(
        "--retry-failed",
        action="store_true",
        help="run the trials that failed in an earlier run again (after fixing the cause)",
    )
    r.set_defaults(func=cmd_run)

    s = ss.add_parser("status", help="counts of done, pending and failed trials")
    s.add_argument("file")
    s.add_argument("--store")
    s.add_argument("--format", choices=["table", "markdown", "json"], default="table")
    s.set_defaults(func=cmd_status)

    e = ss.add_parser("export", help="one CSV row per finished trial")
    e.add_argument("file")
    e.add_argument("--store")
    e.add_argument("--csv", required=True, help="output CSV file")
    e.set_defaults(func=cmd_export)
