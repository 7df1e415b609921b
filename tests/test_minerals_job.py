"""``predict minerals`` end to end with section models whose answer is known."""

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from orescope.cli.main import app
from orescope.errors import InputError
from orescope.io import read_image, write_image
from orescope.jobs import MineralConfig, predict_minerals, run_minerals
from orescope.jobs.mineral_run import uncalibrated_colour_note
from orescope.jobs.minerals import calibrate_colours, segment_section
from orescope.models.spec import ArchitectureSpec
from orescope.models.weights import save_weights
from orescope.preprocess.align import align_to, estimate_affine
from orescope.preprocess.colour import ColourCorrection, saturation
from orescope.zoo import LoadedModel, ModelCard, load_model, read_card, write_card

NAMES = ["background", "quartz", "K-feldspar"]
COLOURS = [(0, 0, 0), (255, 255, 0), (255, 0, 255)]
runner = CliRunner()


def _constant_model(
    folder, answer: int, in_channels: int = 3, input_scale: float = 0.5, second: int | None = None
):
    """A U-Net whose last layer ignores its input and always says class ``answer``, and
    class ``second`` as its next best guess."""
    spec = ArchitectureSpec(
        name="unet",
        encoder="tu-mobilenetv3_small_100",
        options={"decoder_channels": [16, 16, 8, 8, 8]},
    )
    network = spec.build(in_channels, len(NAMES))
    head = network.segmentation_head[0]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor([0.0, 0.0, 0.0]).index_fill(0, torch.tensor(answer), 5.0))
        if second is not None:
            head.bias[second] = 3.0
    folder.mkdir(parents=True)
    save_weights(network, folder / "model.safetensors")
    card = ModelCard(
        name="constant",
        architecture=spec,
        in_channels=in_channels,
        target="classes",
        class_names=NAMES,
        class_colours=COLOURS,
        input_scale=input_scale,
        tile=64,
    )
    write_card(folder / "card.yaml", card)
    return folder


def _section(shape=(101, 77)) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (*shape, 3), dtype=np.uint8)


def test_a_constant_model_gives_one_grain_covering_the_section(tmp_path):
    model = _constant_model(tmp_path / "m", answer=2)
    result = predict_minerals(_section(), MineralConfig(model=str(model), um_per_px=2.0))
    assert result.classes.shape == (101, 77) and result.classes.dtype == np.uint8
    assert (result.classes == 2).all()
    assert result.modal["pixels"].tolist() == [0, 0, 101 * 77]
    assert result.modal["mineral_percent"][2] == 100
    assert len(result.grains) == 1 and result.grains["area_um2"][0] == 4 * 101 * 77
    assert result.grains["touches_border"][0]


def test_a_dataset_normalised_model_sees_absolute_brightness(tmp_path):
    """A 1x1 conv saying 'quartz' where the normalised input is above zero: with its own
    statistics a photo's brighter half is always quartz; with the card's (mean 200) neither
    half of a photo at 50 and 150 is, and a photo at 220 and 250 is quartz throughout."""
    network = torch.nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        network.weight.zero_()
        network.weight[1] = 1.0
        network.bias.zero_()
    card = ModelCard(
        name="brightness",
        architecture=ArchitectureSpec(name="unet"),
        target="classes",
        class_names=NAMES,
        input_scale=1.0,
        tile=64,
    )
    dim = np.concatenate([np.full((40, 30, 3), 50), np.full((40, 30, 3), 150)], 1)
    bright = np.concatenate([np.full((40, 30, 3), 220), np.full((40, 30, 3), 250)], 1)
    config = MineralConfig()
    own = segment_section(
        dim.astype(np.uint8), LoadedModel(network, card, tmp_path), config
    ).classes
    assert (own[:, :30] == 0).all() and (own[:, 30:] == 1).all()
    stats = {"channel_mean": [200.0] * 3, "channel_std": [50.0] * 3}
    fixed = card.model_copy(update={"normalisation": "dataset", **stats})
    loaded = LoadedModel(network, fixed, tmp_path)
    assert (segment_section(dim.astype(np.uint8), loaded, config).classes == 0).all()
    assert (segment_section(bright.astype(np.uint8), loaded, config).classes == 1).all()


