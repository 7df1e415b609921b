"""Markdown tables for the docs and the README, generated from the committed results.

Every benchmark number on the site is read from ``bench/results/*.json`` and every model fact
from ``src/orescope/zoo/*/card.yaml`` here, so re-running a bench (or re-scoring a model)
updates the pages and the README's zoo table without anyone retyping a number. The functions
are pure: they read files and return Markdown. ``TABLES`` maps the names that pages use in
placeholders to them; :func:`expand` substitutes the placeholders (the mkdocs hook
``docs/hooks.py`` calls it for every page):

``<!-- table: NAME [key=value ...] -->``
    on a line of its own: the table ``NAME`` of ``TABLES``, called with the keyword arguments.
``<!-- card: NAME -->``
    on a line of its own: the whole page of the zoo model ``NAME``, rendered from its card.
``<!-- value: FILE:PATH[:FORMAT] -->``
    inline: one number. ``FILE`` is a results file's stem (``particle_models``),
    ``card/NAME``, or ``py/PATH`` for the literal constants of a repository Python file (a
    method's fixed thresholds, read without importing it). ``PATH`` is keys joined by dots,
    list items by index (``-1`` the last); a key holding a dot, a colon or a space is quoted
    ``"..."``. ``FORMAT`` is one of ``FORMATS`` or ``fN`` (N decimals), ``xN`` (N decimals
    and ×), ``eN`` (scientific); default ``score``. References joined by `` / ``, `` - ``,
    `` + `` or `` * `` (spaces around) give their quotient, difference, sum or product, left
    to right; the format then ends the last one. Example::

        <!-- value: particle_models:gravel."particles (zoo)".ap50:score -->

A name, file, key or format that does not exist raises :class:`PlaceholderError`: a page never
shows a blank where a number should be.

Command line (from the repository root)::

    python docs/tables.py readme README.md          # rewrite README.md's generated blocks
    python docs/tables.py readme README.md --check  # exit 1 when one of them is stale
    python docs/tables.py show NAME [key=value ...] # print one table
    python docs/tables.py list                      # the table names
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import posixpath
import re
import shlex
import sys
from collections.abc import Callable, Iterable, Sequence, Sized
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
ZOO = ROOT / "src" / "orescope" / "zoo"
MINUS = "\u2212"  # a real minus sign: a hyphen reads as a dash in tables
NBSP = "\u00a0"  # keeps "12.3 %" on one line
README_CARD_LINK = "src/orescope/zoo/{name}/card.yaml"


class PlaceholderError(ValueError):
    """A placeholder, table argument or key path names something that does not exist."""


# --------------------------------------------------------------------------------------------
# Reading the results and the cards


@lru_cache(maxsize=64)
def _parsed(path: Path, modified_ns: int) -> Any:
    """A JSON or YAML file, parsed once per version of it (the page build asks for the same
    files many times; `mkdocs serve` still sees a re-run bench). Callers must not modify it."""
    if path.suffix == ".json":
        return json.loads(path.read_text())
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


def card(name: str) -> dict[str, Any]:
    """The zoo card ``src/orescope/zoo/NAME/card.yaml`` as plain YAML.

    Read without ``orescope.zoo.ModelCard`` on purpose: the docs build must not import torch,
    and the card schema may change under it (see :func:`training_markdown`).
    """
    path = ZOO / name / "card.yaml"
    if not path.is_file():
        raise PlaceholderError(f"no zoo model {name!r} ({path.relative_to(ROOT)} is missing)")
    data: dict[str, Any] = _read(path)
    return data


def zoo_names() -> list[str]:
    """The zoo's models, in the order of ``HEADLINES`` (every zoo model must have one)."""
    present = sorted(p.parent.name for p in ZOO.glob("*/card.yaml"))
    missing = [name for name in present if name not in HEADLINES]
    if missing:
        raise PlaceholderError(
            f"zoo model(s) {', '.join(missing)} have no entry in HEADLINES (docs/tables.py)"
        )
    return [name for name in HEADLINES if name in present]


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


# --------------------------------------------------------------------------------------------
# Formatting


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


# --------------------------------------------------------------------------------------------
# Particles: paper 000's table, the classical methods, the border-core decoding

COMPARISON_MODELS = ("RA-UNet++", "U-Net")  # paper 000's equal-budget models: papers page
VARIANTS = (" + TTA", " + size given")  # prediction options, in prose on the papers page
PARTICLE_DATA = {
    "synthetic": "held-out synthetic scenes",
    "gravel": "held-out real gravel",
    "conveyor": "held-out conveyor crops",
}
ERROR_COLUMNS = [
    Column("P50 error (count)", "count_P50_error", signed_pct, "absmin"),
    Column("P50 error (mass)", "mass_P50_error", signed_pct, "absmin"),
]
INSTANCE_COLUMNS = [
    Column("η", "eta", score, "max"),
    Column("AP@0.5", "ap50", score, "max"),
    Column("merger", "merger_ratio", score, "min"),
    Column("splitter", "splitter_ratio", score, "min"),
]
PIXEL_COLUMNS = [
    Column("ACC", "accuracy"),
    Column("MIoU", "mean_iou"),
    Column("F1", "f1"),
]
SPEED_COLUMN = Column("s/MP", "seconds_per_mp", fixed(2))


def particle_label(key: str) -> str:
    """A particle_models.json row name as a reader knows the options."""
    base, _, variant = key.partition(" + ")
    label = code("particles") if base == "particles (zoo)" else base
    if variant == "TTA":
        return f"{label} + `--tta`"
    if variant.startswith("scales "):
        return f"{label} + `--scales {variant.removeprefix('scales ')}`"
    if variant == "size given":
        return f"{label}, size given (`--particle-px`)"
    return f"{label} + {variant}" if variant else label


def _particle_data(data: str) -> dict[str, Any]:
    table = results("particle_models")
    if data not in table:
        raise PlaceholderError(f"particle_models.json has no data set {data!r} ({list(table)})")
    rows: dict[str, Any] = table[data]
    return rows


def particle_models(data: str = "gravel") -> str:
    """Paper 000 Table 2 on our data: classical methods and the zoo model (every row of
    particle_models.json but the equal-budget comparison models) on one held-out set."""
    rows = [
        (particle_label(key), record)
        for key, record in _particle_data(data).items()
        if not key.startswith(COMPARISON_MODELS)
    ]
    columns = PIXEL_COLUMNS + INSTANCE_COLUMNS + ERROR_COLUMNS + [SPEED_COLUMN]
    return records_table("method", rows, columns)


