"""Colour tables: how much the colour alone tells (a colour lookup), and the mineral models
on re-lit and colour-corrected photos."""

from __future__ import annotations

from .formatting import best_marked, length, markdown_table, pct, score
from .results import dig, results


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
