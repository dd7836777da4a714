"""``actlab report``: run the experiment of every claim and write the HTML report."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from . import EXIT_FAIL, EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from ..lab import report
    from ..lab.experiments import PROFILES

    if args.profile not in PROFILES:
        raise ValueError(f"--profile must be one of {', '.join(PROFILES)}; got {args.profile!r}")
    claims = [c.strip() for c in args.claims.split(",") if c.strip()] if args.claims else None

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    results = report.build(
        args.out,
        profile=args.profile,
        claims=claims,
        fresh=args.fresh,
        backend=args.backend,
        workers=args.workers,
        address=args.address,
        command="actlab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if sys.argv and sys.argv[0].endswith("actlab")
        else None,
        log=log,
        progress=None,
    )
    failed = [r.id for r in results if r.outcome is None]
    shown = _claims_on_page(args.out)
    kept = f"; {shown - len(results)} kept from the previous report" if shown > len(results) else ""
    print(
        f"wrote {args.out}/index.html and {args.out}/results.json "
        f"({len(results)} claim{'s' * (len(results) != 1)} run now{kept})"
    )
    for r in results:
        v = r.verdict or "FAILED"
        extra = " (provisional)" if r.outcome and r.outcome.verdict.provisional else ""
        print(f"  {r.id:>4} {v}{extra}")
    if failed:
        print(f"failed: {', '.join(failed)} (the report shows their errors)", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def _claims_on_page(out: str) -> int:
    try:
        return len(json.loads(Path(out, "results.json").read_text(encoding="utf-8"))["claims"])
    except (OSError, ValueError, KeyError):
        return 0


def register(sub: Any) -> None:
    """Add ``actlab report``."""
    p = sub.add_parser(
        "report",
        help="test every claim (C1-C18) and write an HTML report with the verdicts",
        description="Run one experiment per claim of the register and write OUT/index.html, "
        "OUT/results.json and OUT/figures/. Stored results in OUT/results.db are reused.",
    )
    p.add_argument("-o", "--out", default="report", help="output directory (default: report)")
    p.add_argument(
        "--profile",
        default="quick",
        help="quick (default, about 10 minutes on 2 cores), full (more seeds, epochs, depths), "
        "or smoke (seconds; for tests)",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="discard stored results and run again (the page then shows only the claims run)",
    )
    p.add_argument("--claims", help="only these claims, e.g. C1,C5")
    p.add_argument("--backend", choices=["local", "ray"], default="local")
    p.add_argument("--workers", type=int, help="parallel training processes (default: all cores)")
    p.add_argument("--address", help="Ray cluster address (with --backend ray)")
    p.set_defaults(func=cmd_report)
