"""Wet photos restored before particles are measured (paper 004's classical method): the
highlights found and painted over, the command, its evaluation, and predict particles
--restore."""

import json

import numpy as np
from typer.testing import CliRunner

from orescope.cli.main import app
from orescope.io import read_image, write_image
from orescope.jobs import ParticleConfig, run_particles
from orescope.metrics import psnr
from orescope.preprocess.restore import highlight_mask, inpaint_highlights
from orescope.synth import SceneConfig, synthesize_scene, wet_image

SCENE = synthesize_scene(SceneConfig(height=128, width=160, x50_mm=6.0, seed=4))
WET = wet_image(SCENE.image, SCENE.labels, 0.9, np.random.default_rng(0))


def test_inpainting_removes_highlights_and_leaves_the_rest_alone():
    mask = highlight_mask(WET)
    assert 0.005 < mask.mean() < 0.3
    restored = inpaint_highlights(WET)
    assert np.array_equal(restored[~mask], WET[~mask])
    assert highlight_mask(restored).sum() < 0.2 * mask.sum()
    # the dry scene has no glints: only a pale stone's edge or two passes for one
    assert highlight_mask(SCENE.image).mean() < 0.01 < mask.mean()


def test_restore_writes_every_readable_image_at_its_size(tmp_path):
    write_image(tmp_path / "in" / "wet.png", WET)
    (tmp_path / "in" / "broken.png").write_bytes(b"not a png")
    done = CliRunner().invoke(
        app, ["restore", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--model", "inpaint"]
    )
    assert done.exit_code == 0, done.output
    assert np.array_equal(read_image(tmp_path / "out" / "wet.png"), inpaint_highlights(WET))
    assert "broken.png" in (tmp_path / "out" / "failures.csv").read_text()
    again = CliRunner().invoke(
        app,
        ["restore", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--model", "inpaint"]
        + ["--resume"],
    )
    assert again.exit_code == 0, again.output


def test_evaluate_restore_scores_against_the_dry_images(tmp_path):
    dry = np.full((16, 16, 3), 100, np.uint8)
    write_image(tmp_path / "dry" / "a.png", dry)
    write_image(tmp_path / "pred" / "a.png", dry + 1)  # one grey level off everywhere
    write_image(tmp_path / "pred" / "b.png", dry)  # no reference
    write_image(tmp_path / "dry" / "c.png", dry)
    write_image(tmp_path / "pred" / "c.png", dry)  # identical: no finite PSNR
    done = CliRunner().invoke(
        app,
        ["evaluate", "restore", "--pred", str(tmp_path / "pred"), "--truth", str(tmp_path / "dry")],
    )
    assert done.exit_code == 0, done.output
    metrics = json.loads((tmp_path / "pred" / "metrics.json").read_text())
    assert round(metrics["mean"]["psnr_db"], 2) == 48.13  # c's infinite PSNR left out
    assert metrics["images"]["c"] == {"psnr_db": None, "ssim": 1.0}
    assert metrics["mean"]["ssim"] > 0.99
    assert list(metrics["failures"]) == ["b"]


def test_predict_particles_restores_first_and_shows_before_and_after(tmp_path):
    write_image(tmp_path / "in" / "wet.png", WET)
    config = ParticleConfig(
        method="threshwater", mm_per_px=0.25, restore=True, restore_model="inpaint"
    )
    run_particles([tmp_path / "in"], tmp_path / "out", config, progress=False)
    assert np.array_equal(
        read_image(tmp_path / "out" / "wet" / "restored.png"), inpaint_highlights(WET)
    )
    report = (tmp_path / "out" / "report.html").read_bytes()
    run_particles([tmp_path / "in"], tmp_path / "out", config, progress=False, resume=True)
    assert (tmp_path / "out" / "report.html").read_bytes() == report  # resumed: the same report
    plain = ParticleConfig(method="threshwater", mm_per_px=0.25)
    run_particles([tmp_path / "in"], tmp_path / "plain", plain, progress=False)
    assert not (tmp_path / "plain" / "wet" / "restored.png").exists()


def test_the_zoo_model_restores_by_default_and_before_particles(tmp_path):
    write_image(tmp_path / "in" / "wet.png", WET)
    done = CliRunner().invoke(
        app, ["restore", str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    )
    assert done.exit_code == 0, done.output
    restored = read_image(tmp_path / "out" / "wet.png")
    assert restored.shape == WET.shape
    assert psnr(SCENE.image, restored) > psnr(SCENE.image, WET) + 2  # nearer the dry scene
    config = ParticleConfig(method="threshwater", mm_per_px=0.25, restore=True)
    run_particles([tmp_path / "in"], tmp_path / "particles", config, progress=False)
    assert np.array_equal(read_image(tmp_path / "particles" / "wet" / "restored.png"), restored)
