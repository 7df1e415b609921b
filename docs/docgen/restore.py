"""Wet-ore tables: each restoration against the wet and the dry images, on pictures and on
particles (restore_methods.json), and the validation curves of the restoration models
(``NAME_history.csv``)."""

from __future__ import annotations

import math

from .formatting import code, fixed, integer, markdown_table, pct, score, signed_pct
from .results import results
from .sections import history_table

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
            if not isinstance(found[version], dict):  # the count, the per-image list
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
    return history_table(
        runs, every, ("val_psnr", fixed(2)), ("val_ssim", score), "PSNR (dB) / SSIM"
    )


def restore_by_wetness(sets: str = "synthetic,gravel", edges: str = "0.2,0.5,0.8,1.0") -> str:
    """Mean PSNR, SSIM and AP@0.5 of each version of the images of ``sets`` (comma-separated)
    by their wetness, in the bins between ``edges``: where water is beyond a method."""
    data = results("restore_methods")
    bounds = [float(edge) for edge in edges.split(",")]
    body = []
    for name in sets.split(","):
        images = data["sets"][name]["per_image"]
        versions = [v for v in images[0] if isinstance(images[0][v], dict) and v != "dry"]
        for low, high in zip(bounds, bounds[1:], strict=False):
            inside = [i for i in images if low <= i["wetness"] < high or i["wetness"] == high]
            if not inside:
                continue
            for version in ["dry", *versions]:
                rows = [i[version] for i in inside]

                def mean(key: str, rows: list[dict] = rows) -> float:
                    values = [r[key] for r in rows if key in r and not math.isnan(r[key])]
                    return sum(values) / len(values) if values else math.nan

                body.append(
                    [
                        f"{name}, wetness {low:g}–{high:g} ({len(inside)})",
                        version if version in FIXED else code(version),
                        "" if version == "dry" else fixed(2)(mean("psnr_db")),
                        "" if version == "dry" else score(mean("ssim")),
                        score(mean("ap50")),
                    ]
                )
    header = ["images (count)", "image", "PSNR (dB)", "SSIM", "AP@0.5"]
    return markdown_table(header, body)