def paper000(data: str = "synthetic") -> str:
    """Paper 000's comparison at an equal budget: RA-UNet++ and U-Net, foreground and
    border-core targets, on one held-out set; the zoo model below them for reference."""
    records = _particle_data(data)
    rows = [
        (key, record)
        for key, record in records.items()
        if key.startswith(COMPARISON_MODELS) and not key.endswith(VARIANTS)
    ]
    compete = [True] * len(rows)
    if "particles (zoo)" in records:
        rows.append(
            ("zoo `particles` (its longer schedule; for reference)", records["particles (zoo)"])
        )
        compete.append(False)
    columns = [
        Column("AP@0.5", "ap50", score, "max"),
        Column("η", "eta", score, "max"),
        Column("merger", "merger_ratio"),
        Column("splitter", "splitter_ratio"),
        SPEED_COLUMN,
    ]
    return records_table("model", rows, columns, compete)


def classical_particles() -> str:
    """Otsu and ThreshWater on synthetic scenes and all the gravel images
    (classical_particles.json)."""
    data = results("classical_particles")
    names = {"synthetic": "synthetic belt scenes", "gravel": "real gravel, all images"}
    methods = {"otsu": "Otsu", "threshwater": "ThreshWater"}
    rows = []
    for data_key, label in names.items():
        for method, method_label in methods.items():
            rows.append((f"{label}: {method_label}", dig(data, [data_key, method], "classical")))
    columns = [
        Column("particles per image (reference)", "n_truth", fixed(0)),
        Column("found", "n_pred", fixed(0)),
        Column("AP@0.5", "ap50"),
        Column("F1_match", "f1_match"),
        Column("merger", "merger_ratio"),
        Column("splitter", "splitter_ratio"),
        Column("P50 error (mass)", "mass_P50_error", signed_pct),
        Column("P80 error (mass)", "mass_P80_error", signed_pct),
    ]
    return records_table("data: method", rows, columns)


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


def border_core_decoding() -> str:
    """Seed threshold and smallest seed of the border-core decoding: the mean AP@0.5 on the
    training images that chooses the pair, and the held-out synthetic targets it must keep."""
    data = results("border_core_decoding")
    targets: dict[str, tuple[float, float]] = bench_constant(
        "border_core_decoding.py", "SYNTHETIC_TARGETS"
    )
    chosen = data["chosen"]
    gravel, conveyor = data["training gravel"], data["training conveyor crops"]
    synthetic = data["held-out synthetic"]
    body = []
    means = []
    kept_flags = []
    for key in synthetic:
        threshold, seed = key.split()
        row = synthetic[key]
        kept = all(low <= round(row[s], 3) <= high for s, (low, high) in targets.items())
        mean = (gravel[key]["ap50"] + conveyor[key]["ap50"]) / 2
        means.append(mean)
        kept_flags.append(kept)
        is_chosen = [float(threshold), int(seed)] == chosen
        label = f"{threshold}, {seed} px" + (" (chosen)" if is_chosen else "")
        body.append(
            [
                bold(label) if is_chosen else label,
                score(gravel[key]["ap50"]),
                score(conveyor[key]["ap50"]),
                score(row["eta"]),
                score(row["merger_ratio"]),
                score(row["splitter_ratio"]),
                "yes" if kept else "no",
            ]
        )
    for row, cell in zip(body, best_marked(means, score, "max", kept_flags), strict=True):
        row.insert(3, cell)
    header = [
        "core threshold, smallest seed",
        "AP@0.5 training gravel",
        "AP@0.5 training conveyor crops",
        "mean of the two",
        "η synthetic",
        "merger synthetic",
        "splitter synthetic",
        "keeps the synthetic targets",
    ]
    names = {"eta": "η", "merger_ratio": "merger", "splitter_ratio": "splitter"}
    rule = ", ".join(
        f"{low:g} ≤ {names.get(s, s)} ≤ {high:g}" for s, (low, high) in targets.items()
    )
    return (
        markdown_table(header, body)
        + f"\n\nSynthetic targets (held-out scenes, rounded to three decimals): {rule}. "
        "Bold: the best mean among the pairs that keep them."
    )


# --------------------------------------------------------------------------------------------
# Mineral maps

# rows of section_models.json scored with a zoo model under another name
ROW_MODELS = {
    "lumenstone_more": "lumenstone_zscore",
    "thinsection_scales": "thinsection",
}
PREDICT_DEFAULTS = {"ore_type": "auto", "refine_px": 8, "tta": False, "scales": [1.0]}


def row_model(key: str) -> str:
    """The model a section_models.json row was scored with: its name before the options."""
    base = key.split(" (", 1)[0].split(",", 1)[0]
    return ROW_MODELS.get(key, ROW_MODELS.get(base, base))


def settings_label(record: dict[str, Any]) -> str:
    """The `predict minerals` options a row differs from the defaults by."""
    parts = []
    ore_type = record.get("ore_type", "auto")
    if ore_type != PREDICT_DEFAULTS["ore_type"]:
        parts.append(code(f"--ore-type {ore_type}"))
    refine = record.get("refine_px", 0)
    if refine != PREDICT_DEFAULTS["refine_px"]:
        parts.append(code(f"--refine-px {refine}"))
    if record.get("tta"):
        parts.append(code("--tta"))
    scales = record.get("scales", [1.0])
    if list(scales) != PREDICT_DEFAULTS["scales"]:
        parts.append(code(f"--scales {scales_text(scales)}"))
    return " ".join(parts) if parts else "defaults"


def iou_columns(records: Iterable[dict[str, Any]], best: str | None = "max") -> list[Column]:
    """One IoU column per class present in any record, in the records' order."""
    classes: dict[str, None] = {}
    for record in records:
        classes.update(dict.fromkeys(record.get("iou", {})))
    return [Column(name, partial(_iou, name=name), score, best) for name in classes]


def _iou(record: dict[str, Any], name: str) -> float | None:
    value = record.get("iou", {}).get(name)
    return None if value is None else float(value)


SECTION_HEAD = [
    Column("mIoU", "miou", score, "max"),
    Column("pixel accuracy", "pixel_accuracy", score, "max"),
]


def section_rows(model: str = "lumenstone", dataset: str = "lumenstone") -> str:
    """A zoo mineral model on the held-out images of section_models.json, one row per
    `predict minerals` setting: mIoU, pixel accuracy and the IoU of every class."""
    table = dig(results("section_models"), [dataset], "section_models")
    rows = [
        (settings_label(record), record) for key, record in table.items() if row_model(key) == model
    ]
    if not rows:
        raise PlaceholderError(f"section_models.json has no {dataset} rows of {model!r}")
    rows.sort(key=lambda row: row[0] != "defaults")
    return records_table("settings", rows, SECTION_HEAD + iou_columns(r for _, r in rows))


