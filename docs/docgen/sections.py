"""Mineral-map tables of the polished sections: a model's rows per `predict minerals`
setting, the ore-type vote, edge refinement, the inference tile, class balance and paper
003's comparison. Also how a section_models.json row names its model and settings, which the
thin-section and speed tables share."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from .formatting import (
    Column,
    best_marked,
    code,
    markdown_table,
    pct,
    records_table,
    scales_text,
    score,
)
from .results import PlaceholderError, dig, history, results

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


SECTION_COMPARISON = {"lumenstone_pspnet": "PSPNet", "lumenstone_upernet": "UPerNet"}


def section_comparison() -> str:
    """Paper 003's PSPNet and UPerNet at the same budget on the held-out LumenStone photos
    (section_models.json), best of each column bold."""
    table = dig(results("section_models"), ["lumenstone"], "section_models")
    rows = [
        (label, dig(table, [key], "section_models")) for key, label in SECTION_COMPARISON.items()
    ]
    return records_table("model", rows, SECTION_HEAD + iou_columns(r for _, r in rows))


def section_scores(file: str = "lumenstone_rule", dataset: str = "lumenstone") -> str:
    """Every model of a section_models.py results file (``file``, e.g. lumenstone_rule) on
    its images, one row each, best of each column bold."""
    table = dig(results(file), [dataset], file)
    rows = [(code(key), record) for key, record in table.items()]
    return records_table("model", rows, SECTION_HEAD + iou_columns(r for _, r in rows))


def training_curves(
    runs: str = "lumenstone_augmented,lumenstone_zscore_augmented", every: int = 10
) -> str:
    """Validation mIoU and pixel accuracy of training runs (``runs``: comma-separated names of
    ``bench/results/NAME_history.csv``) every ``every`` epochs and at the best epoch."""
    return history_table(
        runs, every, ("val_miou", score), ("val_accuracy", score), "mIoU / accuracy"
    )


def history_table(
    runs: str,
    every: int,
    first: tuple[str, Callable[[float], str]],
    second: tuple[str, Callable[[float], str]],
    label: str,
) -> str:
    """Two validation scores of training runs (``runs``: comma-separated names of
    ``bench/results/NAME_history.csv``), each a (column, format), every ``every`` epochs and
    at the best epoch by the ``first``, the score the loop keeps weights by."""
    names = runs.split(",")
    tables = {name: history(name) for name in names}
    header = ["epoch", *(f"{code(name)} val {label}" for name in names)]

    def cell(row: dict[str, str]) -> str:
        return " / ".join(shown(float(row[key])) for key, shown in (first, second))

    last = max(len(rows) for rows in tables.values())
    body = [
        [
            str(epoch),
            *(cell(tables[n][epoch - 1]) if epoch <= len(tables[n]) else "" for n in names),
        ]
        for epoch in [1, *range(every, last + 1, every)]
    ]
    best = []
    for name in names:
        row = max(tables[name], key=lambda r: float(r[first[0]]))
        best.append(f"{cell(row)} (epoch {row['epoch']})")
    return markdown_table(header, [*body, ["best", *best]])
