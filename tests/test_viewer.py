"""``orescope annotate view``: the viewer's API over HTTP and its page in headless Chromium, on
a synthetic image whose regions are known."""

import gzip
import importlib.util
import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from sections import CLASSES_YAML, DISK, STROKES, scene
from sections import scribbles as strokes
from typer.testing import CliRunner

from orescope.cli import annotate
from orescope.errors import InputError
from orescope.io import read_class_registry, read_image, read_mask, write_image
from orescope.preprocess.superpixels import (
    DEFAULT_LEVELS,
    UNLABELLED,
    ScribbleLabeller,
    superpixel_hierarchy,
)
from orescope.viewer import ViewerServer, open_session, read_overlays
from orescope.viewer.overlays import heat_overlay, read_label_map
from orescope.viewer.session import brush_mask

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(
    CHROMIUM is None or importlib.util.find_spec("playwright") is None,
    reason="the page test needs Chromium on PATH (apt-get install chromium) and the "
    "playwright package (pip install -e .[dev])",
)


def predicted() -> np.ndarray:
    """A model's map of the scene: right but for galena taken for chalcopyrite, and nothing
    in the top-left corner."""
    labels = scene()[1].copy()
    labels[labels == 2] = 1
    labels[:8, :8] = UNLABELLED
    return labels


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    image, _ = scene()
    write_image(tmp_path / "scene.png", image)
    write_image(tmp_path / "predicted.png", predicted())
    (tmp_path / "classes.yaml").write_text(CLASSES_YAML)
    return {
        "image": tmp_path / "scene.png",
        "labels": tmp_path / "predicted.png",
        "classes": tmp_path / "classes.yaml",
        "out": tmp_path / "dataset",
    }