def ore_type_votes(dataset: str = "lumenstone") -> str:
    """Which ore type each model's vote gave the held-out photos, against their true series
    (the ``--ore-type given`` row of section_models.json)."""
    table = dig(results("section_models"), [dataset], "section_models")
    truth = next((r["ore_types"] for r in table.values() if r.get("ore_type") == "given"), None)
    if truth is None:
        raise PlaceholderError(f"section_models.json has no --ore-type given row for {dataset}")
    body = []
    seen: set[str] = set()
    for key, record in table.items():
        model = row_model(key)
        if record.get("ore_type") != "auto" or not record.get("ore_types") or model in seen:
            continue
        seen.add(model)
        votes = record["ore_types"]
        wrong = [
            f"{stem} ({votes[stem]}, is {truth[stem]})"
            for stem in votes
            if votes[stem] != truth[stem]
        ]
        right = len(votes) - len(wrong)
        body.append([code(model), f"{right} of {len(votes)}", ", ".join(wrong) or "none"])
    return markdown_table(["model", "photos given their true series", "voted wrong"], body)


def section_refine() -> str:
    """mIoU, pixel accuracy and class IoU of lumenstone on its training photos for each
    edge-refinement radius (section_refine.json); radii as columns, best of each row bold."""
    table = dig(results("section_refine"), ["lumenstone"], "section_refine")
    records = sorted(table.values(), key=lambda r: r["refine_px"])
    metrics = SECTION_HEAD + iou_columns(records)
    body = []
    for column in metrics:
        label = column.label if column in SECTION_HEAD else f"{column.label} IoU"
        body.append([label, *best_marked([column.value(r) for r in records], score, "max")])
    header = ["`--refine-px`", *(str(r["refine_px"]) for r in records)]
    return markdown_table(header, body)


def section_tiles() -> str:
    """mIoU / pixel accuracy of the section models in tiles of several sides
    (section_tiles.json), the best mIoU of each row bold. lumenstone_zscore's own tile on the
    held-out photos comes from section_models.json, scored the same way (every class allowed,
    the model's own borders), marked †."""
    data = results("section_tiles")
    groups: dict[str, dict[int, dict[str, Any]]] = {}
    for dataset in data.values():
        for key, record in dataset.items():
            name = key.rsplit(", tile ", 1)[0]
            groups.setdefault(name, {})[int(record["tile"])] = record
    # the card's own tile, scored by section_models.py under the same conditions
    extra = {
        ("lumenstone_zscore, held-out photos", 512): (
            "lumenstone",
            "lumenstone_zscore (--ore-type any)",
        ),
    }
    marked: set[tuple[str, int]] = set()
    models = results("section_models")
    for (name, tile), (dataset, key) in extra.items():
        if name in groups and tile not in groups[name]:
            record = dig(models, [dataset, key], "section_models")
            if record.get("tile") != tile or record.get("ore_type") != "any":
                raise PlaceholderError(f"section_models.json {key!r} is not at tile {tile}")
            groups[name][tile] = record
            marked.add((name, tile))
    tiles = sorted({tile for group in groups.values() for tile in group})
    body = []
    for name, group in groups.items():
        records = [group.get(t) for t in tiles]
        mious = [None if r is None else r["miou"] for r in records]
        cells = best_marked(mious, score, "max")
        row = [name]
        for tile, record, cell in zip(tiles, records, cells, strict=True):
            if record is None:
                row.append("")
                continue
            accuracy = score(record["pixel_accuracy"])
            shown = f"{cell} / {accuracy}"
            row.append(shown + (" †" if (name, tile) in marked else ""))
        body.append(row)
    header = ["model, images", *(f"tile {t}" for t in tiles)]
    return markdown_table(header, body)


THIN_LABELS = {
    "thinsection_ppl": "PPL only, PSPNet (`configs/thinsection_ppl.yaml`)",
    "thinsection_unet": "PPL + XPL, U-Net (`thinsection`, `configs/thinsection_unet.yaml`)",
}


def _quartz(record: dict[str, Any], key: str) -> float | None:
    value = record.get("one_vs_rest", {}).get(key)
    return None if value is None else float(value)


def xpl_vs_ppl() -> str:
    """What the XPL channels add: the PPL-only PSPNet against the PPL + XPL U-Net of the zoo
    on the held-out thin sections, both with their own borders."""
    table = dig(results("section_models"), ["thinsections"], "section_models")
    rows = [(label, dig(table, [key], "section_models")) for key, label in THIN_LABELS.items()]
    columns = [
        *SECTION_HEAD,
        Column("quartz F1", lambda r: _quartz(r, "f1"), score, "max"),
        *iou_columns(r for _, r in rows),
    ]
    return records_table("input, network", rows, columns)


def thinsection_quartz() -> str:
    """Quartz against the rest (paper 001's suite) for the zoo's thinsection: held-out rows of
    section_models.json, and its training sections (thinsection_training_sections.json)."""
    table = dig(results("section_models"), ["thinsections"], "section_models")
    rows = [
        (f"held-out: {settings_label(r)}", r)
        for key, r in table.items()
        if row_model(key) == "thinsection" and "one_vs_rest" in r
    ]
    rows.sort(key=lambda row: row[0] != "held-out: defaults")
    compete = [True] * len(rows)
    for key, record in results("thinsection_training_sections")["thinsections"].items():
        rows.append((f"{key}: {settings_label(record)}", record))
        compete.append(False)
    names = {
        "accuracy": "accuracy",
        "precision": "precision",
        "recall": "recall",
        "f1": "F1",
        "specificity": "specificity",
        "auc": "AUC",
        "iou": "IoU",
        "iou_background_left_out": "IoU, background left out",
    }
    columns = [
        Column(label, partial(_quartz, key=key), score, "max") for key, label in names.items()
    ]
    return records_table("images, settings", rows, columns, compete)


def colour_lut() -> str:
    """How much the colour alone tells: a colour-lookup classifier on raw and on per-image
    z-scored colours (colour_lut.json)."""
    data = results("colour_lut")
    rows = []
    for name, record in data.items():
        rows.append(
            [
                f"{name} ({length(record['held_out'])} held-out images)",
                score(record["raw colours"]["miou"]),
                score(record["per-image z-scored colours"]["miou"]),
                score(record["raw colours"]["pixel_accuracy"]),
                score(record["per-image z-scored colours"]["pixel_accuracy"]),
            ]
        )
    header = [
        "data set",
        "mIoU, raw colours",
        "mIoU, z-scored",
        "pixel accuracy, raw",
        "pixel accuracy, z-scored",
    ]
    return markdown_table(header, rows)


