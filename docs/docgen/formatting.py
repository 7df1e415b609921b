"""How numbers and tables look: number formats, the best value in bold, pipe tables.

Every table module builds its Markdown from these, so a score reads the same (three
decimals, a real minus sign, rounding of the number as written) on every page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence, Sized
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .results import PlaceholderError

MINUS = "\u2212"  # a real minus sign: a hyphen reads as a dash in tables
NBSP = "\u00a0"  # keeps "12.3 %" on one line


def _signed(text: str) -> str:
    return MINUS + text[1:] if text.startswith("-") else text


def rounded(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` decimals, halves rounded away from zero on the number as
    written: a card's 0.4335 (rounded to four decimals when it was written) shows as 0.434,
    as the full-precision 0.43350... in the results file does, not as binary 0.43349... ."""
    quantum = Decimal(1).scaleb(-decimals)
    text_ = str(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))
    return "0" + text_[2:] if text_.startswith("-0") and not text_.strip("-0.") else text_


def score(value: float) -> str:
    """Scores (IoU, AP, ratios): three decimals."""
    return _signed(rounded(value, 3))


def signed_pct(value: float) -> str:
    """A relative error as a signed percentage: +23.6 %, −2.4 %."""
    shown = rounded(100 * value, 1)
    if float(shown) > 0:
        shown = "+" + shown
    return _signed(shown) + NBSP + "%"


def pct(value: float) -> str:
    """A share as a percentage with one decimal: 98.9 %."""
    return _signed(rounded(100 * value, 1)) + NBSP + "%"


def integer(value: float) -> str:
    """A count, thousands set apart by a narrow space: 6 419."""
    return _signed(f"{round(value):,}".replace(",", "\u202f"))


def length(value: Sized) -> str:
    """How many items a list (or keys a mapping) holds: the 14 of 14 held-out photos."""
    return str(len(value))


def text(value: Any) -> str:
    """The value as it is (a name, a stem)."""
    return str(value)


def fixed(decimals: int) -> Callable[[float], str]:
    """A number with ``decimals`` decimals."""
    return lambda value: _signed(rounded(value, decimals))


def times(decimals: int) -> Callable[[float], str]:
    """A factor: 1.40×."""
    return lambda value: _signed(rounded(value, decimals)) + "×"


def scientific(decimals: int) -> Callable[[float], str]:
    """A small number in scientific notation without the exponent's padding: 3.7e-5."""

    def formatted(value: float) -> str:
        mantissa, exponent = f"{value:.{decimals}e}".split("e")
        return _signed(f"{mantissa}e{int(exponent)}")

    return formatted


FORMATS: dict[str, Callable[[Any], str]] = {
    "score": score,
    "signed_pct": signed_pct,
    "pct": pct,
    "int": integer,
    "len": length,
    "text": text,
}


def formatter(name: str) -> Callable[[Any], str]:
    """The format called ``name``: one of ``FORMATS``, ``fN``, ``xN`` or ``eN``."""
    if name in FORMATS:
        return FORMATS[name]
    if match := re.fullmatch(r"([fxe])(\d)", name):
        return {"f": fixed, "x": times, "e": scientific}[match[1]](int(match[2]))
    raise PlaceholderError(f"unknown format {name!r} (known: {', '.join(FORMATS)}, fN, xN, eN)")


def bold(cell: str) -> str:
    return f"**{cell}**" if cell else cell


def best_marked(
    values: Sequence[float | None],
    fmt: Callable[[float], str],
    best: str | None = None,
    compete: Sequence[bool] | None = None,
) -> list[str]:
    """The formatted cells, the best in bold.

    ``best`` is ``"max"``, ``"min"`` or ``"absmin"`` (the error closest to zero), or None for
    no bold. Only cells whose ``compete`` flag is set take part (a reference row does not).
    Cells that show the same text as the best one are bold too: a reader cannot tell a tie
    at the shown precision from a win.
    """
    cells = ["" if v is None else fmt(v) for v in values]
    compete = [True] * len(values) if compete is None else compete
    candidates = [(v, i) for i, v in enumerate(values) if v is not None and compete[i]]
    if best is None or not candidates:
        return cells
    key = {"max": lambda v: -v, "min": lambda v: v, "absmin": abs}[best]
    winner = min(candidates, key=lambda vi: key(vi[0]))[0]
    shown = fmt(abs(winner)) if best == "absmin" else fmt(winner)
    for value, i in candidates:
        if (fmt(abs(value)) if best == "absmin" else fmt(value)) == shown:
            cells[i] = bold(cells[i])
    return cells


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A pipe table; columns of numbers right-aligned, so their decimals line up."""
    rows = [list(row) for row in rows]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row {row[:1]} has {len(row)} cells for {len(header)} columns")
    numeric = re.compile(r"^(\*\*)?[-+\u2212]?\d")
    aligns = ["---"] + [
        "---:"
        if all(numeric.match(row[i]) for row in rows if row[i]) and any(row[i] for row in rows)
        else "---"
        for i in range(1, len(header))
    ]
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("| " + " | ".join(aligns) + " |")
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class Column:
    """One numeric column: its header, where its value sits in a row record, its format, and
    which value is best (None: no bold)."""

    label: str
    key: str | Callable[[dict[str, Any]], float | None]
    fmt: Callable[[Any], str] = score
    best: str | None = None

    def value(self, record: dict[str, Any]) -> float | None:
        if callable(self.key):
            return self.key(record)
        value = record.get(self.key)
        return None if value is None else float(value)


def records_table(
    first: str,
    rows: Sequence[tuple[str, dict[str, Any]]],
    columns: Sequence[Column],
    compete: Sequence[bool] | None = None,
    drop_empty: bool = True,
) -> str:
    """A table of one row per (label, record) and one column per ``Column``; columns that no
    record fills are left out when ``drop_empty``."""
    kept = [c for c in columns if not drop_empty or any(c.value(r) is not None for _, r in rows)]
    body = [[label] for label, _ in rows]
    for column in kept:
        cells = best_marked([column.value(r) for _, r in rows], column.fmt, column.best, compete)
        for row, cell in zip(body, cells, strict=True):
            row.append(cell)
    return markdown_table([first] + [c.label for c in kept], body)


def code(textual: str) -> str:
    return f"`{textual}`"


def scales_text(scales: Sequence[float]) -> str:
    """0.8,1,1.25 as on the command line."""
    return ",".join(f"{s:g}" for s in scales)
