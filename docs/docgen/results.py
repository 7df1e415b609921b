"""Reading the committed results and the model cards: the one place that opens files.

Every table and value reads ``bench/results/*.json`` (and training histories,
``*_history.csv``), ``src/orescope/zoo/*/card.yaml`` or a Python file's literal constants
through here, so each file is parsed once per version of it,
and a missing file or key fails with :class:`PlaceholderError`, which names what does exist.
"""

from __future__ import annotations

import ast
import csv
import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
ZOO = ROOT / "src" / "orescope" / "zoo"


class PlaceholderError(ValueError):
    """A placeholder, table argument or key path names something that does not exist."""


@lru_cache(maxsize=64)
def _parsed(path: Path, modified_ns: int) -> Any:
    """A JSON or YAML file, parsed once per version of it (the page build asks for the same
    files many times; `mkdocs serve` still sees a re-run bench). Callers must not modify it."""
    if path.suffix == ".json":
        return json.loads(path.read_text())
    if path.suffix == ".csv":  # a training run's history.csv: one row per epoch
        return list(csv.DictReader(path.read_text().splitlines()))
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(), Loader=loader)


def _read(path: Path) -> Any:
    return _parsed(path, path.stat().st_mtime_ns)


def results(name: str) -> dict[str, Any]:
    """The results file ``bench/results/NAME.json`` (``.json`` may be given)."""
    path = RESULTS / f"{name.removesuffix('.json')}.json"
    if not path.is_file():
        raise PlaceholderError(f"no results file {path.relative_to(ROOT)}")
    data: dict[str, Any] = _read(path)
    return data


def history(run: str) -> list[dict[str, str]]:
    """The per-epoch rows of ``bench/results/RUN_history.csv``, a copy of a training run's
    ``history.csv``."""
    path = RESULTS / f"{run}_history.csv"
    if not path.is_file():
        raise PlaceholderError(f"no training history {path.relative_to(ROOT)}")
    rows: list[dict[str, str]] = _read(path)
    return rows


def card(name: str) -> dict[str, Any]:
    """The zoo card ``src/orescope/zoo/NAME/card.yaml`` as plain YAML.

    Read without ``orescope.zoo.ModelCard`` on purpose: the docs build must not import torch,
    and the card schema may change under it (see :mod:`training`).
    """
    path = ZOO / name / "card.yaml"
    if not path.is_file():
        raise PlaceholderError(f"no zoo model {name!r} ({path.relative_to(ROOT)} is missing)")
    data: dict[str, Any] = _read(path)
    return data


def source(name: str) -> dict[str, Any]:
    """A placeholder's ``FILE``: ``card/NAME`` for a zoo card, ``py/PATH`` for the literal
    constants of a Python file of the repository, else a results file's stem."""
    if name.startswith("card/"):
        return card(name.removeprefix("card/"))
    if name.startswith("py/"):
        return constants(name.removeprefix("py/"))
    return results(name)


def dig(data: Any, path: Sequence[str], where: str = "") -> Any:
    """``data[path[0]][path[1]]...``; list items by their index. A missing key raises,
    naming the keys that do exist, so a typo in a page fails the build readably."""
    node = data
    for depth, key in enumerate(path):
        if isinstance(node, dict):
            if key in node:
                node = node[key]
                continue
            matches = [k for k in node if str(k) == key]  # YAML keys may be numbers
            if matches:
                node = node[matches[0]]
                continue
        elif (
            isinstance(node, list)
            and key.lstrip("-").isdigit()
            and -len(node) <= int(key) < len(node)
        ):
            node = node[int(key)]
            continue
        at = ".".join(path[:depth]) or "the top level"
        has = (
            ", ".join(map(repr, list(node)[:12])) if isinstance(node, dict) else type(node).__name__
        )
        raise PlaceholderError(f"{where}: no key {key!r} under {at} (there: {has})")
    return node


def constants(path: str) -> dict[str, Any]:
    """The literal module-level constants (``NAME = <literal>``) of a Python file of the
    repository, read without importing it (the package imports torch)."""
    file = ROOT / path
    if not file.is_file() or file.suffix != ".py":
        raise PlaceholderError(f"no Python file {path}")
    found: dict[str, Any] = {}
    for node in ast.parse(file.read_text()).body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    try:
                        found[target.id] = ast.literal_eval(node.value)
                    except ValueError:
                        continue
    return found


def bench_constant(script: str, name: str) -> Any:
    """A literal constant of a bench script."""
    return dig(constants(f"bench/{script}"), [name], f"bench/{script}")
