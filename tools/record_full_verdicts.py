"""Keep a full report's verdicts with the package, for the quick report to compare against.

``actlab report --profile full`` takes about an hour on 2 cores, so the quick report
(the README's ``make report``) cannot run it; it reads the verdicts recorded here
instead, sets each beside its own and marks its own provisional where they differ
(``actlab.lab.report.compare_with_full``). Run this after a full report, on the commit
whose experiments produced it:

    actlab report -o full-report --profile full
    python tools/record_full_verdicts.py full-report/results.json

It writes ``src/actlab/lab/full_verdicts.json``: per claim the verdict and whether it
was provisional, with the report's date, machine and command and the current commit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "src" / "actlab" / "lab" / "full_verdicts.json"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", type=Path, help="results.json of a --profile full report")
    p.add_argument("-o", "--out", type=Path, default=TARGET)
    p.add_argument("--commit", help="the commit that produced the report (default: HEAD)")
    args = p.parse_args()
    doc = json.loads(args.results.read_text(encoding="utf-8"))
    if doc.get("profile") != "full":
        raise SystemExit(f"{args.results} is a {doc.get('profile')!r} report, not a full one")
    failed = [c["id"] for c in doc["claims"] if c["verdict"] == "failed"]
    if failed:
        raise SystemExit(f"{args.results}: these claims failed, record a complete run: {failed}")
    commit = (
        args.commit
        or subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    )
    mtime = args.results.stat().st_mtime
    machine = doc.get("machine", {})
    record = {
        "recorded": time.strftime("%Y-%m-%d", time.gmtime(mtime)),
        "commit": commit or "unknown",
        "machine": f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores",
        "command": doc.get("command"),
        "claims": {
            c["id"]: {"verdict": c["verdict"], "provisional": bool(c.get("provisional"))}
            for c in doc["claims"]
        },
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(record['claims'])} verdicts from {args.results}")


if __name__ == "__main__":
    main()
