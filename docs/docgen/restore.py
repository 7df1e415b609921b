"""Wet-ore tables: each restoration against the wet and the dry images, on pictures and on
particles (restore_methods.json)."""

from __future__ import annotations

import math

from .formatting import fixed, integer, markdown_table, pct, score, signed_pct
from .results import results

VERSIONS = {"dry": "dry image (the target)", "wet": "wet, not restored", "inpaint": "`inpaint`"}


def restore_methods() -> str:
    """Per particle set: PSNR and SSIM against the dry image, and the default particle model's
    AP@0.5, F1_match, P50 error and AP lost against the dry image, for each version."""
    data = results("restore_methods")

    def shown(format_: object, value: float) -> str:
        return "" if value is None or math.isnan(value) else format_(value)  # type: ignore[operator]

    body = []
    for name, found in data["sets"].items():
        for version, label in VERSIONS.items():
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
                ]
            )
    header = ["set (images)", "image", "PSNR (dB)", "SSIM", "AP@0.5", "F1_match", "P50 error"]
    return markdown_table([*header, "AP lost"], body)
