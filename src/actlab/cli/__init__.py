"""The ``actlab`` command line. It only formats what the library returns.

Each command group lives in its own module here and adds its subcommands in
``register(subparsers)``; :data:`COMMAND_MODULES` lists them in help order.

Exit codes: 0 success; 2 usage error, unknown name, bad path or damaged file (with a
message naming it); 3 a check failed (for example the audit found an activation outside
its bounds); 130 interrupted (Ctrl-C; finished work is kept).
"""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import sys
from collections.abc import Sequence

from .. import __version__, functions

EXIT_OK, EXIT_USAGE, EXIT_FAIL = 0, 2, 3
#: Interrupted (Ctrl-C): 128 + SIGINT, as shells report it.
EXIT_INTERRUPTED = 130

#: Modules of this package that contribute subcommands, in the order of ``actlab --help``.
COMMAND_MODULES = ["report", "catalogue", "sweep", "props", "plot", "diagnose", "bench"]


def print_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], fmt: str
) -> None:
    """Print rows as a rich table on a terminal, or as Markdown when ``fmt == "markdown"``."""
    if fmt == "markdown":
        print("| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns))
        for r in rows:
            print("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*[str(c) for c in r])
    Console(width=max(160, Console().width)).print(t)


def load_plugins(modules: Sequence[str] = ()) -> None:
    """Import user modules that register activations: ``--import`` ones and the
    ``actlab.activations`` entry-point group of installed packages."""
    import importlib
    from importlib.metadata import entry_points

    for ep in entry_points(group="actlab.activations"):
        ep.load()
    for mod in modules:
        try:
            importlib.import_module(mod)
        except ImportError as exc:
            raise ValueError(f"cannot import {mod!r} (from --import): {exc}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actlab", description="Activation functions, exact, and the claims about them tested."
    )
    parser.add_argument("--version", action="version", version=f"actlab {__version__}")
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (where your @actlab.register activations live); repeatable",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        load_plugins(args.imports)
        return int(args.func(args))
    except (functions.UnknownActivationError, functions.InvalidParameterError, ValueError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a path that is missing, read-only or full: name it
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"Error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.Error as exc:  # a results store that cannot be written (a full disk)
        print(f"Error: the results store could not be read or written: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        # every finished trial and measurement is already committed to its store, and a
        # report's page is only replaced once complete
        print(
            "interrupted; the finished work is kept: run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