def class_balance(dataset: str = "lumenstone") -> str:
    """Share of each class among the pixels in the masks, in random patches and in paper 003's
    class-balanced patches (class_balance.json)."""
    data = dig(results("class_balance"), ["results", dataset], "class_balance")
    shares = data["shares"]
    body = []
    absent = []
    for i, name in enumerate(data["classes"]):
        values = [shares[kind][i] for kind in ("masks", "random", "balanced")]
        if not any(values):
            absent.append(name)
            continue
        body.append([name, *(pct(v) for v in values)])
    ratio = data["rarest_over_commonest"]
    body.append(
        [
            "rarest ÷ commonest class present",
            *(score(ratio[k]) for k in ("masks", "random", "balanced")),
        ]
    )
    table = markdown_table(
        ["class", "in the masks", "random patches", "class-balanced patches"], body
    )
    if absent:
        table += f"\n\nIn no mask: {', '.join(absent)}."
    return table


def colour_correction() -> str:
    """mIoU of the held-out LumenStone photos as taken, re-lit (mild, strong) and re-lit then
    colour-corrected, for both LumenStone models (colour_correction*.json); in each row the
    better model in bold."""
    files = {
        "lumenstone": results("colour_correction"),
        "lumenstone, calibrated on the other photos": results("colour_correction_last6"),
        "lumenstone_zscore": results("colour_correction_zscore"),
    }
    first = files["lumenstone"]["results"]
    body = []
    for condition in first:
        cells = {name: dig(data, ["results", condition], name) for name, data in files.items()}
        better = best_marked(
            [cells["lumenstone"]["miou"], cells["lumenstone_zscore"]["miou"]], score, "max"
        )
        body.append(
            [
                condition,
                better[0],
                pct(cells["lumenstone"]["kept"]),
                score(cells["lumenstone, calibrated on the other photos"]["miou"]),
                pct(cells["lumenstone, calibrated on the other photos"]["kept"]),
                better[1],
                pct(cells["lumenstone_zscore"]["kept"]),
            ]
        )
    header = [
        "photos",
        "`lumenstone` mIoU",
        "share kept",
        "`lumenstone`, calibrated on the other photos",
        "share kept",
        "`lumenstone_zscore` mIoU",
        "share kept",
    ]
    return markdown_table(header, body)


# --------------------------------------------------------------------------------------------
# Paper reproductions

QUARTZ_MODELS = {"pspnet": "PSPNet", "unet": "U-Net", "fpn": "FPN", "linknet": "LinkNet"}


def quartz_comparison() -> str:
    """Paper 001's comparison: four architectures trained alike, quartz against the rest on
    the held-out thin sections (quartz_comparison.json), best of each column bold."""
    data = results("quartz_comparison")
    rows = [(QUARTZ_MODELS.get(key, key), record) for key, record in data.items()]
    names = {
        "accuracy": "accuracy",
        "precision": "precision",
        "recall": "recall",
        "f1": "F1",
        "specificity": "specificity",
        "auc": "AUC",
        "iou": "IoU",
    }
    columns = [Column(label, key, score, "max") for key, label in names.items()]
    return records_table("model", rows, columns)


SECTION_COMPARISON = {"lumenstone_pspnet": "PSPNet", "lumenstone_upernet": "UPerNet"}


def section_comparison() -> str:
    """Paper 003's PSPNet and UPerNet at the same budget on the held-out LumenStone photos
    (section_models.json), best of each column bold."""
    table = dig(results("section_models"), ["lumenstone"], "section_models")
    rows = [
        (label, dig(table, [key], "section_models")) for key, label in SECTION_COMPARISON.items()
    ]
    return records_table("model", rows, SECTION_HEAD + iou_columns(r for _, r in rows))


# --------------------------------------------------------------------------------------------
# Speed and memory


def particle_throughput() -> str:
    """`predict particles` end to end against the bare forward pass, and on a large image
    (particle_throughput.json)."""
    data = results("particle_throughput")
    run, memory = data["throughput"], data["memory"]

    def rate(mp_per_s: float) -> str:
        return f"{fixed(2)(mp_per_s)} MP/s ({fixed(2)(1 / mp_per_s)} s per megapixel)"

    workers = integer(run["workers"])
    body = [
        [
            f"`predict particles` end to end, {workers} workers (the default: one per core), "
            f"{fixed(1)(run['megapixels'])} MP of synthetic scenes",
            rate(run["end_to_end_mp_per_s"]),
        ],
        ["the same with `--workers 1`", rate(run["one_worker_mp_per_s"])],
        [
            f"bare model forward pass over the same {integer(run['tiles'])} tiles",
            rate(run["forward_mp_per_s"]),
        ],
        [
            "end to end ÷ forward pass",
            f"{fixed(2)(run['ratio'])} with {workers} workers, "
            f"{fixed(2)(run['ratio_one_worker'])} with one",
        ],
        ["the model's share of the one-worker run", pct(run["model_share_of_one_worker_run"])],
        [
            "a longer run (the scenes twice over), its second pass",
            f"{rate(run['steady_mp_per_s'])}, {fixed(2)(run['ratio_steady'])} of the forward pass",
        ],
        [
            "fixed cost of a run (workers' start, PSD plot and report, the last image's wait)",
            f"{fixed(2)(run['fixed_seconds'])} s",
        ],
        [
            f"one {integer(memory['width'])} × {integer(memory['height'])} image "
            f"({fixed(0)(memory['width'] * memory['height'] / 1e6)} MP)",
            f"{fixed(0)(memory['seconds'])} s, "
            f"peak resident memory {fixed(2)(memory['peak_gb'])} GB",
        ],
    ]
    return markdown_table(["measurement", "result"], body)


def particle_stages() -> str:
    """Where one worker's time goes on one scene, one thread (particle_throughput.json)."""
    stages = results("particle_throughput")["stages"]
    body = [[name, fixed(2)(s["seconds"]), pct(s["share"])] for name, s in stages.items()]
    return markdown_table(["stage", "seconds", "share"], body)


SECTION_THROUGHPUT = (
    "section_throughput",
    "section_throughput_unrefined",
    "section_throughput_scales",
)


def section_throughput() -> str:
    """`predict minerals` on a panorama: time and peak memory with the default settings, the
    model's own borders and --scales (section_throughput*.json)."""
    rows = []
    for name in SECTION_THROUGHPUT:
        record = results(name)
        label = f"{code(record['model'])}: {settings_label(record)}"
        rows.append((label, record))
    columns = [
        Column("panorama (MP)", lambda r: r["width"] * r["height"] / 1e6, fixed(0)),
        Column("seconds", "seconds", fixed(0)),
        Column("s per megapixel", "seconds_per_megapixel", fixed(2)),
        Column("peak memory (GB)", "peak_gb", fixed(2)),
        Column("grains measured", "grains", integer),
    ]
    return records_table("run", rows, columns)


