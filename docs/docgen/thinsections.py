"""Thin-section tables: what the XPL channels add, quartz against the rest for the zoo's
``thinsection``, and paper 001's four architectures."""

from __future__ import annotations

from functools import partial
from typing import Any

from .formatting import Column, records_table, score
from .results import dig, results
from .sections import SECTION_HEAD, iou_columns, row_model, settings_label

THIN_LABELS = {
    "thinsection_ppl": "PPL only, PSPNet (`configs/thinsection_ppl.yaml`)",
    "thinsection_unet": "PPL + XPL, U-Net (`thinsection`, `configs/thinsection_unet.yaml`)",
}


# paper 001's scores of quartz against the rest, as the results files name them
QUARTZ_SCORES = {
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "specificity": "specificity",
    "auc": "AUC",
    "iou": "IoU",
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
    names = {**QUARTZ_SCORES, "iou_background_left_out": "IoU, background left out"}
    columns = [
        Column(label, partial(_quartz, key=key), score, "max") for key, label in names.items()
    ]
    return records_table("images, settings", rows, columns, compete)


QUARTZ_MODELS = {"pspnet": "PSPNet", "unet": "U-Net", "fpn": "FPN", "linknet": "LinkNet"}


def quartz_comparison() -> str:
    """Paper 001's comparison: four architectures trained alike, quartz against the rest on
    the held-out thin sections (quartz_comparison.json), best of each column bold."""
    data = results("quartz_comparison")
    rows = [(QUARTZ_MODELS.get(key, key), record) for key, record in data.items()]
    columns = [Column(label, key, score, "max") for key, label in QUARTZ_SCORES.items()]
    return records_table("model", rows, columns)