def test_the_run_writes_the_contract_files_and_skips_a_bad_file(tmp_path):
    model = _constant_model(tmp_path / "m", answer=1)
    inputs = tmp_path / "in"
    write_image(inputs / "a.png", _section())
    write_image(inputs / "b.png", _section((40, 300)))
    (inputs / "broken.jpg").write_bytes(b"not a jpeg")
    config = MineralConfig(model=str(model), liberation="quartz")
    outcome = run_minerals([inputs], tmp_path / "out", config, progress=False)
    assert len(outcome.processed) == 2 and outcome.failures[0][0].endswith("broken.jpg")
    classes = read_image(tmp_path / "out" / "b" / "classes.png")
    assert classes.shape == (40, 300) and set(np.unique(classes)) == {1}
    assert read_image(tmp_path / "out" / "b" / "overlay.png").shape == (40, 300, 3)
    modal = pd.read_csv(tmp_path / "out" / "modal.csv")
    assert modal["mineral"].tolist() == ["quartz"]
    assert modal["pixels"].tolist() == [101 * 77 + 40 * 300]
    liberated = pd.read_csv(tmp_path / "out" / "a" / "liberation.csv")
    assert liberated["particles"].iloc[-1] == 1
    report = (tmp_path / "out" / "report.html").read_text()
    assert "rgb(255, 255, 0)" in report and "broken.jpg" in report
    assert "class borders moved onto the edges in the photos (guided filter, radius 8 px)" in report


def test_a_model_of_absolute_colours_reminds_to_calibrate_uncorrected_photos(tmp_path):
    own, fixed = _constant_model(tmp_path / "own", 1), _constant_model(tmp_path / "fixed", 1)
    card = read_card(fixed / "card.yaml")
    stats = {"channel_mean": [100.0] * 3, "channel_std": [50.0] * 3}
    write_card(fixed / "card.yaml", card.model_copy(update={"normalisation": "dataset", **stats}))
    write_image(tmp_path / "in" / "a.png", _section())
    arguments = ["predict", "minerals", str(tmp_path / "in"), "--out"]
    result = runner.invoke(app, [*arguments, str(tmp_path / "o1"), "--model", str(own)])
    assert result.exit_code == 0 and "note" not in result.output
    result = runner.invoke(app, [*arguments, str(tmp_path / "o2"), "--model", str(fixed)])
    assert result.exit_code == 0
    assert "reads absolute colours" in result.output and "--calibration-image" in result.output
    assert "reads absolute colours" in (tmp_path / "o2" / "report.html").read_text()
    calibrated = MineralConfig(model=str(fixed), colour_masks=str(tmp_path / "masks"))
    assert uncalibrated_colour_note(read_card(fixed / "card.yaml"), calibrated) is None


def test_an_xpl_model_pairs_images_by_stem_and_reports_a_missing_twin(tmp_path):
    model = _constant_model(tmp_path / "m", answer=1, in_channels=6, input_scale=1.0)
    ppl, xpl = tmp_path / "ppl", tmp_path / "xpl"
    for stem in ("s1", "s2"):
        write_image(ppl / f"{stem}.png", _section())
    write_image(xpl / "s1.png", _section())
    outcome = run_minerals([ppl], tmp_path / "out", MineralConfig(model=str(model)), xpl=[xpl])
    assert outcome.processed == [str(ppl / "s1.png")]
    assert "no XPL image" in outcome.failures[0][1]
    with pytest.raises(InputError, match="needs an XPL image"):
        run_minerals([ppl], tmp_path / "out2", MineralConfig(model=str(model)), progress=False)


def test_particle_models_and_unknown_minerals_are_refused_with_one_line(tmp_path):
    model = _constant_model(tmp_path / "m", answer=1)
    write_image(tmp_path / "in" / "a.png", _section())
    result = runner.invoke(
        app,
        [
            "predict",
            "minerals",
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "o"),
            "--model",
            str(model),
            "--liberation",
            "gold",
        ],
    )
    assert result.exit_code == 2 and "no mineral 'gold'" in result.output
    result = runner.invoke(
        app,
        [
            "predict",
            "minerals",
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "o"),
            "--model",
            "particles",
        ],
    )
    assert result.exit_code == 2 and "not a mineral" in result.output


