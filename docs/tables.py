"""The command line of the docs' table generator, the package ``docgen`` next to this file
(its docstring lists the commands)::

    python docs/tables.py readme README.md [--check] | show NAME [key=value ...] | list

A script, not a module: ``docs/`` is no package, so this puts ``docs/`` on ``sys.path`` to
import ``docgen`` wherever it is run from (and when run by path, as a test does).
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = str(Path(__file__).resolve().parent)
if DOCS not in sys.path:
    sys.path.insert(0, DOCS)

from docgen.cli import main  # noqa: E402  (needs docs/ on sys.path)

if __name__ == "__main__":
    sys.exit(main())
