"""How quickly ``orescope annotate view`` answers on a LumenStone photo: the time until the
page shows the photo, until its superpixels are ready (computed while the page opens), and per
stroke the time from releasing the mouse to the suggestions shown, in
headless Chromium driving the real page, as an annotator feels it.

Strokes are drawn inside the largest regions of the true mask (one horizontal stroke along
the longest row of each region, eroded by the brush so that it stays inside), the class chosen
with the page's buttons; then all suggestions are accepted and saved, and the saved mask is
compared with the true mask on the pixels it labels. The photo is the first of the validation
side (no choice is made here; nothing is reported from the test side).

Prints the numbers; writes bench/results/viewer_latency.json (or --out) and, with
``--screenshot FILE``, the page as it looks after the strokes, the entropy map of
``--uncertainty DIR`` (``orescope annotate uncertainty`` of the same photo) shown faintly::

    .venv/bin/python bench/viewer_latency.py [--strokes 12] [--uncertainty DIR]
        [--screenshot docs/assets/viewer.jpg]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
from playwright.sync_api import sync_playwright

from orescope.io import load_lumenstone, read_mask
from orescope.io.splits import assign_splits
from orescope.preprocess.superpixels import DEFAULT_LEVELS, UNLABELLED
from orescope.viewer import ViewerServer, open_session, read_overlays

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lumenstone"
RESULTS = Path(__file__).resolve().parent / "results" / "viewer_latency.json"
BRUSH_PX = 3
LONGEST_STROKE_PX = 120


def stroke_in(region: np.ndarray) -> tuple[int, int, int] | None:
    """(row, first, last column) of a horizontal stroke inside ``region``: the middle of its
    longest row after erosion by the brush; None where nothing is left."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (4 * BRUSH_PX + 3,) * 2)
    inside = cv2.erode(region.astype(np.uint8), kernel).astype(bool)
    best: tuple[int, int, int] | None = None
    for row in np.flatnonzero(inside.any(axis=1)):
        runs = np.flatnonzero(np.diff(np.concatenate([[0], inside[row], [0]]).astype(int)))
        starts, stops = runs[::2], runs[1::2]
        longest = int(np.argmax(stops - starts))
        if best is None or stops[longest] - starts[longest] > best[2] - best[1]:
            best = (int(row), int(starts[longest]), int(stops[longest]) - 1)
    if best is None:
        return None
    row, first, last = best
    middle, half = (first + last) // 2, min((last - first) // 2, LONGEST_STROKE_PX // 2)
    return row, middle - half, middle + half


def strokes_of(truth: np.ndarray, count: int) -> list[tuple[int, int, int, int]]:
    """(class, row, first, last) strokes in the ``count`` largest regions of ``truth``."""
    regions = []
    for class_index in np.unique(truth):
        number, labelled = cv2.connectedComponents((truth == class_index).astype(np.uint8))
        areas = np.bincount(labelled.ravel())[1:]
        regions += [(int(areas[i]), int(class_index), labelled == i + 1) for i in range(number - 1)]
    strokes = []
    for _, class_index, region in sorted(regions, key=lambda r: -r[0]):
        stroke = stroke_in(region)
        if stroke is not None:
            strokes.append((class_index, *stroke))
        if len(strokes) == count:
            break
    return strokes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=12)
    parser.add_argument("--uncertainty", type=Path)
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    samples, _ = load_lumenstone(DATA)
    sides = assign_splits("lumenstone", [s.stem for s in samples])
    sample = next(s for s in samples if sides[s.stem] == "validation")
    truth = read_mask(sample.mask_path)
    out = Path(tempfile.mkdtemp()) / "dataset"

    start = time.perf_counter()
    session = open_session(sample.image_path, DATA / "classes.yaml", out, DEFAULT_LEVELS)
    overlays = read_overlays(session.registry, session.shape, None, args.uncertainty)
    server = ViewerServer(session, overlays)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    serving_s = time.perf_counter() - start

    strokes = strokes_of(truth, args.strokes)
    stroke_ms = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"))
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        browser_s = time.perf_counter() - start - serving_s  # not the viewer's: left out
        page.goto(server.url)
        page.wait_for_function("document.getElementById('image').naturalWidth > 0")
        shown_s = time.perf_counter() - start - browser_s
        page.wait_for_selector("body[data-ready='true']", timeout=300_000)
        ready_s = time.perf_counter() - start - browser_s
        page.fill("#radius", str(BRUSH_PX))
        box = page.locator("#stack").bounding_box()
        assert box is not None
        zoom = box["width"] / truth.shape[1]

        def at(x: int, y: int) -> tuple[float, float]:
            return box["x"] + (x + 0.5) * zoom, box["y"] + (y + 0.5) * zoom

        for class_index, row, first, last in strokes:
            page.click(f"#classes button[data-index='{class_index}']")
            page.mouse.move(*at(first, row))
            page.mouse.down()
            page.mouse.move(*at(last, row), steps=10)
            start = time.perf_counter()
            page.mouse.up()
            page.wait_for_selector("body[data-pending='0']", state="attached")
            stroke_ms.append(1000 * (time.perf_counter() - start))
        if args.screenshot:
            if args.uncertainty:
                page.fill("[data-layer='overlay-uncertainty']", "30")
            jpeg = args.screenshot.suffix.lower() in (".jpg", ".jpeg")
            page.screenshot(path=str(args.screenshot), quality=80 if jpeg else None)
        start = time.perf_counter()
        page.click("#accept-all")
        page.click("#save")
        page.wait_for_selector("body[data-pending='0']", state="attached")
        accept_save_ms = 1000 * (time.perf_counter() - start)
        browser.close()
    server.shutdown()

    saved = read_mask(out / "masks" / f"{sample.stem}.png")
    labelled = saved != UNLABELLED
    results = {
        "what": "orescope annotate view on a LumenStone photo in headless Chromium (Playwright); "
        "times measured on a 2-core machine shared with other jobs",
        "split": "validation",
        "stem": sample.stem,
        "height_px": int(truth.shape[0]),
        "width_px": int(truth.shape[1]),
        "levels": [str(level) for level in DEFAULT_LEVELS],
        "brush_px": BRUSH_PX,
        "strokes": len(stroke_ms),
        "serving_s": round(serving_s, 2),
        "photo_shown_s": round(shown_s, 2),
        "superpixels_ready_s": round(ready_s, 2),
        "stroke_ms_median": round(float(np.median(stroke_ms)), 1),
        "stroke_ms_max": round(float(np.max(stroke_ms)), 1),
        "accept_all_and_save_ms": round(accept_save_ms, 1),
        "labelled_share": round(float(labelled.mean()), 4),
        "agreement_on_labelled": round(float(np.mean(saved[labelled] == truth[labelled])), 4),
    }
    print(json.dumps(results, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