def test_the_minerals_a_section_can_hold_limit_its_map(tmp_path):
    model = _constant_model(tmp_path / "m", answer=2, second=1)
    section = _section()
    assert (predict_minerals(section, MineralConfig(model=str(model))).classes == 2).all()
    limited = predict_minerals(section, MineralConfig(model=str(model), minerals=["Quartz"]))
    assert (limited.classes == 1).all()
    assert limited.modal["pixels"].tolist() == [0, 101 * 77, 0]
    by_index = predict_minerals(section, MineralConfig(model=str(model), minerals=["1"]))
    assert (by_index.classes == 1).all()
    background_first = _constant_model(tmp_path / "b", answer=0, second=2)
    config = MineralConfig(model=str(background_first), minerals=["K-feldspar"])
    assert (predict_minerals(section, config).classes == 0).all()  # the background stays
    write_image(tmp_path / "in" / "a.png", section)
    write_image(tmp_path / "in" / "b.png", section)
    base = ["predict", "minerals", str(tmp_path / "in"), "--model", str(model), "--out"]
    result = runner.invoke(app, [*base, str(tmp_path / "o"), "--minerals", "quartz, background"])
    assert result.exit_code == 0, result.output
    assert (read_image(tmp_path / "o" / "b" / "classes.png") == 1).all()
    assert "minerals:\n- quartz\n- background\n" in (tmp_path / "o" / "config.yaml").read_text()
    result = runner.invoke(app, [*base, str(tmp_path / "o2"), "--minerals", "quartz,gold"])
    assert result.exit_code == 2
    assert result.output.count("no mineral 'gold'; the model knows background, quartz") == 1


def _grains(colours: np.ndarray, seeds: np.ndarray, shape=(460, 560)) -> np.ndarray:
    """A Voronoi mosaic of grains, each filled with its own colour."""
    rows, cols = np.indices(shape)
    distance = (rows[..., None] - seeds[:, 0]) ** 2 + (cols[..., None] - seeds[:, 1]) ** 2
    return colours[distance.argmin(axis=2)]


def test_xpl_alignment_recovers_a_turn_and_shift_despite_other_colours():
    rng = np.random.default_rng(3)
    seeds = rng.uniform(0, (460, 560), size=(250, 2))
    field_ppl = _grains(rng.integers(0, 256, (250, 3), dtype=np.uint8), seeds)
    # crossed polars: each grain gets a colour unrelated to its PPL colour
    field_xpl = _grains(rng.integers(0, 256, (250, 3), dtype=np.uint8), seeds)
    ppl = field_ppl[30:430, 30:530]
    turn = cv2.getRotationMatrix2D((250, 200), 4.0, 1.0)
    turn[:, 2] += (12, -7)
    xpl = cv2.warpAffine(field_xpl[30:430, 30:530], turn, (500, 400))
    expected = cv2.invertAffineTransform(turn)
    matrix = estimate_affine(ppl, xpl)
    corners = np.array([[0, 0, 1], [499, 0, 1], [0, 399, 1], [499, 399, 1]], dtype=float)
    assert np.abs(corners @ matrix.T - corners @ expected.T).max() < 1.0
    aligned = align_to(ppl, xpl)
    inner = np.s_[40:-40, 40:-40]
    assert aligned.shape == ppl.shape
    difference = np.abs(aligned[inner].astype(int) - field_xpl[30:430, 30:530][inner])
    assert np.median(difference) == 0  # only pixels on grain boundaries were interpolated


def test_unrelated_images_cannot_be_aligned():
    rng = np.random.default_rng(4)
    flat = np.full((200, 200, 3), 128, dtype=np.uint8)
    with pytest.raises(InputError, match="align"):
        estimate_affine(flat, rng.integers(0, 255, (200, 200, 3), dtype=np.uint8))


