"""``actlab sweep run|status|export``: grids of training runs, resumable, into SQLite."""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import EXIT_FAIL, EXIT_OK, print_table


def cmd_run(args: argparse.Namespace) -> int:
    from ..lab import sweep

    report = sweep.run(
        args.file,
        store=args.store,
        backend=args.backend,
        workers=args.workers,
        address=args.address,
        imports=args.imports,
    )
    st = sweep.status(args.file, args.store or sweep.default_store(args.file))
    print(
        f"sweep {args.file}: {report.completed} trials run, {report.skipped} already complete, "
        f"{report.failed} failed, {report.requeued} re-queued from an interrupted run "
        f"({report.seconds:.1f} s); {st['done']}/{st['total']} done"
    )
    for err in report.errors[:5]:
        print(f"  failure: {err}")
    return EXIT_FAIL if report.failed else EXIT_OK


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
