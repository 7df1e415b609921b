"""The one exception type users see: it names the file and the reason in one line."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input that a user can fix: a file that cannot be read, a wrong shape, an absurd scale."""

    def __init__(self, source: str | Path | None, reason: str) -> None:
        self.source = str(source) if source is not None else None
        self.reason = reason
        super().__init__(f"{self.source}: {reason}" if self.source else reason)