def test_calibration_fits_saturation_only_with_the_cards_reference_saturation(tmp_path):
    card = read_card(_constant_model(tmp_path / "m", answer=1) / "card.yaml")
    reference = {0: (225.0, 222, 210), 1: (150.0, 140, 128), 2: (100.0, 106, 98), 3: (60.0, 58, 66)}
    truth = np.zeros((50, 40, 3), dtype=np.uint8)
    truth[40:] = (190, 168, 150)  # a mineral nobody outlined
    mask = np.full((50, 40), 255, dtype=np.uint8)
    for index, rgb in reference.items():
        truth[index * 10 : index * 10 + 10] = rgb
        mask[index * 10 : index * 10 + 10] = index
    undo = np.vstack([np.diag([1.1, 1.3, 1.8]) @ saturation(1.6), [-0.02, -0.01, 0]])
    inverse = np.linalg.inv(undo[:3])
    photo = ColourCorrection(np.vstack([inverse, -undo[3] @ inverse])).apply(truth)
    errors = []
    for bias in (None, 1.0):
        known = card.model_copy(
            update={"reference_colours": reference, "reference_saturation": bias}
        )
        corrected = calibrate_colours([(photo, mask)], known).apply(photo)
        errors.append(np.abs(corrected[45, 20].astype(float) - truth[45, 20]).max())
    assert errors[1] <= 2 and errors[0] >= 5


def test_calibration_maps_region_colours_onto_the_cards_reference(tmp_path):
    card = read_card(_constant_model(tmp_path / "m", answer=1) / "card.yaml")
    reference = {0: (40.0, 40, 45), 1: (200.0, 190, 120), 2: (150.0, 60, 50), 3: (90.0, 140, 200)}
    card = card.model_copy(update={"reference_colours": reference})
    truth = np.full((40, 40, 3), 0, dtype=np.uint8)
    mask = np.full((40, 40), 255, dtype=np.uint8)  # 255: not outlined
    for index, rgb in reference.items():
        truth[index * 10 : index * 10 + 8] = rgb
        mask[index * 10 : index * 10 + 8, :20] = index
    matrix = np.array([[0.9, 0.05, 0], [0.05, 0.8, 0.05], [0, 0.1, 0.7], [0.02, 0.01, 0.03]])
    photo = ColourCorrection(matrix).apply(truth)
    corrected = calibrate_colours([(photo, mask)], card).apply(photo)
    for index, rgb in reference.items():  # 4 colours: the pull to the white balance costs a few
        assert np.abs(corrected[index * 10 + 4, 30].astype(float) - rgb).max() <= 3
    with pytest.raises(InputError, match="no reference colours"):
        calibrate_colours([(photo, mask)], card.model_copy(update={"reference_colours": {}}))
    # a series: two photos outlining two classes each are too few alone, enough together
    first, second = np.where(mask < 2, mask, 255), np.where(mask >= 2, mask, 255)
    with pytest.raises(InputError, match="at least 4 matching colours"):
        calibrate_colours([(photo, first)], card)
    pooled = calibrate_colours([(photo, first), (photo, second)], card).apply(photo)
    assert np.array_equal(pooled, corrected)


def test_colour_options_fail_with_one_line(tmp_path):
    model = _constant_model(tmp_path / "m", answer=1)
    write_image(tmp_path / "in" / "a.png", _section())
    write_image(tmp_path / "blank.png", _section((10, 10)))
    base = ["predict", "minerals", str(tmp_path / "in"), "--out", str(tmp_path / "o")]
    result = runner.invoke(app, [*base, "--model", str(model), "--calibration-image", "x.png"])
    assert result.exit_code == 2 and "one region mask for each calibration photo" in result.output
    result = runner.invoke(
        app, [*base, "--model", str(model), "--blank", str(tmp_path / "blank.png")]
    )
    assert (
        result.exit_code == 2 and "blank field (10, 10) and image (101, 77) differ" in result.output
    )


def test_several_scales_are_averaged_and_bad_scales_fail_with_one_line(tmp_path):
    model = _constant_model(tmp_path / "m", answer=2)
    write_image(tmp_path / "in" / "a.png", _section())
    base = ["predict", "minerals", str(tmp_path / "in"), "--model", str(model), "--out"]
    result = runner.invoke(app, [*base, str(tmp_path / "o"), "--scales", "0.8,1,1.25"])
    assert result.exit_code == 0, result.output
    classes = read_image(tmp_path / "o" / "a" / "classes.png")
    assert classes.shape == (101, 77) and (classes == 2).all()
    assert "scales:\n- 0.8\n- 1.0\n- 1.25\n" in (tmp_path / "o" / "config.yaml").read_text()
    result = runner.invoke(app, [*base, str(tmp_path / "o2"), "--scales", "1,big"])
    assert result.exit_code == 2 and "--scales takes comma-separated numbers" in result.output
    result = runner.invoke(app, [*base, str(tmp_path / "o3"), "--scales", "0,1"])
    assert result.exit_code == 2 and "scales.0: Input should be greater than 0" in result.output


