"""The command line of ``python docs/tables.py``: rewrite or check the README's generated
blocks, print one table, list the tables (see the package's docstring)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .placeholders import TABLES, render
from .readme import readme_with_generated
from .results import PlaceholderError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tables of the docs and the README.")
    commands = parser.add_subparsers(dest="command", required=True)
    readme = commands.add_parser("readme", help="rewrite the generated blocks of a README")
    readme.add_argument("path", type=Path)
    readme.add_argument("--check", action="store_true", help="exit 1 if the table is stale")
    show = commands.add_parser("show", help="print one table")
    show.add_argument("name")
    show.add_argument("arguments", nargs="*", help="key=value")
    commands.add_parser("list", help="the table names")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            print("\n".join(TABLES))
        elif args.command == "show":
            pairs = dict(a.partition("=")[::2] for a in args.arguments)
            print(render(args.name, **pairs))
        else:
            current = args.path.read_text()
            fresh = readme_with_generated(current)
            if args.check:
                if fresh != current:
                    print(
                        f"{args.path}: a generated block is stale; run "
                        f"python docs/tables.py readme {args.path}",
                        file=sys.stderr,
                    )
                    return 1
            elif fresh != current:
                args.path.write_text(fresh)
                print(f"{args.path}: generated blocks rewritten")
    except (PlaceholderError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
