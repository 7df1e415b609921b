"""What a run has finished, kept in its output folder, so that a killed run resumes where it
stopped (``predict ... --resume``).

``manifest.jsonl`` holds one JSON line naming the run's settings (a hash of its
``config.yaml``), then one line per input whose outputs are all written: its path, size and
SHA-256 (of a folder input, of its files), and the output folder's name. A line is appended
only after the input's last output has been renamed into place (every output is written
atomically, :mod:`orescope.io.atomic`), and flushed to disk; a line cut short by a kill is
ignored, so that input is done again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from orescope.errors import InputError
from orescope.io import write_text

MANIFEST = "manifest.jsonl"


def input_digest(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of an input's bytes: a file's, or a folder's files' (a stack of
    slices, a zarr store) in the order of their sorted names, each name hashed with them."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as opened:
            digest.update(hashlib.file_digest(opened, "sha256").digest())
    return sum(file.stat().st_size for file in files), digest.hexdigest()


class Manifest:
    """The finished inputs of the run in ``out`` with settings ``config_text`` (those that
    change the results: not the workers they run on).

    A new run writes a fresh manifest. ``resume`` keeps the entries of an earlier run with the
    same settings; an earlier run with other settings is refused, resumed or not, rather than
    mixed with this one's outputs."""

    def __init__(self, out: Path, config_text: str, resume: bool) -> None:
        self.path = out / MANIFEST
        self.config = hashlib.sha256(config_text.encode()).hexdigest()
        self.entries: dict[str, dict] = {}
        lines = _complete_lines(self.path) if self.path.exists() else []
        if lines and lines[0].get("config") != self.config:
            raise InputError(
                out,
                "holds the outputs of a run with other settings (see its config.yaml): "
                "choose another output folder",
            )
        if resume:
            self.entries = {entry["name"]: entry for entry in lines[1:]}
        # rewritten whole: without a line cut short, or the entries of a run started afresh
        header = json.dumps({"config": self.config})
        write_text(
            self.path,
            "\n".join([header, *(json.dumps(e) for e in self.entries.values())]) + "\n",
        )

    def finished(self, source: Path, name: str) -> bool:
        """Whether ``source`` was finished into the folder ``name`` and has not changed."""
        entry = self.entries.get(name)
        if entry is None or entry["input"] != str(source) or not source.exists():
            return False
        return [entry["bytes"], entry["sha256"]] == list(input_digest(source))

    def record(self, source: Path, name: str, **result: object) -> None:
        """Note ``source`` as finished into the folder ``name``, with any small ``result`` the
        run's tables need that its outputs do not hold (JSON values); on disk before
        returning."""
        size, digest = input_digest(source)
        entry = {"input": str(source), "name": name, "bytes": size, "sha256": digest}
        entry["result"] = result
        self.entries[name] = entry
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps(entry) + "\n")
            file.flush()
            os.fsync(file.fileno())


def _complete_lines(path: Path) -> list[dict]:
    """The manifest's JSON lines, without a last line cut short by a kill."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return lines