@contextmanager
def serving(viewer: ViewerServer) -> Iterator[ViewerServer]:
    thread = threading.Thread(target=viewer.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield viewer
    viewer.shutdown()
    viewer.server_close()


@pytest.fixture
def server(files: dict[str, Path]) -> Iterator[ViewerServer]:
    session = open_session(
        files["image"], files["classes"], files["out"], DEFAULT_LEVELS, files["labels"]
    )
    overlays = read_overlays(session.registry, session.shape, session.predicted)
    with serving(ViewerServer(session, overlays)) as viewer:
        yield viewer


@pytest.fixture
def server_without_labels(files: dict[str, Path]) -> Iterator[ViewerServer]:
    session = open_session(files["image"], files["classes"], files["out"], DEFAULT_LEVELS)
    with serving(ViewerServer(session, {})) as viewer:
        yield viewer


def _get(server: ViewerServer, path: str) -> bytes:
    with urllib.request.urlopen(server.url + path.lstrip("/")) as response:
        return response.read()


def _post(server: ViewerServer, path: str, payload: dict) -> np.ndarray | dict:
    """The layers (3×H×W) a change answers, or the JSON a save answers."""
    request = urllib.request.Request(
        server.url + path.lstrip("/"),
        json.dumps(payload).encode(),
        {"Content-Type": "application/json", "Accept-Encoding": "gzip"},
    )
    with urllib.request.urlopen(request) as response:
        body = response.read()
        if response.headers["Content-Type"] == "application/json":
            return json.loads(body)
        assert response.headers["Content-Encoding"] == "gzip"
    return np.frombuffer(gzip.decompress(body), np.uint8).reshape(3, 72, 96)


def _paint(server: ViewerServer, stroke: int) -> np.ndarray:
    class_index, row, first, last = STROKES[stroke]
    points = [[first, row], [last, row]]
    return _post(server, "/api/paint", {"points": points, "class": class_index, "radius": 0})


def test_info_pictures_and_layers_of_a_fresh_session(server):
    info = json.loads(_get(server, "/api/info"))
    assert (info["name"], info["height"], info["width"]) == ("scene.png", 72, 96)
    assert [c["index"] for c in info["classes"]] == [0, 1, 2, 3]
    assert info["classes"][1]["colour"] == [255, 0, 0]
    assert info["overlays"] == ["labels"]
    image = cv2.imdecode(np.frombuffer(_get(server, "/api/image.png"), np.uint8), -1)
    assert np.array_equal(image[..., ::-1], scene()[0])
    overlay = cv2.imdecode(np.frombuffer(_get(server, "/api/overlay/labels.png"), np.uint8), -1)
    assert np.array_equal(overlay[DISK[1], DISK[0]], [0, 255, 255, 255])  # BGRA yellow
    assert overlay[0, 0, 3] == 0
    layers = np.frombuffer(_get(server, "/api/layers"), np.uint8)
    assert layers.size == 3 * 72 * 96 and np.all(layers == UNLABELLED)
    assert b"viewer.js" in _get(server, "/") and b"showLayers" in _get(server, "/viewer.js")


def held_back(image: np.ndarray, levels: list) -> list[np.ndarray]:
    """The superpixels, once the file $GATE exists (run in the viewer's superpixel process,
    which inherits the environment)."""
    while not Path(os.environ["GATE"]).exists():
        time.sleep(0.02)
    return superpixel_hierarchy(image, levels)


def test_the_page_is_served_while_the_superpixels_are_computed(files, monkeypatch, tmp_path):
    gate = tmp_path / "gate"
    monkeypatch.setenv("GATE", str(gate))
    monkeypatch.setattr("orescope.viewer.session.superpixel_hierarchy", held_back)
    monkeypatch.setattr("orescope.viewer.session.superpixel_hierarchy", held_back)
    session = open_session(files["image"], files["classes"], files["out"], DEFAULT_LEVELS)
    with serving(ViewerServer(session, {})) as viewer:
        assert json.loads(_get(viewer, "/api/info"))["ready"] is False
        assert _get(viewer, "/api/image.png").startswith(b"\x89PNG")
        answers: list[np.ndarray] = []
        painting = threading.Thread(target=lambda: answers.append(_paint(viewer, 3)))
        painting.start()
        painting.join(timeout=0.5)
        assert painting.is_alive() and not answers  # the stroke waits for the superpixels
        gate.touch()
        painting.join(timeout=60)
        scribbles, suggested, _ = answers[0]
        assert np.array_equal(scribbles, strokes(3))
        assert np.array_equal(suggested, np.where(scene()[1] == 3, 3, UNLABELLED))
        assert json.loads(_get(viewer, "/api/info"))["ready"] is True


def test_each_stroke_returns_the_labels_of_a_scribble_labeller(server):
    image, truth = scene()
    labeller = ScribbleLabeller(image, superpixel_hierarchy(image, DEFAULT_LEVELS))
    for stroke in range(4):
        scribbles, suggested, accepted = _paint(server, stroke)
        assert np.array_equal(scribbles, strokes(*range(stroke + 1)))
        assert np.array_equal(suggested, labeller.add(strokes(stroke)))
        assert np.all(accepted == UNLABELLED)
    assert np.array_equal(suggested, truth)


def test_fill_suggests_the_superpixels_no_stroke_touched(server):
    image, truth = scene()
    labeller = ScribbleLabeller(image, superpixel_hierarchy(image, DEFAULT_LEVELS))
    labeller.add(strokes(0, 1, 2))
    for stroke in range(2):
        _paint(server, stroke)
    _, suggested, _ = _paint(server, 2)
    assert np.array_equal(suggested, labeller.labels())
    assert np.all(suggested[truth == 3] == UNLABELLED)
    _, filled, _ = _post(server, "/api/fill", {"fill": True})
    assert np.array_equal(filled, labeller.labels(fill=True))
    assert not np.any(filled == UNLABELLED)
    _, _, accepted = _post(server, "/api/accept", {})
    assert np.array_equal(accepted, filled)
    _, unfilled, _ = _post(server, "/api/fill", {"fill": False})
    assert np.array_equal(unfilled, suggested)


def test_accept_erase_and_save_write_the_accepted_labels(server, files):
    image, truth = scene()
    for stroke in range(4):
        _paint(server, stroke)
    _, _, accepted = _post(server, "/api/accept", {"x": DISK[0], "y": DISK[1]})
    assert np.array_equal(accepted, np.where(truth == 3, 3, UNLABELLED))

    eraser = [[DISK[0] - 8, DISK[1]], [DISK[0] + 8, DISK[1]]]
    scribbles, suggested, accepted = _post(server, "/api/erase", {"points": eraser, "radius": 1})
    brush = brush_mask((72, 96), np.array(eraser), 1)
    assert np.array_equal(scribbles, strokes(0, 1, 2))
    assert np.array_equal(accepted, np.where((truth == 3) & ~brush, 3, UNLABELLED))
    fresh = ScribbleLabeller(image, superpixel_hierarchy(image, DEFAULT_LEVELS))
    assert np.array_equal(suggested, fresh.add(strokes(0, 1, 2)))

    _, _, accepted = _post(server, "/api/accept", {})
    expected = np.where(suggested != UNLABELLED, suggested, accepted)
    assert np.array_equal(accepted, expected)

    saved = _post(server, "/api/save", {})
    out = files["out"]
    assert saved["mask"] == str(out / "masks" / "scene.png")
    assert saved["labelled"] == pytest.approx(np.mean(expected != UNLABELLED))
    assert np.array_equal(read_mask(out / "masks" / "scene.png"), expected)
    assert np.array_equal(read_mask(out / "scribbles" / "scene.png"), strokes(0, 1, 2))
    assert read_image(out / "images" / "scene.jpg").shape == (72, 96, 3)
    assert read_class_registry(out / "classes.yaml") == read_class_registry(files["classes"])
    assert sorted(p.name for p in out.rglob("*")) == [
        "classes.yaml",
        "images",
        "masks",
        "scene.jpg",
        "scene.png",
        "scene.png",
        "scribbles",
    ]


def test_the_model_labels_are_accepted_and_corrected_by_strokes(server):
    image, truth = scene()
    _, _, accepted = _post(server, "/api/accept", {"source": "labels"})
    assert np.array_equal(accepted, predicted())

    _, suggested, _ = _paint(server, 2)  # galena, which the model took for chalcopyrite
    labeller = ScribbleLabeller(image, superpixel_hierarchy(image, DEFAULT_LEVELS))
    assert np.array_equal(suggested, labeller.add(strokes(2)))
    assert np.array_equal(suggested, np.where(truth == 2, 2, UNLABELLED))
    _, _, accepted = _post(server, "/api/accept", {})
    corrected = truth.copy()
    corrected[:8, :8] = UNLABELLED
    assert np.array_equal(accepted, corrected)


def test_a_click_where_strokes_suggest_nothing_takes_the_model_region(server):
    _, truth = scene()
    _paint(server, 2)
    _, _, accepted = _post(server, "/api/accept", {"x": 40, "y": 20})  # chalcopyrite
    assert np.array_equal(accepted, np.where(predicted() == 1, 1, UNLABELLED))
    _, _, accepted = _post(server, "/api/accept", {"x": 80, "y": 20})  # the stroke's region
    expected = np.where(predicted() == 1, 1, UNLABELLED)
    expected[truth == 2] = 2
    assert np.array_equal(accepted, expected)
    _, _, accepted = _post(server, "/api/accept", {"x": 2, "y": 2})  # neither: nothing changes
    assert np.array_equal(accepted, expected)


@pytest.mark.parametrize(
    ("path", "payload", "reason"),
    [
        ("/api/paint", {"points": [[1, 1]], "class": 7, "radius": 0}, "class 7 is not"),
        ("/api/paint", {"points": [[1, 1]], "radius": 0}, "'class' is missing"),
        ("/api/erase", {"points": [], "radius": 0}, "non-empty list"),
        ("/api/accept", {"x": 96, "y": 0}, "outside the image"),
        ("/api/accept", {"source": "model"}, "source must be suggestions or labels"),
        ("/api/nothing", {}, "no /api/nothing"),
    ],
)
def test_bad_requests_are_answered_with_their_reason(server, path, payload, reason):
    with pytest.raises(urllib.error.HTTPError) as answer:
        _post(server, path, payload)
    assert reason in json.loads(answer.value.read())["error"]


def test_accepting_the_model_labels_needs_them(server_without_labels):
    assert json.loads(_get(server_without_labels, "/api/info"))["overlays"] == []
    with pytest.raises(urllib.error.HTTPError) as answer:
        _post(server_without_labels, "/api/accept", {"source": "labels"})
    assert (
        "no predicted labels: open the viewer with --labels"
        in json.loads(answer.value.read())["error"]
    )


def test_overlays_are_read_at_the_image_size_and_checked(files, tmp_path):
    registry = read_class_registry(files["classes"])
    labels = np.full((72, 96), UNLABELLED, np.uint8)
    labels[:, :10] = 2
    write_image(tmp_path / "classes.png", labels)
    maps = tmp_path / "uncertainty"
    entropy = np.tile(np.arange(96, dtype=np.uint8), (72, 1))
    write_image(maps / "entropy.png", entropy)
    write_image(maps / "margin.png", 255 - entropy)
    overlays = read_overlays(
        registry, (72, 96), read_label_map(tmp_path / "classes.png", registry, (72, 96)), maps
    )
    assert list(overlays) == ["labels", "entropy", "margin"]
    assert np.array_equal(overlays["labels"][0, :11], [[0, 0, 255, 255]] * 10 + [[0, 0, 0, 0]])
    assert np.array_equal(overlays["entropy"], heat_overlay(entropy))
    assert np.array_equal(overlays["margin"], overlays["entropy"])  # shown as 1 − margin

    write_image(tmp_path / "small.png", labels[:40])
    with pytest.raises(InputError, match="is \\(40, 96\\), the image \\(72, 96\\)"):
        read_label_map(tmp_path / "small.png", registry, (72, 96))
    labels[0, 0] = 9
    write_image(tmp_path / "unknown.png", labels)
    with pytest.raises(InputError, match="class indices \\[9\\] missing"):
        read_label_map(tmp_path / "unknown.png", registry, (72, 96))
    with pytest.raises(InputError, match="has no entropy.png"):
        read_overlays(registry, (72, 96), None, tmp_path)


@pytest.mark.parametrize("bad", ["image", "classes", "labels"])
def test_the_command_refuses_bad_input_in_one_line(files, tmp_path, bad):
    write_image(tmp_path / "small.png", np.zeros((40, 96), np.uint8))
    image = tmp_path / "missing.png" if bad == "image" else files["image"]
    classes = files["image"] if bad == "classes" else files["classes"]
    options = ["--labels", str(tmp_path / "small.png")] if bad == "labels" else []
    arguments = [str(image), "--classes", str(classes), "--out", str(files["out"]), *options]
    result = CliRunner().invoke(annotate.app, ["view", *arguments, "--no-browser"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    expected = {"image": "missing.png", "classes": "invalid class registry", "labels": "(40, 96)"}
    assert expected[bad] in result.output


@needs_browser
def test_the_page_paints_accepts_and_saves_in_headless_chromium(server, files):
    from playwright.sync_api import sync_playwright

    _, truth = scene()
    mask = files["out"] / "masks" / "scene.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.goto(server.url)
        page.wait_for_selector("body[data-ready='true']")
        page.select_option("#zoom", "4")
        page.fill("#radius", "0")
        box = page.locator("#stack").bounding_box()
        assert box is not None

        def at(x: int, y: int) -> tuple[float, float]:  # the centre of image pixel (x, y)
            return box["x"] + 4 * x + 2, box["y"] + 4 * y + 2

        def settle() -> None:
            page.wait_for_selector("body[data-pending='0']")

        for class_index, row, first, last in STROKES:
            page.click(f"#classes button[data-index='{class_index}']")
            page.mouse.move(*at(first, row))
            page.mouse.down()
            page.mouse.move(*at(last, row), steps=8)
            page.mouse.up()
        settle()
        page.check("input[value='accept']")
        page.mouse.click(*at(*DISK))
        page.click("#save")
        settle()
        assert np.array_equal(read_mask(mask), np.where(truth == 3, 3, UNLABELLED))
        share = 100 * np.mean(truth == 3)
        assert f"masks/scene.png ({share:.1f} % of the pixels labelled)" in page.inner_text(
            "#status"
        )

        page.click("#accept-all")
        page.click("#save")
        settle()
        assert np.array_equal(read_mask(mask), truth)
        assert np.array_equal(
            read_mask(files["out"] / "scribbles" / "scene.png"), strokes(0, 1, 2, 3)
        )
        shown = page.evaluate(
            "document.getElementById('accepted').getContext('2d')"
            f".getImageData({DISK[0]}, {DISK[1]}, 1, 1).data.join(',')"
        )
        assert shown == "255,255,0,255"

        page.click("#accept-labels")
        page.click("#save")
        settle()
        assert np.array_equal(
            read_mask(mask), np.where(predicted() != UNLABELLED, predicted(), truth)
        )
        browser.close()