def model_layout() -> str:
    """Forward time of each zoo model in PyTorch's default and channels-last layouts, and
    training speed in both (model_layout.json)."""
    data = results("model_layout")
    rows = [(code(name), record) for name, record in data.items()]
    columns = [
        Column("forward, default layout (ms)", "nchw_ms", fixed(0)),
        Column("forward, channels-last (ms)", "channels_last_ms", fixed(0)),
        Column("speed-up", "speed_up", times(2)),
        Column("largest output difference", "max_abs_difference", scientific(1)),
        Column("training, default layout (patches/s)", "train_nchw_patches_per_s", fixed(1)),
        Column("training, channels-last (patches/s)", "train_last_patches_per_s", fixed(1)),
    ]
    return records_table("model", rows, columns)


# --------------------------------------------------------------------------------------------
# The zoo


@dataclass(frozen=True)
class Headline:
    """What a zoo model does, and the one held-out score the zoo table shows for it: metric
    ``metric`` of the card's metrics section that starts with ``section`` and carries no
    option (no "with --tta", "edges not refined", "ore type any", ...): the defaults."""

    job: str
    section: str
    metric: str
    label: str


HEADLINES: dict[str, Headline] = {
    "particles": Headline(
        "touching particles on a belt or in gravel → one label per particle, sized in mm "
        "(default of `predict particles`)",
        "held-out real gravel",
        "ap50",
        "AP@0.5",
    ),
    "lumenstone": Headline(
        "polished sections in reflected light → mineral map of {classes} classes; reads "
        "absolute colours, so calibrate photos of another microscope (default of "
        "`predict minerals`)",
        "held-out lumenstone",
        "miou",
        "mIoU",
    ),
    "lumenstone_zscore": Headline(
        "the same for photos that cannot be calibrated: each photo normalised by its own "
        "statistics",
        "held-out lumenstone",
        "miou",
        "mIoU",
    ),
    "thinsection": Headline(
        "sandstone thin sections, PPL + XPL → mineral map of {classes} classes",
        "held-out thinsections",
        "miou",
        "mIoU",
    ),
}
# words that mark a metrics section measured with other than the default settings
VARIANT_MARKERS = (
    "with --",
    "edges not refined",
    "ore type",
    "scales",
    "tta",
    "vs rest",
    "tile",
)


def default_section(metrics: dict[str, dict[str, float]], prefix: str, where: str) -> str:
    """The title of the one metrics section that starts with ``prefix`` and names no option."""
    found = [
        title
        for title in metrics
        if title.startswith(prefix)
        and not any(marker in title.lower() for marker in VARIANT_MARKERS)
    ]
    if len(found) != 1:
        raise PlaceholderError(
            f"{where}: {len(found)} default metrics sections start with {prefix!r} "
            f"(sections: {list(metrics)})"
        )
    return found[0]


def condense(title: str, longest: int = 4) -> str:
    """A section title with a long parenthesised list of images cut to its count and ends:
    "held-out lumenstone (14 images: 03, 09, …, a59), full resolution"."""

    def cut(match: re.Match[str]) -> str:
        items = [item.strip() for item in match[1].split(",")]
        if len(items) <= longest:
            return match[0]
        return f"({len(items)} images: {items[0]}, {items[1]}, …, {items[-1]})"

    return re.sub(r"\(([^()]*)\)", cut, title)


def weights_mb(name: str) -> float:
    """Size of the model's weights file in MB (10⁶ bytes), from the file itself."""
    path = ZOO / name / "model.safetensors"
    if not path.is_file():
        raise PlaceholderError(f"{path.relative_to(ROOT)} is missing")
    return path.stat().st_size / 1e6


def headline(name: str) -> tuple[str, float, str]:
    """(metric label, value, what it was measured on) of a zoo model's headline score."""
    spec = HEADLINES[name]
    metrics = card(name).get("metrics") or {}
    title = default_section(metrics, spec.section, f"card {name}")
    value = dig(metrics, [title, spec.metric], f"card {name}")
    return spec.label, float(value), condense(title)


def _listed(title: str) -> tuple[set[str], bool]:
    """The items of a title's first parenthesised list, and whether it lists them as
    excluded ("all but ...")."""
    match = re.search(r"\(([^()]*)\)", title)
    if not match:
        return set(), False
    inner = match[1].strip()
    excluded = inner.startswith("all but ")
    items = {item.strip() for item in inner.removeprefix("all but ").split(",")}
    return items, excluded


def chose_epoch_on(name: str, title: str) -> bool:
    """Whether the images of the metrics section ``title`` are also the kept epoch's
    validation images (the last round's ``validation_data``): then its score is a validation
    number. Cards without a recorded validation set say nothing, and count as not."""
    rounds = (card(name).get("training") or {}).get("rounds") or []
    validation = str(rounds[-1].get("validation_data") or "") if rounds else ""
    scored, _ = _listed(title)
    listed, excluded = _listed(validation)
    if not scored or not listed:
        return False
    return not (scored & listed) if excluded else bool(scored & listed)


def job(name: str) -> str:
    """What the model does, with its class count from the card."""
    return HEADLINES[name].job.format(classes=len(card(name).get("class_names") or []))


def zoo(link: str = "{root}models/{name}.md", root: str = "") -> str:
    """The zoo: name (linked to its card or page), job, weights size, and the headline
    held-out score with the data it was measured on. ``link`` is a template with ``{name}``
    (and ``{root}``, the way from the page to the docs root, filled in by the hook);
    the README passes ``README_CARD_LINK``."""
    body = []
    for name in zoo_names():
        label, value, data = headline(name)
        title = default_section(card(name).get("metrics") or {}, HEADLINES[name].section, name)
        target = link.format(name=name, root=root)
        body.append(
            [
                f"[`{name}`]({target})",
                job(name),
                f"{fixed(1)(weights_mb(name))} MB",
                f"{label} {score(value)} on {data}"
                + (
                    "; a validation number: these images also chose the kept epoch"
                    if chose_epoch_on(name, title)
                    else ""
                ),
            ]
        )
    return markdown_table(["model", "what it does", "weights", "held-out score (defaults)"], body)


# --------------------------------------------------------------------------------------------
# A model's page, from its card

METRIC_NAMES = {
    "ap50": "AP@0.5",
    "ap75": "AP@0.75",
    "ap90": "AP@0.9",
    "eta": "η (share of reference particles matched)",
    "merger_ratio": "merger ratio",
    "splitter_ratio": "splitter ratio",
    "f1_match": "F1_match",
    "accuracy": "accuracy",
    "pixel_accuracy": "pixel accuracy",
    "mean_iou": "mIoU (background and particles)",
    "miou": "mIoU (classes present)",
    "f1": "F1",
    "count_P50_error": "P50 error (count basis)",
    "mass_P50_error": "P50 error (mass basis)",
    "seconds_per_mp": "seconds per megapixel",
    "iou": "IoU",
    "iou_background_left_out": "IoU, background pixels left out",
    "auc": "AUC",
    "precision": "precision",
    "recall": "recall",
    "specificity": "specificity",
}


