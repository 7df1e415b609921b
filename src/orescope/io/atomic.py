"""Every output is written under a temporary name and renamed once complete: a run killed at
any point leaves no half-written file under a name that looks finished (a rename within a
folder is atomic on POSIX and Windows file systems)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd


def partial_name(path: Path) -> Path:
    """The temporary name of ``path`` while it is written: hidden, beside it, and with its
    suffix, so that writers which choose the format by the suffix still can."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary name to write ``path`` (a file or a folder such as a zarr store) under;
    renamed onto ``path`` when the block ends, removed when it raises, and the folder made.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "out" / "table.csv") as partial:
    ...     _ = partial.write_text("a,b\\n1,2\\n")
    ...     sorted(p.name for p in partial.parent.iterdir())
    ['.table.partial.csv']
    >>> sorted(p.name for p in (folder / "out").iterdir())
    ['table.csv']
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_name(path)
    _remove(partial)  # a killed earlier run's leftover
    try:
        yield partial
    except BaseException:
        _remove(partial)
        raise
    if partial.is_dir():
        _remove(path)  # a rename cannot replace a folder that is not empty
    os.replace(partial, path)


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as partial:
        partial.write_text(text, encoding="utf-8")


def write_table(path: str | Path, table: pd.DataFrame, index: bool = False) -> None:
    """Write ``table`` as CSV to ``path`` atomically (without its index unless ``index``)."""
    with atomic_path(path) as partial:
        table.to_csv(partial, index=index)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
