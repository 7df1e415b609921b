"""End-to-end: the command line on generated scenes, bad files included."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from orescope.cli.main import app
from orescope.io import read_image, read_labels, write_labels

runner = CliRunner()


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scenes")
    result = runner.invoke(
        app,
        [
            "synth",
            "particles",
            "--out",
            str(folder),
            "--count",
            "2",
            "--height",
            "200",
            "--width",
            "240",
            "--x50-mm",
            "5",
            "--seed",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    return folder


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["predict"],
        ["predict", "particles"],
        ["predict", "minerals"],
        ["synth", "particles"],
        ["evaluate", "particles"],
        ["demo"],
        ["train"],
    ],
)
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_synth_writes_the_gravel_layout(scenes):
    assert sorted(p.name for p in (scenes / "images").iterdir()) == [
        "scene_000.png",
        "scene_001.png",
    ]
    assert (scenes / "resolutions.csv").read_text().splitlines() == [
        "name,resolution",
        "scene_000,0.25",
        "scene_001,0.25",
    ]
    assert read_labels(scenes / "labels" / "scene_000.tif").shape == (200, 240)


def test_predict_keeps_going_past_a_bad_file(scenes, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG truncated")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "predict",
            "particles",
            str(scenes / "images"),
            str(bad),
            "--out",
            str(out),
            "--mm-per-px",
            "0.25",
        ],
    )
    assert result.exit_code == 0, result.output
    for stem in ("scene_000", "scene_001"):
        labels = read_labels(out / stem / "labels.tif")
        assert labels.shape == read_image(scenes / "images" / f"{stem}.png").shape[:2]
        assert labels.max() > 10
        assert read_image(out / stem / "overlay.png").shape == (200, 240, 3)
        table = pd.read_csv(out / stem / "particles.csv")
        assert len(table) == labels.max()
        assert np.allclose(table["ecd_mm"], 0.25 * table["ecd_px"])
    failures = pd.read_csv(out / "failures.csv")
    assert failures["file"].tolist() == [str(bad)]
    summary = pd.read_csv(out / "summary.csv")
    assert summary["image"].tolist() == ["scene_000", "scene_001", "all"]
    assert summary["particles"].iloc[2] == summary["particles"].iloc[:2].sum()
    psd = pd.read_csv(out / "psd.csv")
    assert set(psd["basis"]) == {"count", "mass"} and "sieve_mm" in psd.columns
    html = (out / "report.html").read_text()
    assert "broken.png" in html
    assert html.count("data:image/png;base64,") == 1  # the PSD plot
    assert html.count("data:image/jpeg;base64,") == 2  # the two images' thumbnails
    assert "mm_per_px: 0.25" in (out / "config.yaml").read_text()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--mm-per-px", "0"], "mm_per_px"),
        (["--mm-per-px", "5000"], "plausible"),
        (["--method", "magic"], "method"),
        (
            ["--model", "no_such_model"],
            "no such model; zoo models: ct-particles, lumenstone, lumenstone_zscore, particles, "
            "restore, thinsection",
        ),
        (["--particle-px", "-3"], "particle_px"),
    ],
)
def test_bad_options_fail_with_one_line(scenes, tmp_path, arguments, message):
    result = runner.invoke(
        app, ["predict", "particles", str(scenes / "images"), "--out", str(tmp_path), *arguments]
    )
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_nothing_processable_exits_non_zero(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    result = runner.invoke(
        app, ["predict", "particles", str(tmp_path / "empty.png"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "empty.png: file is empty" in result.output
    (tmp_path / "nothing").mkdir()
    result = runner.invoke(
        app, ["predict", "particles", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "folder contains no images" in result.output


def test_evaluate_scores_a_perfect_prediction_as_perfect(scenes, tmp_path):
    pred = tmp_path / "pred"
    truth = read_labels(scenes / "labels" / "scene_000.tif")
    write_labels(pred / "scene_000" / "labels.tif", truth)
    write_labels(pred / "scene_001" / "labels.tif", truth[:100])  # wrong shape: reported, skipped
    result = runner.invoke(
        app, ["evaluate", "particles", "--pred", str(pred), "--truth", str(scenes)]
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((pred / "metrics.json").read_text())
    assert metrics["images"]["scene_000"]["ap90"] == 1.0
    assert metrics["images"]["scene_000"]["p50_relative_error"] == 0.0
    assert "differs from reference" in metrics["failures"]["scene_001"]


def test_demo_reports_on_the_real_photo_and_the_generated_scenes(tmp_path):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    generated = json.loads((tmp_path / "metrics.json").read_text())
    assert sorted(generated["images"]) == ["scene_000", "scene_001", "scene_002"]
    assert generated["mean"]["ap50"] > 0.5
    photo = tmp_path / "gravel_photo"
    real = json.loads((photo / "metrics.json").read_text())
    assert list(real["images"]) == ["6_P1060355_0"] and real["mean"]["ap50"] > 0.1
    assert read_labels(photo / "6_P1060355_0" / "labels.tif").shape == (512, 512)
    assert set(pd.read_csv(photo / "summary.csv")["mm_per_px"]) == {0.39}
    for folder in (tmp_path, photo):
        assert (folder / "report.html").stat().st_size > 10_000
        assert str(folder / "report.html") in result.output.replace("\n", "")


def test_classical_methods_stay_available(scenes, tmp_path):
    out = tmp_path / "out"
    arguments = ["predict", "particles", str(scenes / "images"), "--out", str(out)]
    result = runner.invoke(app, [*arguments, "--method", "threshwater"])
    assert result.exit_code == 0, result.output
    assert "method: threshwater" in (out / "config.yaml").read_text()
    assert read_labels(out / "scene_000" / "labels.tif").max() > 10


def test_train_refuses_a_bad_config_with_one_line(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("name: x\nout: run\ntrain: [{kind: synth}]\nepochs: 0\n")
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 2
    assert "epochs: Input should be greater than or equal to 1" in result.output
    assert "Traceback" not in result.output
