"""Wet ore from dry images (orescope.synth.wet): the dry image is the exact target, the labels
hold for both, and wetness darkens, saturates and adds highlights as water does."""

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from orescope.cli.main import app
from orescope.io import read_image, read_labels
from orescope.synth import SceneConfig, synthesize_scene, wet_image, write_scenes, write_wet_pairs

SCENE = synthesize_scene(SceneConfig(height=160, width=192, x50_mm=6.0, seed=3))


def _wet(wetness: float, seed: int = 0) -> np.ndarray:
    return wet_image(SCENE.image, SCENE.labels, wetness, np.random.default_rng(seed))


def test_no_water_is_the_dry_image_and_a_seed_gives_one_wet_image():
    assert np.array_equal(_wet(0.0), SCENE.image)
    assert np.array_equal(_wet(0.6, seed=1), _wet(0.6, seed=1))
    assert not np.array_equal(_wet(0.6, seed=1), _wet(0.6, seed=2))
    with pytest.raises(ValueError, match="from 0"):
        _wet(1.5)


def test_the_wetter_the_darker_and_purer_the_particles():
    on = SCENE.labels > 0

    def median_value_and_saturation(image: np.ndarray) -> tuple[float, float]:
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[on]
        return float(np.median(hsv[:, 2])), float(np.median(hsv[:, 1]))

    dry, damp, wet = (median_value_and_saturation(_wet(w)) for w in (0.0, 0.3, 0.6))
    assert dry[0] > damp[0] > wet[0]  # value (brightness)
    assert dry[1] < damp[1] < wet[1]  # saturation (flooded, the glare of films takes over)


def test_water_adds_highlights_that_a_dry_image_lacks():
    def near_white(image: np.ndarray) -> int:
        return int(np.count_nonzero(image.min(axis=2) > 235))

    assert near_white(SCENE.image) == 0
    assert near_white(_wet(1.0)) > 20


def test_pairs_keep_the_dry_image_and_its_labels(tmp_path):
    paths = write_scenes(tmp_path / "dry", SceneConfig(height=96, width=96, x50_mm=4), 2, False)
    wet = write_wet_pairs(tmp_path / "dry", tmp_path / "pairs", (0.5, 0.5), progress=False)
    assert [p.name for p in wet] == [p.name for p in paths]
    for path in paths:
        stem = path.stem
        assert np.array_equal(
            read_image(tmp_path / "pairs" / "dry" / f"{stem}.png"), read_image(path)
        )
        original = read_labels(tmp_path / "dry" / "labels" / f"{stem}.tif")
        assert np.array_equal(read_labels(tmp_path / "pairs" / "labels" / f"{stem}.tif"), original)
    lines = (tmp_path / "pairs" / "wetness.csv").read_text().splitlines()
    assert lines == ["name,wetness,seed", "scene_000,0.5000,0", "scene_001,0.5000,1"]
    assert (tmp_path / "pairs" / "resolutions.csv").read_text().startswith("name,resolution")


def test_images_without_labels_are_wetted_from_their_brightness(tmp_path):
    (tmp_path / "photos").mkdir()
    cv2.imwrite(str(tmp_path / "photos" / "belt.png"), SCENE.image[..., ::-1])
    write_wet_pairs(tmp_path / "photos", tmp_path / "pairs", (0.8, 0.8), progress=False)
    wet = read_image(tmp_path / "pairs" / "wet" / "belt.png")
    assert wet.shape == SCENE.image.shape and not np.array_equal(wet, SCENE.image)
    assert not (tmp_path / "pairs" / "labels").exists()


def test_synth_wet_from_the_command_line_and_a_bad_wetness(tmp_path):
    write_scenes(tmp_path / "dry", SceneConfig(height=64, width=64, x50_mm=3), 1, False)
    runner = CliRunner()
    done = runner.invoke(app, ["synth", "wet", str(tmp_path / "dry"), "--out", str(tmp_path / "w")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "w" / "wet" / "scene_000.png").is_file()
    bad = runner.invoke(
        app, ["synth", "wet", str(tmp_path / "dry"), "--out", str(tmp_path / "x"), "--wetness", "2"]
    )
    assert bad.exit_code == 2 and "LOW,HIGH" in bad.output
    inverted = runner.invoke(
        app,
        [
            "synth",
            "wet",
            str(tmp_path / "dry"),
            "--out",
            str(tmp_path / "y"),
            "--wetness",
            "0.9,0.1",
        ],
    )
    assert inverted.exit_code == 2 and "wetness runs from 0 to 1" in inverted.output
