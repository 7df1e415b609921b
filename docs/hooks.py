"""mkdocs hooks: the pages' placeholders become tables and numbers from the committed results.

mkdocs loads this file by its path (``hooks:`` in mkdocs.yml), not as part of a package, so
the folder it is in (docs/) goes on ``sys.path`` for the table generator ``docgen`` next to
it. The placeholder syntax is described in ``docs/docgen/placeholders.py``; an unknown
table, file, key or format stops the build with the page and line, never a silently empty
table. Nothing here imports torch: the docs build stays light.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from docgen import placeholders, results  # noqa: E402  (needs docs/ on sys.path)

# figures the benches write next to their JSON, served from there (no copy to go stale)
FIGURES = ("quartz_radar.png", "quartz_curves.png")
FIGURE_DIR = "assets/bench"


def on_config(config: Any) -> Any:
    """`mkdocs serve` rebuilds when a result or a card changes, not only a page."""
    for path in (results.RESULTS, results.ZOO):
        if str(path) not in config.watch:
            config.watch.append(str(path))
    return config


def on_files(files: Files, config: Any) -> Files:
    """The bench figures as site files under assets/bench/ (pages link ../assets/bench/...)."""
    for figure in FIGURES:
        path = results.RESULTS / figure
        if not path.is_file():
            raise PluginError(f"bench figure {path} is missing")
        files.append(File.generated(config, f"{FIGURE_DIR}/{figure}", abs_src_path=str(path)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """The page with its ``table``, ``card`` and ``value`` placeholders filled in."""
    src_uri = page.file.src_uri
    try:
        root = placeholders.root_of(src_uri)
        return placeholders.expand(markdown, root=root, where=src_uri)
    except results.PlaceholderError as error:
        raise PluginError(f"docs placeholder: {error}") from None