def test_tiles_go_through_the_model_in_batches_of_the_default_pixels_or_as_told(tmp_path):
    loaded = load_model(_constant_model(tmp_path / "m", answer=1, input_scale=1.0))
    batches = []
    loaded.network.register_forward_pre_hook(lambda _, inputs: batches.append(len(inputs[0])))
    section = _section((300, 300))  # 64² tiles 48 apart: 6 × 6 of them
    assert (segment_section(section, loaded, MineralConfig()).classes == 1).all()
    assert batches == [36]  # up to 4·256² / 64² = 64 tiles a pass
    batches.clear()
    segment_section(section, loaded, MineralConfig(batch_size=16))
    assert batches == [16, 16, 4]


ORE_NAMES = ["background", "A", "B", "C"]
ORE_TYPES = {"t1": ["A", "B"], "t2": ["a", "C"]}  # names match case-insensitively


def _colour_vote_model(tmp_path, ore_types=ORE_TYPES) -> LoadedModel:
    """A 1x1 conv on inputs in [0, 1]: logit 1 for A everywhere, 4 for B where red, 4 for C
    where green; the background's logit is 0."""
    network = torch.nn.Conv2d(3, 4, 1)
    with torch.no_grad():
        network.weight.zero_()
        network.weight[2, 0] = network.weight[3, 1] = 4.0
        network.bias.copy_(torch.tensor([0.0, 1.0, 0.0, 0.0]))
    card = ModelCard(
        name="vote",
        architecture=ArchitectureSpec(name="unet"),
        target="classes",
        class_names=ORE_NAMES,
        input_scale=1.0,
        tile=64,
        normalisation="dataset",
        channel_mean=[0.0] * 3,
        channel_std=[255.0] * 3,
        ore_types=ore_types,
    )
    return LoadedModel(network, card, tmp_path)


def _red_and_green(red_columns: int, shape=(40, 50)) -> np.ndarray:
    image = np.zeros((*shape, 3), dtype=np.uint8)
    image[:, :red_columns, 0] = 255
    image[:, red_columns:, 1] = 255
    return image


def test_each_section_is_kept_to_the_ore_type_its_probabilities_point_to(tmp_path):
    loaded = _colour_vote_model(tmp_path)
    mostly_red = segment_section(_red_and_green(30), loaded, MineralConfig())
    assert mostly_red.ore_type == "t1"
    assert (mostly_red.classes[:, :30] == 2).all()  # B, as without a vote
    assert (mostly_red.classes[:, 30:] == 1).all()  # C is not of t1: the next best, A
    logits = np.array([0.0, 1.0, 4.0, 0.0])  # a red pixel; green has B and C swapped
    p = np.exp(logits) / np.exp(logits).sum()
    evidence_t1, evidence_t2 = 30 * p[2] + 20 * p[3], 30 * p[3] + 20 * p[2]  # per row
    assert mostly_red.evidence == pytest.approx(
        {
            "t1": evidence_t1 / (evidence_t1 + evidence_t2),
            "t2": evidence_t2 / (evidence_t1 + evidence_t2),
        }
    )
    mostly_green = segment_section(_red_and_green(20), loaded, MineralConfig())
    assert mostly_green.ore_type == "t2"
    assert (mostly_green.classes[:, :20] == 1).all() and (mostly_green.classes[:, 20:] == 3).all()
    told = segment_section(_red_and_green(30), loaded, MineralConfig(ore_type="T2"))
    assert told.ore_type == "t2" and told.evidence == {}
    assert (told.classes[:, :30] == 1).all() and (told.classes[:, 30:] == 3).all()
    free = segment_section(_red_and_green(30), loaded, MineralConfig(ore_type="any"))
    assert free.ore_type is None
    assert (free.classes[:, :30] == 2).all() and (free.classes[:, 30:] == 3).all()
    # red pixels tie background and C, and a tie goes to the background: refining the borders
    # would break the tie by rounding
    only_c = MineralConfig(minerals=["C"], refine_px=0)
    by_minerals = segment_section(_red_and_green(30), loaded, only_c)
    assert by_minerals.ore_type is None and (by_minerals.classes[:, :30] == 0).all()


