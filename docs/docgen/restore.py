"""Wet-ore tables: each restoration against the wet and the dry images, on pictures and on
particles (restore_methods.json), and the validation curves of the restoration models
(``NAME_history.csv``)."""

from __future__ import annotations

import math

from .formatting import code, fixed, integer, markdown_table, pct, score, signed_pct
from .results import history, results

FIXED = {"dry": "dry image (the target)", "wet": "wet, not restored"}


def restore_methods() -> str:
    """Per particle set: PSNR and SSIM against the dry image, the default particle model's
    AP@0.5, F1_match, P50 error and AP lost against the dry image, for each version, and each
    method's seconds per image."""
    data = results("restore_methods")
    models = data.get("models", {})

    def shown(format_: object, value: float) -> str:
        return "" if value is None or math.isnan(value) else format_(value)  # type: ignore[operator]

    body = []
    for name, found in data["sets"].items():
        methods = {v: code(v) + (" (zoo)" if models.get(v) == v else "") for v in found}
        for version, label in (methods | FIXED).items():
            if version == "images":
                continue
            row = found[version]
            body.append(
                [
                    f"{name} ({integer(found['images'])})",
                    label,
                    shown(fixed(2), row.get("psnr_db", math.nan)),
                    shown(score, row.get("ssim", math.nan)),
                    shown(score, row["ap50"]),
                    shown(score, row["f1_match"]),
                    shown(signed_pct, row["count_P50_error"]),
                    shown(pct, row.get("ap50_loss_vs_dry", math.nan)),
                    shown(fixed(2), row.get("seconds", math.nan)),
                ]
            )
    header = ["set (images)", "image", "PSNR (dB)", "SSIM", "AP@0.5", "F1_match", "P50 error"]
    return markdown_table([*header, "AP lost", "s / image"], body)


def restore_training(runs: str = "restore,restore_pix2pix", every: int = 5) -> str:
    """Validation PSNR and SSIM of restoration runs (``runs``: comma-separated names of
    ``bench/results/NAME_history.csv``) every ``every`` epochs and at the best epoch (by
    PSNR, the score the loop keeps weights by)."""
    names = runs.split(",")
    tables = {name: history(name) for name in names}
    header = ["epoch", *(f"{code(name)} val PSNR (dB) / SSIM" for name in names)]

    def cell(row: dict[str, str]) -> str:
        return f"{fixed(2)(float(row['val_psnr']))} / {score(float(row['val_ssim']))}"

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
        row = max(tables[name], key=lambda r: float(r["val_psnr"]))
        best.append(f"{cell(row)} (epoch {row['epoch']})")
    return markdown_table(header, [*body, ["best", *best]])
