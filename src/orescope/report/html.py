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

from orescope.io.atomic import write_text

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}
th{background:#f3f3f3}.grid{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;width:280px}figure img{width:280px}figcaption{font-size:13px}
.failed{color:#a00}
.swatch{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;border:1px solid #888}
"""


THUMBNAIL_SIDE = 560  # px: sharp at the report's figure width on high-density screens
JPEG_QUALITY = 90  # outlines stay crisp at the thumbnail's size


@dataclass(frozen=True)
class Thumbnail:
    """A captioned picture for the report, kept small: a run may have thousands of them. It is
    shrunk and encoded where it is made, so that image workers do that work, not the one
    process that writes the report after them all. JPEG, not PNG: an overlay is a photo, which
    PNG barely compresses and JPEG shrinks several-fold, in a fraction of the time."""

    title: str
    image: InitVar[np.ndarray]  # RGB uint8
    caption: str
    uri: str = field(init=False)

    def __post_init__(self, image: np.ndarray) -> None:
        object.__setattr__(self, "uri", jpeg_data_uri(image, THUMBNAIL_SIDE))


def shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` scaled down so its longer side is at most ``max_side`` pixels."""
    if max(image.shape[:2]) <= max_side:
        return image
    scale = max_side / max(image.shape[:2])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def png_data_uri(path: str | Path) -> str:
    """A PNG file as a data URI."""
    return _data_uri("png", Path(path).read_bytes())


def jpeg_data_uri(image: np.ndarray, max_side: int) -> str:
    """An RGB array as a JPEG data URI (``JPEG_QUALITY``), shrunk to at most ``max_side`` px."""
    bgr = cv2.cvtColor(shrink(image, max_side), cv2.COLOR_RGB2BGR)
    _, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return _data_uri("jpeg", encoded.tobytes())


def _data_uri(kind: str, data: bytes) -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode("ascii")


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
    write_text(path, "\n".join(parts))
