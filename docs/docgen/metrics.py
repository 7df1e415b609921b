"""A card's metrics as a reader says them: metric names and formats, and every metrics
section of a card as tables, one column per setting."""

from __future__ import annotations

import re
from collections.abc import Callable

from .formatting import fixed, markdown_table, score, signed_pct
from .models import condense

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