def test_the_vote_streams_over_bands_and_scales_like_one_pass(tmp_path):
    loaded = _colour_vote_model(tmp_path)
    image = _red_and_green(30, shape=(700, 50))  # several 512-row bands of --scales
    one = segment_section(image, loaded, MineralConfig())
    several = segment_section(image, loaded, MineralConfig(scales=[0.8, 1.0, 1.25]))
    assert one.ore_type == several.ore_type == "t1"
    away = np.r_[0:27, 33:50]  # resampled, the red-green edge blurs
    np.testing.assert_array_equal(one.classes[:, away], several.classes[:, away])
    assert several.evidence["t1"] == pytest.approx(one.evidence["t1"], abs=0.01)


def test_a_model_without_ore_types_takes_any_class_unless_a_type_is_named(tmp_path):
    loaded = _colour_vote_model(tmp_path, ore_types={})
    plain = segment_section(_red_and_green(30), loaded, MineralConfig())
    assert plain.ore_type is None and (plain.classes[:, 30:] == 3).all()
    with pytest.raises(InputError, match="model vote lists no ore types: give the minerals"):
        segment_section(_red_and_green(30), loaded, MineralConfig(ore_type="t1"))
    with pytest.raises(InputError, match="no ore type 'gabbro'; the model knows t1, t2"):
        segment_section(
            _red_and_green(30), _colour_vote_model(tmp_path), MineralConfig(ore_type="gabbro")
        )


