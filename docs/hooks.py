"""mkdocs hooks: the pages' placeholders become tables and numbers from the committed results.

mkdocs loads this file by its path (``hooks:`` in mkdocs.yml), not as part of a package, so
``docs/tables.py`` next to it is loaded by path as well. The placeholder syntax is described
in ``docs/tables.py``; an unknown table, file, key or format stops the build with the page
and line, never a silently empty table. Nothing here imports torch: the docs build stays
light.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

HERE = Path(__file__).resolve().parent


def _load_tables() -> Any:
    """docs/tables.py as the module ``orescope_docs_tables`` (registered before it runs:
    its dataclasses look their module up in sys.modules)."""
    name = "orescope_docs_tables"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


tables = _load_tables()

# figures the benches write next to their JSON, served from there (no copy to go stale)
FIGURES = ("quartz_radar.png", "quartz_curves.png")
FIGURE_DIR = "assets/bench"


def on_config(config: Any) -> Any:
    """`mkdocs serve` rebuilds when a result or a card changes, not only a page."""
    for path in (tables.RESULTS, tables.ZOO):
        if str(path) not in config.watch:
            config.watch.append(str(path))
    return config


def on_files(files: Files, config: Any) -> Files:
    """The bench figures as site files under assets/bench/ (pages link ../assets/bench/...)."""
    for figure in FIGURES:
        path = tables.RESULTS / figure
        if not path.is_file():
            raise PluginError(f"bench figure {path} is missing")
        files.append(File.generated(config, f"{FIGURE_DIR}/{figure}", abs_src_path=str(path)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """The page with its ``table``, ``card`` and ``value`` placeholders filled in."""
    src_uri = page.file.src_uri
    try:
        return str(tables.expand(markdown, root=tables.root_of(src_uri), where=src_uri))
    except tables.PlaceholderError as error:
        raise PluginError(f"docs placeholder: {error}") from None
