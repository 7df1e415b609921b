"""``orescope annotate``: scribbles to labels through superpixels, uncertainty maps and
proposals, and the dataset they are exported into, on synthetic data whose answer is known."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sections import CLASSES_YAML, COLOURS, scene, scribbles
from typer.testing import CliRunner

from orescope.cli import annotate
from orescope.errors import InputError
from orescope.infer.uncertainty import (
    UncertaintyMaps,
    entropy_and_margin,
    proposal_table,
    propose_regions,
    uncertainty_maps,
)
from orescope.io import load_lumenstone, read_class_registry, read_image, read_mask, write_image
from orescope.models.spec import ArchitectureSpec
from orescope.models.weights import save_weights
from orescope.preprocess.superpixels import (
    DEFAULT_LEVELS,
    UNLABELLED,
    ScribbleLabeller,
    SuperpixelLevel,
    labels_from_scribbles,
    parse_levels,
    superpixel_hierarchy,
)
from orescope.train import TrainConfig, train_model
from orescope.zoo import ModelCard, load_model, write_card

runner = CliRunner()


def test_one_stroke_per_region_gives_back_the_regions():
    image, truth = scene()
    assert np.array_equal(labels_from_scribbles(image, scribbles()), truth)


def test_untouched_superpixels_stay_unlabelled_unless_filled():
    image, truth = scene()
    strokes = scribbles()
    strokes[36, 44:52] = UNLABELLED  # the disk gets no stroke
    labels = labels_from_scribbles(image, strokes)
    assert np.all(labels[truth == 3] == UNLABELLED)
    assert np.array_equal(labels[truth != 3], truth[truth != 3])
    filled = labels_from_scribbles(image, strokes, fill=True)
    assert not np.any(filled == UNLABELLED)
    assert np.array_equal(filled[truth != 3], truth[truth != 3])


def test_fill_takes_the_class_of_the_labelled_neighbour_nearest_in_colour():
    image = np.zeros((4, 9, 3), np.uint8)
    image[:, :3], image[:, 3:6], image[:, 6:] = (250, 0, 0), (200, 0, 0), (0, 0, 250)
    segments = np.repeat(np.arange(9) // 3, 4).reshape(9, 4).T.astype(np.int32)
    labeller = ScribbleLabeller(image, [segments])
    strokes = np.full((4, 9), UNLABELLED, np.uint8)
    strokes[0, 0], strokes[0, 8] = 1, 2
    labels = labeller.add(strokes)
    assert labels[0].tolist() == [1, 1, 1, 255, 255, 255, 2, 2, 2]
    assert labeller.labels(fill=True)[0].tolist() == [1, 1, 1, 1, 1, 1, 2, 2, 2]


def test_conflicting_strokes_split_the_coarse_superpixel_by_the_finer_one():
    image = np.zeros((6, 8, 3), np.uint8)
    coarse = np.zeros((6, 8), np.int32)
    fine = np.zeros((6, 8), np.int32)
    fine[:, 4:] = 1
    strokes = np.full((6, 8), UNLABELLED, np.uint8)
    strokes[2, 1], strokes[3, 6] = 1, 2
    labels = ScribbleLabeller(image, [coarse, fine]).add(strokes)
    assert np.all(labels[:, :4] == 1) and np.all(labels[:, 4:] == 2)
    one_class = strokes.copy()
    one_class[3, 6] = 1
    assert np.all(ScribbleLabeller(image, [coarse, fine]).add(one_class) == 1)


def test_after_the_finest_scale_pixels_take_the_nearest_stroke():
    image = np.zeros((3, 10, 3), np.uint8)
    segments = np.zeros((3, 10), np.int32)
    strokes = np.full((3, 10), UNLABELLED, np.uint8)
    strokes[1, 1], strokes[1, 8] = 4, 7
    labels = ScribbleLabeller(image, [segments, segments]).add(strokes)
    assert labels.tolist() == [[4] * 5 + [7] * 5] * 3


def test_strokes_added_one_by_one_equal_all_strokes_at_once():
    image, truth = scene(1)
    hierarchy = superpixel_hierarchy(image, parse_levels("slic:600,slic:150,slic:40"))
    rng = np.random.default_rng(3)
    incremental = ScribbleLabeller(image, hierarchy)
    for _ in range(6):
        strokes = np.full(truth.shape, UNLABELLED, np.uint8)
        row, column = rng.integers(0, 72), rng.integers(0, 80)
        strokes[row, column : column + 16] = rng.integers(0, 4)  # not always the true class
        incremental.add(strokes)
    once = ScribbleLabeller(image, hierarchy)
    once.add(incremental.strokes.copy())
    assert len(np.unique(incremental.strokes)) > 2
    assert np.array_equal(incremental.labels(), once.labels())
    assert np.array_equal(incremental.labels(fill=True), once.labels(fill=True))


def test_bad_strokes_and_levels_are_refused():
    image, _ = scene()
    labeller = ScribbleLabeller(image, superpixel_hierarchy(image))
    with pytest.raises(ValueError, match="uint8 of shape"):
        labeller.add(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="method:size"):
        parse_levels("slic")
    with pytest.raises(ValueError, match="slic or felzenszwalb"):
        SuperpixelLevel("watershed", 100)  # type: ignore[arg-type]
    assert parse_levels(annotate.DEFAULT_LEVELS) == DEFAULT_LEVELS


def test_entropy_and_margin_of_known_probabilities():
    probabilities = np.array([[0.5, 1.0, 0.7], [0.5, 0.0, 0.2], [0.0, 0.0, 0.1]])[:, None, :]
    entropy, margin = entropy_and_margin(probabilities)
    third = -(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1)) / math.log(3)
    assert entropy[0] == pytest.approx([math.log(2) / math.log(3), 0.0, third], abs=1e-6)
    assert margin[0] == pytest.approx([0.0, 1.0, 0.5], abs=1e-6)
    sigmoid_entropy, sigmoid_margin = entropy_and_margin(np.array([[[0.5, 0.9]]]))
    assert sigmoid_entropy[0] == pytest.approx([1.0, 0.4689956], abs=1e-6)
    assert sigmoid_margin[0] == pytest.approx([0.0, 0.8], abs=1e-6)


def test_maps_streamed_band_by_band_equal_the_whole_map():
    probabilities = np.random.default_rng(0).dirichlet([1, 1, 1, 1], (30, 20)).transpose(2, 0, 1)
    bands = iter(
        [(0, probabilities[:, :12]), (12, probabilities[:, 12:25]), (25, probabilities[:, 25:])]
    )
    maps = uncertainty_maps((30, 20), bands)
    entropy, margin = entropy_and_margin(probabilities)
    assert np.array_equal(maps.entropy, entropy) and np.array_equal(maps.margin, margin)
    assert np.array_equal(maps.doubt("margin"), 1 - margin)


def test_proposal_covers_the_fraction_with_the_most_uncertain_superpixels():
    superpixels = np.repeat(np.arange(10), 10).reshape(10, 10).T.astype(np.int32)  # columns
    doubt = np.full((10, 10), 0.1)
    doubt[:, 7] = 0.9
    doubt[:, 2] = 0.5
    assert np.array_equal(propose_regions(doubt, 0.1, superpixels), superpixels == 7)
    twice = propose_regions(doubt, 0.15, superpixels)  # half a superpixel more: the next one
    assert np.array_equal(twice, (superpixels == 7) | (superpixels == 2))
    pixels = propose_regions(np.arange(200.0).reshape(10, 20), 0.05)
    assert pixels.sum() == 10 and np.all(pixels[9, 10:])
    with pytest.raises(ValueError, match="fraction"):
        propose_regions(doubt, 0)


def test_proposal_table_lists_regions_most_uncertain_first():
    proposal = np.zeros((6, 10), bool)
    proposal[0:2, 0:3] = proposal[4:6, 6:10] = True
    entropy = np.where(np.arange(10) >= 5, 0.8, 0.3) * np.ones((6, 1))
    maps = UncertaintyMaps(entropy.astype(np.float32), (1 - entropy).astype(np.float32))
    table = proposal_table(proposal, maps)
    assert table["area_px"].tolist() == [8, 6]
    assert table.loc[0, ["row_start", "col_start", "row_stop", "col_stop"]].tolist() == [
        4,
        6,
        6,
        10,
    ]
    assert table["mean_entropy"].tolist() == pytest.approx([0.8, 0.3])
    assert proposal_table(proposal, maps, "margin")["mean_margin"].tolist() == pytest.approx(
        [0.2, 0.7]
    )
    assert proposal_table(np.zeros((3, 3), bool), maps).empty


def _labels_command(tmp_path: Path, image: Path, scribbles: Path, *options: str):
    (tmp_path / "classes.yaml").write_text(CLASSES_YAML)
    arguments = [str(image), str(scribbles), "--out", str(tmp_path / "data")]
    arguments += ["--classes", str(tmp_path / "classes.yaml"), *options]
    return runner.invoke(annotate.app, ["labels", *arguments])


def test_labels_are_exported_into_a_dataset_train_reads(tmp_path):
    image, truth = scene()
    write_image(tmp_path / "in" / "s1.png", image)
    write_image(tmp_path / "in" / "s1_strokes.png", scribbles())
    strokes = scribbles()
    strokes[36, 44:52] = UNLABELLED
    write_image(tmp_path / "in" / "s2.jpg", image)
    write_image(tmp_path / "in" / "s2_strokes.png", strokes)
    result = _labels_command(
        tmp_path, tmp_path / "in" / "s1.png", tmp_path / "in" / "s1_strokes.png"
    )
    assert result.exit_code == 0, result.output
    result = _labels_command(
        tmp_path, tmp_path / "in" / "s2.jpg", tmp_path / "in" / "s2_strokes.png"
    )
    assert result.exit_code == 0, result.output
    samples, registry = load_lumenstone(tmp_path / "data")
    assert [s.stem for s in samples] == ["s1", "s2"]
    assert registry == read_class_registry(tmp_path / "classes.yaml")
    assert np.array_equal(samples[0].read_mask(), truth)
    assert samples[0].read_image().shape == image.shape  # the PNG became a JPEG
    assert (tmp_path / "data" / "images" / "s2.jpg").read_bytes() == (
        tmp_path / "in" / "s2.jpg"
    ).read_bytes()
    second = read_mask(tmp_path / "data" / "masks" / "s2.png")
    assert np.all(second[truth == 3] == UNLABELLED)
    result = _labels_command(
        tmp_path, tmp_path / "in" / "s2.jpg", tmp_path / "in" / "s2_strokes.png", "--fill"
    )
    assert result.exit_code == 0 and "100.0% of the pixels labelled" in result.output
    assert not sorted((tmp_path / "data").rglob(".*partial*"))


def test_a_section_model_trains_on_exported_labels_skipping_the_unlabelled(tmp_path):
    for seed in range(3):  # the split rule gives each side one of s0, s1, s2
        image, _ = scene(seed)
        strokes = scribbles()
        strokes[36, 44:52] = UNLABELLED  # the disk stays 255 in every mask
        write_image(tmp_path / "in" / f"s{seed}.png", image)
        write_image(tmp_path / "in" / f"s{seed}_strokes.png", strokes)
        result = _labels_command(
            tmp_path, tmp_path / "in" / f"s{seed}.png", tmp_path / "in" / f"s{seed}_strokes.png"
        )
        assert result.exit_code == 0, result.output
    source = {"kind": "lumenstone", "path": str(tmp_path / "data")}
    run = {
        "name": "scribbled",
        "out": str(tmp_path / "run"),
        "architecture": {
            "name": "unet",
            "encoder": "tu-mobilenetv3_small_100",
            "options": {"decoder_channels": [16, 16, 8, 8, 8]},
        },
        "target": "classes",
        "sampler": "balanced",
        "train": [source],
        "val": [source],
        "patch": 64,
        "batch_size": 2,
        "patches_per_epoch": 2,
        "epochs": 1,
        "loss": {"name": "ce", "ignore_index": UNLABELLED},
    }
    card = load_model(train_model(TrainConfig.model_validate(run), progress=False)).card
    assert card.class_names == ["background", "chalcopyrite", "galena", "magnetite"]
    assert sorted(card.reference_colours) == [0, 1, 2]  # no colour for 255, none of the disk
    assert card.reference_colours[1] == pytest.approx(tuple(COLOURS[1]), abs=5)  # via JPEG
    del run["loss"]
    run["out"] = str(tmp_path / "refused")
    with pytest.raises(InputError, match=r"class indices \[255\] missing from the registry"):
        train_model(TrainConfig.model_validate(run), progress=False)


def test_scribbles_of_unknown_classes_are_refused_naming_the_file(tmp_path):
    image, _ = scene()
    strokes = scribbles()
    strokes[0, 0:3], strokes[1, 0] = 9, 14
    write_image(tmp_path / "a.png", image)
    write_image(tmp_path / "a_strokes.png", strokes)
    result = _labels_command(tmp_path, tmp_path / "a.png", tmp_path / "a_strokes.png")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "a_strokes.png" in lines[0] and "[9, 14]" in lines[0]
    assert not (tmp_path / "data" / "masks").exists()
    write_image(tmp_path / "blank.png", np.full((72, 96), UNLABELLED, np.uint8))
    result = _labels_command(tmp_path, tmp_path / "a.png", tmp_path / "blank.png")
    assert result.exit_code == 2 and "holds no stroke" in result.output
    result = _labels_command(tmp_path, tmp_path / "a.png", tmp_path / "a.png", "--levels", "x")
    assert result.exit_code == 2 and "--levels" in result.output


def _constant_model(folder: Path) -> Path:
    """A section model whose probabilities are softmax(5, 3, 0) everywhere."""
    spec = ArchitectureSpec(
        name="unet",
        encoder="tu-mobilenetv3_small_100",
        options={"decoder_channels": [16, 16, 8, 8, 8]},
    )
    network = spec.build(3, 3)
    head = network.segmentation_head[0]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor([5.0, 3.0, 0.0]))
    folder.mkdir(parents=True)
    save_weights(network, folder / "model.safetensors")
    card = ModelCard(
        name="constant",
        architecture=spec,
        in_channels=3,
        target="classes",
        class_names=["background", "quartz", "K-feldspar"],
        class_colours=[(0, 0, 0), (255, 255, 0), (255, 0, 255)],
        input_scale=0.5,
        tile=64,
    )
    write_card(folder / "card.yaml", card)
    return folder


def test_uncertainty_command_writes_maps_proposal_and_table(tmp_path):
    image, _ = scene()
    write_image(tmp_path / "a.png", image)
    model = _constant_model(tmp_path / "model")
    out = tmp_path / "out"
    arguments = ["uncertainty", str(tmp_path / "a.png"), "--model", str(model), "--out", str(out)]
    result = runner.invoke(annotate.app, [*arguments, "--fraction", "0.1", "--superpixel-px", "0"])
    assert result.exit_code == 0, result.output
    p = torch.softmax(torch.tensor([5.0, 3.0, 0.0]), 0).numpy()
    entropy = -(p * np.log(p)).sum() / math.log(3)
    assert np.all(read_image(out / "entropy.png") == round(255 * entropy))
    assert np.all(read_image(out / "margin.png") == round(255 * (p[0] - p[1])))
    proposal = read_image(out / "proposal.png")
    assert proposal.shape == image.shape[:2] and np.sum(proposal == 255) == round(0.1 * 72 * 96)
    table = pd.read_csv(out / "proposals.csv")
    assert table["area_px"].sum() == round(0.1 * 72 * 96)
    assert table["mean_entropy"].to_numpy() == pytest.approx(entropy, abs=1e-5)
    result = runner.invoke(annotate.app, [*arguments, "--measure", "margin"])
    assert result.exit_code == 0, result.output
    assert np.mean(read_image(out / "proposal.png") == 255) >= 0.05
    assert "measure: margin" in (out / "config.yaml").read_text()