def metric_name(key: str) -> str:
    """A card's metric key as a reader says it: val_ap50 → validation AP@0.5."""
    if key.startswith("val_"):
        rest = key.removeprefix("val_")
        return "validation " + ("foreground IoU" if rest == "iou" else metric_name(rest))
    if key.startswith("iou "):
        return f"IoU {key.removeprefix('iou ')}"
    return METRIC_NAMES.get(key, key.replace("_", " "))


def metric_format(key: str) -> Callable[[float], str]:
    if key.endswith("_error"):
        return signed_pct
    if key.startswith("seconds"):
        return fixed(2)
    return score


def _split_title(title: str) -> tuple[str, list[str], str]:
    """A metrics title as (what was measured, options, kind of score): the text up to the
    first parenthesised list, the comma-separated parts after it, and any ": suffix"."""
    head, _, suffix = title.partition(": ")
    match = re.match(r"^(.*?\))(.*)$", head)
    base, rest = (match[1], match[2]) if match else (head, "")
    parts = [p.strip(" ,") for p in rest.split(", ") if p.strip(" ,")]
    return base, parts, suffix


def metrics_markdown(metrics: dict[str, dict[str, float]]) -> str:
    """Every metrics section of a card; sections of the same data (and kind of score) side by
    side, one column per setting, so the effect of an option reads along a row."""
    groups: dict[tuple[str, str], list[tuple[list[str], dict[str, float]]]] = {}
    for title, values in metrics.items():
        base, parts, suffix = _split_title(title)
        groups.setdefault((base, suffix), []).append((parts, values))
    blocks = []
    for (base, suffix), sections in groups.items():
        common = 0
        while (
            all(len(p) > common for p, _ in sections) and len({p[common] for p, _ in sections}) == 1
        ):
            common += 1
        if len(sections) == 1:
            common = len(sections[0][0])
        caption = ", ".join([base, *sections[0][0][:common]]) + (f": {suffix}" if suffix else "")
        headers = [", ".join(p[common:]) or "defaults" for p, _ in sections]
        if len(sections) == 1:
            headers = ["value"]
        keys: dict[str, None] = {}
        for _, values in sections:
            keys.update(dict.fromkeys(values))
        body = []
        for key in keys:
            fmt = metric_format(key)
            cells = [fmt(values[key]) if key in values else "" for _, values in sections]
            body.append([metric_name(key), *cells])
        blocks.append(f"### {condense(caption)}\n\n" + markdown_table(["metric", *headers], body))
    return "\n\n".join(blocks)


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{round(c):02x}" for c in rgb)


def swatch(rgb: Sequence[float]) -> str:
    """A small square of the colour and its hex code."""
    colour = _hex(rgb)
    return (
        f'<span style="display:inline-block;width:1em;height:1em;background:{colour};'
        f'border:1px solid #888;vertical-align:middle"></span> `{colour}`'
    )


def shared_path(path: str) -> str:
    """A data path as the repository sees it: ../shared/data/..., whoever trained."""
    marker = "shared/data/"
    return "../" + marker + path.split(marker, 1)[1] if marker in path else path


def sources_markdown(data: Sequence[dict[str, Any]]) -> str:
    """The training sources of a config: kind, where, what was left out, share of patches."""
    body = []
    for source_ in data:
        extra = []
        if "scale" in source_:
            extra.append(f"resampled ×{source_['scale']:g}")
        if "count" in source_:
            extra.append(f"{source_['count']} scenes, seed {source_.get('seed', '')}")
        scene = source_.get("scene") or {}
        if scene:
            extra.append(", ".join(f"{k} {v}" for k, v in scene.items()))
        vary = source_.get("vary") or {}
        if vary:
            ranges = ", ".join(f"{k} {v[0]:g}–{v[1]:g}" for k, v in vary.items())
            extra.append(f"varied per scene: {ranges}")
        if "stems" in source_:
            extra.append("only " + ", ".join(map(str, source_["stems"])))
        weight = source_.get("weight")
        body.append(
            [
                code(str(source_.get("kind", ""))),
                code(shared_path(str(source_["path"]))) if "path" in source_ else "generated",
                ", ".join(map(str, source_.get("exclude") or [])) or "none",
                pct(weight) if weight is not None else "",
                "; ".join(extra),
            ]
        )
    return markdown_table(["source", "where", "held out", "share of patches", "details"], body)


def training_markdown(training: dict[str, Any]) -> str:
    """How the model was trained. Cards from orescope 0.4 on hold ``description`` and a list
    of ``rounds`` (oldest first); older cards one flat round (command, init, epochs, data)."""
    parts = []
    if training.get("description"):
        parts.append(str(training["description"]))
    rounds = training.get("rounds")
    if rounds:
        body = []
        for number, round_ in enumerate(rounds, 1):
            validation = round_.get("validation") or {}
            scores = ", ".join(
                f"{metric_name(k)} {metric_format(k)(v)}" for k, v in validation.items()
            )
            if scores and round_.get("validation_data"):
                scores += f" ({round_['validation_data']})"
            body.append(
                [
                    str(number),
                    code(str(round_.get("config") or round_.get("command") or "")),
                    str(round_.get("init") or "scratch"),
                    str(round_.get("epochs") or ""),
                    str(round_.get("best_epoch") or ""),
                    str(round_.get("patches_per_epoch") or ""),
                    scores,
                    str(round_.get("notes") or ""),
                ]
            )
        header = [
            "round",
            "command",
            "started from",
            "epochs",
            "best epoch",
            "patches per epoch",
            "validation (kept epoch)",
            "notes",
        ]
        parts.append(markdown_table(header, body))
        if rounds[-1].get("data"):
            parts.append("Data of the last round:\n\n" + sources_markdown(rounds[-1]["data"]))
    else:
        facts = []
        if training.get("command"):
            facts.append(["command", code(str(training["command"]))])
        if "init" in training:
            facts.append(["started from", str(training.get("init") or "scratch")])
        if training.get("epochs") is not None:
            facts.append(["epoch kept (last round)", str(training["epochs"])])
        if facts:
            parts.append(markdown_table(["", "last round"], facts))
        if training.get("data"):
            parts.append("Data of the last round:\n\n" + sources_markdown(training["data"]))
    return "\n\n".join(parts) or "The card records no training."


NORMALISATION = {
    "image_zscore": "every image by its own channel mean and standard deviation",
    "dataset": "by the training images' channel statistics (the absolute colour counts)",
}
TARGETS = {
    "border_core": "border-core: background, particle core, particle border of {border_px} px",
    "foreground": "foreground: one channel, split into particles afterwards",
    "classes": "classes: one output per class",
}


