"""One self-contained HTML page per run: images are embedded, so it opens offline anywhere."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import InitVar, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}
th{background:#f3f3f3}.grid{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;width:280px}figure img{width:280px}figcaption{font-size:13px}
.failed{color:#a00}
.swatch{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;border:1px solid #888}
"""


THUMBNAIL_SIDE = 560  # px: sharp at the report's figure width on high-density screens


@dataclass(frozen=True)
class Thumbnail:
    """A captioned picture for the report, kept small: a run may have thousands of them. It is
    shrunk and PNG-encoded where it is made, so that image workers do that work, not the one
    process that writes the report after them all."""

    title: str
    image: InitVar[np.ndarray]  # RGB uint8
    caption: str
    uri: str = field(init=False)

    def __post_init__(self, image: np.ndarray) -> None:
        object.__setattr__(self, "uri", png_data_uri(image, THUMBNAIL_SIDE))


def shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` scaled down so its longer side is at most ``max_side`` pixels."""
    if max(image.shape[:2]) <= max_side:
        return image
    scale = max_side / max(image.shape[:2])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def png_data_uri(path_or_image: str | Path | np.ndarray, max_side: int | None = None) -> str:
    """A PNG (file or RGB array) as a data URI, optionally shrunk to ``max_side`` pixels."""
    if isinstance(path_or_image, np.ndarray):
        image = shrink(path_or_image, max_side) if max_side else path_or_image
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        data = encoded.tobytes()
    else:
        data = Path(path_or_image).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def write_report(
    path: str | Path,
    title: str,
    summary: pd.DataFrame,
    plots: list[Path],
    thumbnails: list[Thumbnail],
    failures: list[tuple[str, str]],
    notes: list[str],
    legend: Sequence[tuple[str, tuple[int, int, int]]] = (),
) -> None:
    """Summary table, plots, per-image thumbnails with captions, and the files that failed;
    ``legend`` names the colours of the overlays (mineral maps)."""
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style><h1>{html.escape(title)}</h1>",
    ]
    parts += [f"<p>{html.escape(note)}</p>" for note in notes]
    if legend:
        parts.append("<p>")
        parts += [
            f"<span class='swatch' style='background:rgb{tuple(colour)}'></span>"
            f"{html.escape(name)} "
            for name, colour in legend
        ]
        parts.append("</p>")
    parts.append("<h2>Summary</h2>")
    parts.append(summary.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="–"))
    for plot in plots:
        parts.append(f"<p><img alt='{html.escape(plot.stem)}' src='{png_data_uri(plot)}'></p>")
    if failures:
        parts.append("<h2 class='failed'>Not processed</h2><ul>")
        parts += [
            f"<li class='failed'>{html.escape(f)}: {html.escape(r)}</li>" for f, r in failures
        ]
        parts.append("</ul>")
    parts.append("<h2>Images</h2><div class='grid'>")
    for thumb in thumbnails:
        parts.append(
            f"<figure><img alt='{html.escape(thumb.title)}' "
            f"src='{thumb.uri}'><figcaption><b>{html.escape(thumb.title)}"
            f"</b><br>{html.escape(thumb.caption)}</figcaption></figure>"
        )
    parts.append("</div>")
    Path(path).write_text("\n".join(parts), encoding="utf-8")