def test_the_run_lists_each_image_s_ore_type_and_refuses_bad_ones_with_one_line(tmp_path):
    model = _constant_model(tmp_path / "m", answer=2, second=1)
    card = read_card(model / "card.yaml")
    types = {"felsic": ["quartz"], "potassic": ["K-feldspar"]}
    write_card(model / "card.yaml", card.model_copy(update={"ore_types": types}))
    write_image(tmp_path / "in" / "a.png", _section())
    write_image(tmp_path / "in" / "b.png", _section((40, 300)))
    base = ["predict", "minerals", str(tmp_path / "in"), "--model", str(model), "--out"]
    result = runner.invoke(app, [*base, str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "o" / "ore_types.csv")
    assert table.columns.tolist() == ["image", "ore_type", "felsic", "potassic"]
    assert table["image"].tolist() == ["a", "b"] and set(table["ore_type"]) == {"potassic"}
    assert (table["potassic"] > 0.8).all()
    assert (table["felsic"] + table["potassic"]).tolist() == pytest.approx([1.0, 1.0])
    assert "potassic ore: K-feldspar 100.0 %" in (tmp_path / "o" / "report.html").read_text()
    result = runner.invoke(app, [*base, str(tmp_path / "o2"), "--ore-type", "felsic"])
    assert result.exit_code == 0, result.output
    assert (read_image(tmp_path / "o2" / "a" / "classes.png") == 1).all()
    assert pd.read_csv(tmp_path / "o2" / "ore_types.csv").columns.tolist() == ["image", "ore_type"]
    result = runner.invoke(app, [*base, str(tmp_path / "o3"), "--ore-type", "any"])
    assert result.exit_code == 0 and not (tmp_path / "o3" / "ore_types.csv").exists()
    result = runner.invoke(app, [*base, str(tmp_path / "o4"), "--ore-type", "mafic"])
    assert result.exit_code == 2
    assert result.output.count("no ore type 'mafic'; the model knows felsic, potassic") == 1
    result = runner.invoke(
        app, [*base, str(tmp_path / "o5"), "--ore-type", "felsic", "--minerals", "quartz"]
    )
    assert result.exit_code == 2 and "give the minerals or the ore type, not both" in result.output


def test_a_card_or_config_with_ore_types_of_unknown_minerals_is_refused():
    spec = ArchitectureSpec(name="unet")
    with pytest.raises(ValueError, match="ore type 'x': no class 'gold'"):
        ModelCard(
            name="m",
            architecture=spec,
            target="classes",
            class_names=NAMES,
            ore_types={"x": ["quartz", "gold"]},
        )
    with pytest.raises(ValueError, match="ore type 'y' lists no minerals"):
        ModelCard(
            name="m", architecture=spec, target="classes", class_names=NAMES, ore_types={"y": []}
        )


def _late_border_model(tmp_path) -> LoadedModel:
    """Class 1's logit rises with the share of bright pixels from 12 left to 4 right of a
    pixel: on a step from dark to bright, a smooth ramp centred 4 px right of the image's
    edge, as a coarse model's borders miss the grains' edges."""
    network = torch.nn.Conv2d(3, 2, (1, 25), padding=(0, 12))
    with torch.no_grad():
        network.weight.zero_()
        network.weight[1, 0, 0, :17] = 6 / 17
        network.bias.copy_(torch.tensor([0.0, -3.0]))
    card = ModelCard(
        name="late",
        architecture=ArchitectureSpec(name="unet"),
        target="classes",
        class_names=NAMES[:2],
        input_scale=1.0,
        tile=64,
        normalisation="dataset",
        channel_mean=[0.0] * 3,
        channel_std=[255.0] * 3,
    )
    return LoadedModel(network, card, tmp_path)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_class_borders_are_moved_onto_the_image_s_edges_unless_told_not_to(tmp_path, dtype):
    """Also where the step spans 1/256 of a 16-bit image's range: the guide is the image's own
    brightness range."""
    loaded = _late_border_model(tmp_path)
    section = np.zeros((70, 90, 3), dtype=dtype)
    section[:, 30:] = 255
    refined = segment_section(section, loaded, MineralConfig()).classes
    assert (refined == (np.arange(90) >= 30)).all()
    as_predicted = segment_section(section, loaded, MineralConfig(refine_px=0)).classes
    assert (as_predicted == (np.arange(90) >= 34)).all()
    with pytest.raises(ValueError, match="refine_px"):
        MineralConfig(refine_px=-1)


def test_two_photos_with_one_stem_get_a_folder_each(tmp_path):
    model = _constant_model(tmp_path / "m", answer=1)
    for day, shape in (("day1", (40, 300)), ("day2", (50, 60))):
        write_image(tmp_path / day / "a.png", _section(shape))
    days = [tmp_path / "day1", tmp_path / "day2"]
    run_minerals(days, tmp_path / "out", MineralConfig(model=str(model)), progress=False)
    for day, shape in (("day1", (40, 300)), ("day2", (50, 60))):
        assert read_image(tmp_path / "out" / f"{day}_a" / "classes.png").shape == shape
    assert not (tmp_path / "out" / "a").exists()


def test_a_resumed_mineral_run_redoes_only_what_was_cut_and_keeps_the_ore_type_votes(tmp_path):
    folder = _constant_model(tmp_path / "m", answer=2, second=1)
    card = read_card(folder / "card.yaml")
    card.ore_types = {"sandstone": ["quartz"], "arkose": ["quartz", "K-feldspar"]}
    write_card(folder / "card.yaml", card)
    for name, seed in [("a", 0), ("b", 1), ("c", 2)]:
        pixels = np.random.default_rng(seed).integers(0, 255, (60, 70, 3), dtype=np.uint8)
        write_image(tmp_path / "in" / f"{name}.png", pixels)
    config = MineralConfig(model=str(folder), liberation="quartz")
    run_minerals([tmp_path / "in"], tmp_path / "whole", config, progress=False)
    out = tmp_path / "cut"
    run_minerals([tmp_path / "in"], out, config, progress=False)
    manifest = out / "manifest.jsonl"
    manifest.write_text("".join(manifest.read_text().splitlines(keepends=True)[:-1]))
    (out / "modal.csv").unlink()
    (out / "ore_types.csv").unlink()
    outcome = run_minerals([tmp_path / "in"], out, config, progress=False, resume=True)
    assert [Path(p).name for p in outcome.resumed] == ["a.png", "b.png"]
    assert pd.read_csv(out / "ore_types.csv")["ore_type"].tolist() == ["arkose"] * 3

    def files(root):
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "manifest.jsonl"
        }

    assert files(out) == files(tmp_path / "whole")