def card_page(name: str, root: str = "") -> str:
    """A zoo model's page: job, headline, architecture, inputs, classes and colours, ore
    types, training history and every metrics section of its card. ``root``: the way from
    the page to the docs root, for its links."""
    data = card(name)
    architecture = data.get("architecture") or {}
    label, value, measured = headline(name)
    title = default_section(data.get("metrics") or {}, HEADLINES[name].section, name)
    caveat = (
        " These images were also the training run's validation, by which the kept epoch was "
        "chosen: a validation number, slightly optimistic "
        "(see [Data splits]({root}benchmarks/index.md#data-splits))."
        if chose_epoch_on(name, title)
        else ""
    )
    out = [
        f"# `{name}`",
        f"{job(name)[0].upper()}{job(name)[1:]}.",
        f"Held-out score with the default settings: {label} **{score(value)}** on {measured}."
        + caveat.format(root=root),
        f"Weights: `src/orescope/zoo/{name}/model.safetensors`, {fixed(1)(weights_mb(name))} MB; "
        f"card: `src/orescope/zoo/{name}/card.yaml`.",
    ]
    options = architecture.get("options") or {}
    rows = [
        ["network", code(str(architecture.get("name")))],
        ["encoder", code(str(architecture.get("encoder")))],
        [
            "pretrained encoder weights",
            str(architecture.get("encoder_weights") or "none (from scratch)"),
        ],
    ]
    for key, option in options.items():
        shown = ", ".join(map(str, option)) if isinstance(option, list) else str(option)
        rows.append([f"option `{key}`", shown])
    target = str(data.get("target"))
    rows.append(["output", TARGETS.get(target, target).format(border_px=data.get("border_px"))])
    out += ["## Architecture", markdown_table(["", ""], rows)]

    channels = int(data.get("in_channels", 3))
    normalisation = str(data.get("normalisation", "image_zscore"))
    inputs = [
        [
            "channels",
            f"{channels} ({'PPL RGB + XPL RGB registered onto PPL' if channels == 6 else 'RGB'})",
        ],
        ["normalisation", f"`{normalisation}`: {NORMALISATION.get(normalisation, '')}"],
    ]
    if data.get("channel_mean"):
        inputs.append(
            ["channel mean (0–255)", ", ".join(fixed(1)(v) for v in data["channel_mean"])]
        )
        inputs.append(["channel std (0–255)", ", ".join(fixed(1)(v) for v in data["channel_std"])])
    inputs.append(["input scale", f"×{data.get('input_scale', 1.0):g} of the image's resolution"])
    inputs.append(["inference tile", f"{data.get('tile')} px of the model's input"])
    if data.get("particle_px"):
        inputs.append(
            [
                "particle size",
                f"images resampled so their median particle is {data['particle_px']:g} px across",
            ]
        )
    if data.get("reference_saturation"):
        inputs.append(
            ["reference saturation (colour calibration)", fixed(2)(data["reference_saturation"])]
        )
    out += ["## Inputs", markdown_table(["", ""], inputs)]

    classes = data.get("class_names") or []
    colours = data.get("class_colours") or []
    references = {str(k): v for k, v in (data.get("reference_colours") or {}).items()}
    header = ["index", "class"]
    if colours:
        header.append("map colour")
    if references:
        header.append("mean colour in the training images")
    body = []
    for index, class_name in enumerate(classes):
        row = [str(index), class_name]
        if colours:
            row.append(swatch(colours[index]) if index < len(colours) else "")
        if references:
            reference = references.get(str(index))
            row.append(swatch(reference) if reference else "not in the training images")
        body.append(row)
    out += ["## Classes", markdown_table(header, body)]

    ore_types = data.get("ore_types") or {}
    if ore_types:
        out += [
            "## Ore types",
            "`predict minerals --ore-type auto` gives each image the type whose own minerals "
            "hold most of the model's probability; each pixel then gets one of that type's "
            "minerals or the background.",
            markdown_table(
                ["ore type", "minerals"], [[t, ", ".join(m)] for t, m in ore_types.items()]
            ),
        ]
    out += ["## Training", training_markdown(data.get("training") or {})]
    metrics = data.get("metrics") or {}
    if metrics:
        out += [
            "## Metrics",
            "Every score on the card, by the data it was measured on; a column per setting.",
            metrics_markdown(metrics),
        ]
    return "\n\n".join(out)


# --------------------------------------------------------------------------------------------
# Registry and placeholders

TABLES: dict[str, Callable[..., str]] = {
    "zoo": zoo,
    "card": card_page,
    "particle_models": particle_models,
    "classical_particles": classical_particles,
    "border_core_decoding": border_core_decoding,
    "paper000": paper000,
    "section_rows": section_rows,
    "ore_type_votes": ore_type_votes,
    "section_refine": section_refine,
    "section_tiles": section_tiles,
    "xpl_vs_ppl": xpl_vs_ppl,
    "thinsection_quartz": thinsection_quartz,
    "colour_lut": colour_lut,
    "class_balance": class_balance,
    "colour_correction": colour_correction,
    "quartz_comparison": quartz_comparison,
    "section_comparison": section_comparison,
    "particle_throughput": particle_throughput,
    "particle_stages": particle_stages,
    "section_throughput": section_throughput,
    "model_layout": model_layout,
}


def render(name: str, /, **arguments: str) -> str:
    """The table ``name`` with its keyword arguments; unknown names and arguments raise.
    A ``root`` argument reaches only the tables that take one."""
    if name not in TABLES:
        raise PlaceholderError(f"unknown table {name!r} (known: {', '.join(TABLES)})")
    function = TABLES[name]
    accepted = inspect.signature(function).parameters
    if "root" in arguments and "root" not in accepted:
        arguments = {k: v for k, v in arguments.items() if k != "root"}
    unknown = [key for key in arguments if key not in accepted]
    if unknown:
        raise PlaceholderError(
            f"table {name!r} takes no argument {', '.join(unknown)} (it takes: "
            f"{', '.join(accepted) or 'none'})"
        )
    return function(**arguments)


def _outside_quotes(text: str, pattern: str) -> list[re.Match[str]]:
    """Matches of ``pattern`` in ``text`` that are not inside "..."."""
    return [m for m in re.finditer(pattern, text) if text.count('"', 0, m.start()) % 2 == 0]


def _split(text: str, pattern: str) -> list[str]:
    pieces, start = [], 0
    for match in _outside_quotes(text, pattern):
        pieces.append(text[start : match.start()])
        start = match.end()
    return [*pieces, text[start:]]


def _unquote(key: str) -> str:
    key = key.strip()
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key


def _reference(operand: str, where: str) -> tuple[Any, str | None]:
    """The value of ``FILE:PATH[:FORMAT]`` and its format (None when not given)."""
    parts = _split(operand.strip(), r":")
    if len(parts) not in (2, 3) or not parts[0].strip() or not parts[1].strip():
        raise PlaceholderError(f"{where}: expected FILE:PATH[:FORMAT], got {operand.strip()!r}")
    path = [_unquote(key) for key in _split(parts[1].strip(), r"\.")]
    value = dig(source(parts[0].strip()), path, f"{where} {parts[0].strip()}")
    return value, parts[2].strip() if len(parts) == 3 else None


OPERATIONS: dict[str, Callable[[float, float], float]] = {
    "/": lambda a, b: a / b,
    "-": lambda a, b: a - b,
    "+": lambda a, b: a + b,
    "*": lambda a, b: a * b,
}


def value(body: str, where: str = "value") -> str:
    """The text of a ``<!-- value: ... -->`` placeholder's body (see the module's docstring)."""
    where = f"{where} {body.strip()!r}"
    pieces = _split(body.strip(), r"\s+[-+*/]\s+")
    operators = [m[0].strip() for m in _outside_quotes(body.strip(), r"\s+[-+*/]\s+")]
    results_ = [_reference(piece, where) for piece in pieces]
    if any(fmt is not None for _, fmt in results_[:-1]):
        raise PlaceholderError(f"{where}: only the last reference may name a format")
    number, fmt = results_[0][0], results_[-1][1] or "score"
    for operator, (operand, _) in zip(operators, results_[1:], strict=True):
        number = OPERATIONS[operator](float(number), float(operand))
    try:
        return formatter(fmt)(number)
    except (TypeError, ValueError) as error:
        if isinstance(error, PlaceholderError):
            raise
        raise PlaceholderError(f"{where}: cannot format {number!r} as {fmt}") from None


BLOCK = re.compile(r"^(?P<indent>[ \t]*)<!--\s*(?P<kind>table|card)\s*:(?P<body>.*?)-->[ \t]*$")
ANY = re.compile(r"<!--\s*(?P<kind>table|card|value)\s*:(?P<body>.*?)-->")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+).+?\1")


def _block(match: re.Match[str], root: str, where: str) -> str:
    words = shlex.split(match["body"])
    if not words:
        raise PlaceholderError(f"{where}: {match['kind']} placeholder without a name")
    if match["kind"] == "card":
        if len(words) != 1:
            raise PlaceholderError(f"{where}: a card placeholder takes one name, got {words}")
        markdown = render("card", name=words[0], root=root)
    else:
        arguments = {}
        for word in words[1:]:
            key, equals, argument = word.partition("=")
            if not equals:
                raise PlaceholderError(f"{where}: table argument {word!r} is not key=value")
            arguments[key] = argument
        markdown = render(words[0], root=root, **arguments)
    indent = match["indent"]
    return "\n".join(indent + line if line else line for line in ["", *markdown.splitlines(), ""])


def expand(markdown: str, root: str = "", where: str = "page") -> str:
    """``markdown`` with every placeholder replaced by its generated Markdown.

    ``root`` is the relative way from the page to the docs root (``"../"`` for
    ``models/particles.md``), for links that tables make. Placeholders in fenced code blocks
    and code spans are left as they are, so a page can show the syntax. A table or card
    placeholder must stand on a line of its own (with only indentation before it).
    """
    out = []
    fenced = False
    for number, line in enumerate(markdown.split("\n"), 1):
        here = f"{where}:{number}"
        if FENCE.match(line):
            fenced = not fenced
            out.append(line)
            continue
        if fenced:
            out.append(line)
            continue
        if block := BLOCK.match(line):
            out.append(_block(block, root, here))
            continue
        spans = [m.span() for m in CODE_SPAN.finditer(line)]

        def replace(
            match: re.Match[str], spans: list[tuple[int, int]] = spans, here: str = here
        ) -> str:
            if any(start <= match.start() < end for start, end in spans):
                return match[0]
            if match["kind"] != "value":
                raise PlaceholderError(
                    f"{here}: a {match['kind']} placeholder must stand on a line of its own"
                )
            return value(match["body"], here)

        out.append(ANY.sub(replace, line))
    return "\n".join(out)


def root_of(src_uri: str) -> str:
    """The relative way from a page (its path in docs/) to the docs root."""
    depth = posixpath.dirname(src_uri).count("/") + 1 if posixpath.dirname(src_uri) else 0
    return "../" * depth


# --------------------------------------------------------------------------------------------
# README


def readme_example(name: str) -> str:
    """What a README example printed and measured, from ``bench/readme_examples.py``'s run."""
    run = results("readme_examples")[name]
    block = f"```text\n$ {run['command']}\n{run['printed']}\n```"
    if name == "particles":
        summary = run["summary"]
        sizes = [f"{summary[f'mass_P{p}_mm']:.1f} mm" for p in (20, 50, 80)]
        fit = f"{summary['rosin_rammler_x50']:.1f} mm, {summary['rosin_rammler_n']:.2f}"
        header = ["particles", "in the PSD", "P20 (mass)", "P50 (mass)", "P80 (mass)"]
        row = [integer(summary["particles"]), integer(summary["particles_in_psd"]), *sizes, fit]
        return block + "\n\n" + markdown_table([*header, "Rosin–Rammler x50, n"], [row])
    if name == "minerals":
        rows = [
            [m["mineral"], f"{m['area_percent']:.1f}", integer(m["grains"])] for m in run["modal"]
        ]
        return block + "\n\n" + markdown_table(["mineral", "area %", "grains"], rows)
    return block


README_BLOCKS: dict[str, Callable[[], str]] = {
    "zoo-table": partial(zoo, link=README_CARD_LINK),
    "example: demo": partial(readme_example, "demo"),
    "example: particles": partial(readme_example, "particles"),
    "example: minerals": partial(readme_example, "minerals"),
}


def readme_block(readme: str, name: str) -> tuple[int, int]:
    """Start and end offsets of the text between ``<!-- NAME -->`` and ``<!-- /NAME -->``."""
    start_marker, end_marker = f"<!-- {name} -->", f"<!-- /{name} -->"
    start = readme.find(start_marker)
    end = readme.find(end_marker)
    if start < 0 or end < start:
        raise PlaceholderError(f"no {start_marker} ... {end_marker} block")
    return start + len(start_marker), end


def readme_with_generated(readme: str) -> str:
    """``readme`` with every generated block (the zoo table linking to the cards, the
    examples' output) regenerated between its markers."""
    for name, render_block in README_BLOCKS.items():
        start, end = readme_block(readme, name)
        readme = readme[:start] + "\n\n" + render_block() + "\n\n" + readme[end:]
    return readme


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


if __name__ == "__main__":
    sys.exit(main())
