"""Model cards, zoo loading and model-based particle segmentation, with an oracle network
that reads the border-core class written into the image, so every answer is known exactly."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from orescope.errors import InputError
from orescope.infer import particles as infer_particles
from orescope.infer.particles import estimate_particle_px, segment_with_model
from orescope.infer.settings import InferenceSettings
from orescope.instances.border_core import encode_border_core
from orescope.models.spec import ArchitectureSpec
from orescope.models.weights import save_weights
from orescope.preprocess import median_diameter_px
from orescope.preprocess.normalise import channel_stats, zscore_normaliser
from orescope.zoo import (
    LoadedModel,
    ModelCard,
    TrainingRecord,
    TrainingRound,
    load_model,
    read_card,
    write_card,
)

GREY = (0, 160, 80)  # background, core, border: ordered so resampling blends neighbours only
SOFTNESS = 640.0  # logit scale of the oracle: 1/10 of the grey gap squared
ROOT = Path(__file__).resolve().parents[1]


def _scene() -> np.ndarray:
    """Discs and squares on a 300 x 340 grid, some touching, ids 1..N."""
    labels = np.zeros((300, 340), np.uint32)
    yy, xx = np.mgrid[:300, :340]
    ident = 1
    for row in range(4):
        for col in range(5):
            cy, cx, radius = 40 + 70 * row, 35 + 65 * col, 18 + 4 * ((row + col) % 3)
            labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2] = ident
            ident += 1
    labels[20:60, 318:338] = ident  # touches the disc on its left
    return labels


def _oracle(image: np.ndarray, particle_px: float | None) -> LoadedModel:
    """A 1x1 conv whose argmax is the class with the nearest grey level g: the logits
    (g·x − g²/2) / SOFTNESS are linear in the grey value x = std·v + mean of the z-scored
    input v, and confident (P(core) > 0.99 on core pixels) as a trained model is."""
    mean, std = channel_stats(image)
    conv = torch.nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        conv.weight.zero_()
        for c, grey in enumerate(GREY):
            conv.weight[c, 0] = float(grey * std[0] / SOFTNESS)
            conv.bias[c] = float((grey * mean[0] - grey * grey / 2) / SOFTNESS)
    card = ModelCard(
        name="oracle",
        architecture=ArchitectureSpec(),
        class_names=["background", "core", "border"],
        particle_px=particle_px,
        tile=64,
    )
    return LoadedModel(conv.eval(), card, path=None)  # type: ignore[arg-type]


def _image(labels: np.ndarray) -> np.ndarray:
    classes = np.asarray(GREY, np.uint8)[encode_border_core(labels, 2)]
    return np.repeat(classes[..., None], 3, axis=2)


def test_a_perfect_model_at_the_trained_size_gives_back_the_particles():
    truth = _scene()
    image = _image(truth)
    labels = segment_with_model(image, _oracle(image, None), min_area_px=1)
    assert labels.shape == truth.shape and labels.dtype == np.uint32
    assert labels.max() == truth.max()
    assert np.array_equal(labels > 0, truth > 0)
    # same partition: every predicted id maps to exactly one true id
    pairs = np.unique(np.stack([labels[truth > 0], truth[truth > 0]]), axis=1)
    assert pairs.shape[1] == truth.max()


def test_averaging_over_scales_keeps_the_particles_of_a_perfect_model():
    truth = _scene()
    image = _image(truth)
    oracle = _oracle(image, None)
    settings = InferenceSettings.for_model(oracle, scales=(0.8, 1.0, 1.25))
    labels = segment_with_model(image, oracle, min_area_px=1, settings=settings)
    assert labels.max() == truth.max()
    pairs = np.unique(np.stack([labels[truth > 0], truth[truth > 0]]), axis=1)
    assert pairs.shape[1] == truth.max() and np.count_nonzero(pairs[0]) == truth.max()
    single = segment_with_model(image, oracle, min_area_px=1)
    assert np.mean((labels > 0) == (single > 0)) > 0.995  # resampling moves a few edge pixels


def test_the_model_measures_the_particle_size_it_is_shown():
    truth = _scene()
    image = _image(truth)
    true_px = median_diameter_px(truth)
    assert estimate_particle_px(image, _oracle(image, true_px)) == pytest.approx(true_px, rel=0.05)


def test_the_size_estimate_ignores_specks_far_below_the_trained_size():
    truth = _scene()
    true_px = median_diameter_px(truth)
    with_specks = truth.copy()
    ident = int(truth.max()) + 1
    for top in (3, 280):  # 68 specks of 7 x 7 px in the free rows above and below the grid
        for left in range(5, 335, 10):
            with_specks[top : top + 7, left : left + 7] = ident
            ident += 1
    image = _image(with_specks)
    assert median_diameter_px(with_specks) < 10  # the specks outnumber the particles
    assert estimate_particle_px(image, _oracle(image, true_px)) == pytest.approx(true_px, rel=0.05)


def test_a_given_particle_size_skips_the_estimate_and_resamples():
    truth = _scene()
    image = _image(truth)
    oracle = _oracle(image, particle_px=median_diameter_px(truth))
    # told the particles are half their size, the image is enlarged 2x and labels come back
    labels = segment_with_model(image, oracle, particle_px=median_diameter_px(truth) / 2)
    assert labels.shape == truth.shape
    assert abs(int(labels.max()) - int(truth.max())) <= 1


@pytest.mark.parametrize("enlarged", [1.0, 2.0])
def test_an_image_segmented_in_blocks_gives_back_every_particle_whole(monkeypatch, enlarged):
    truth = _scene()
    image = _image(truth)
    true_px = median_diameter_px(truth)
    oracle = _oracle(image, particle_px=true_px)
    whole = segment_with_model(image, oracle, particle_px=true_px / enlarged, min_area_px=1)
    # blocks of 64 px at the model's scale with 16 px around: every particle cut by a face
    monkeypatch.setattr(infer_particles, "BLOCK_PX", 64)
    monkeypatch.setattr(infer_particles, "BLOCK_HALO_PX", 16)
    blocks = segment_with_model(image, oracle, particle_px=true_px / enlarged, min_area_px=1)
    assert blocks.max() == whole.max() == truth.max()
    pairs = np.unique(np.stack([blocks[truth > 0], truth[truth > 0]]), axis=1)
    assert pairs.shape[1] == truth.max() and np.count_nonzero(pairs[0]) == truth.max()
    assert np.mean((blocks > 0) == (whole > 0)) > 0.999


def test_images_smaller_than_a_tile_are_padded_not_refused():
    truth = _scene()[:40, :50]
    image = _image(truth)
    card_tile_64 = _oracle(image, None)
    assert segment_with_model(image, card_tile_64, min_area_px=1).shape == (40, 50)


def test_channel_rules():
    gray = np.zeros((8, 8), np.uint8)
    assert zscore_normaliser(gray, 3)(gray).shape == (3, 8, 8)
    rgba = np.zeros((8, 8, 4), np.uint8)
    assert zscore_normaliser(rgba, 3)(rgba).shape == (3, 8, 8)
    with pytest.raises(InputError, match="expects 6 channels, the image has 3"):
        zscore_normaliser(np.zeros((8, 8, 3), np.uint8), 6)


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((300, 200, 3), np.uint8),
        ((300, 200), np.uint16),
        ((50, 40, 6), np.float32),
        ((30, 20, 5), np.uint32),
    ],
)
def test_channel_statistics_are_exact_for_any_channel_count_and_type(shape, dtype):
    rng = np.random.default_rng(4)
    image = (rng.random(shape) * 200 + 1000 * (np.dtype(dtype) == np.uint16)).astype(dtype)
    mean, std = channel_stats(image)
    pixels = image.reshape(-1, shape[2] if len(shape) == 3 else 1).astype(np.float64)
    assert mean.dtype == std.dtype == np.float32 and mean.shape == (pixels.shape[1],)
    assert np.allclose(mean, pixels.mean(axis=0), rtol=1e-6)
    assert np.allclose(std, pixels.std(axis=0), rtol=1e-5)
    flat = np.full((10, 10, 3), 7, np.uint8)  # no spread: the floor keeps z-scores finite
    assert channel_stats(flat)[1].tolist() == [np.float32(1e-6)] * 3


def test_fixed_statistics_normalise_every_image_alike():
    image = np.array([[[10, 20, 30], [50, 60, 70]]], np.uint8)
    stats = (np.array([30.0, 40.0, 50.0]), np.array([10.0, 20.0, 40.0]))
    values = zscore_normaliser(image, 3, stats)(image)
    assert np.allclose(values[:, 0, 0], [-2.0, -1.0, -0.5])
    assert np.allclose(values[:, 0, 1], [2.0, 1.0, 0.5])
    brighter = image + np.uint8(10)  # own statistics hide a lamp change, fixed ones keep it
    own = zscore_normaliser(image, 3)(image)
    assert np.allclose(zscore_normaliser(brighter, 3)(brighter), own)
    shifted = zscore_normaliser(brighter, 3, stats)(brighter)
    assert np.allclose(shifted, values + 10 / stats[1][:, None, None])
    gray = np.full((2, 2), 40, np.uint8)  # one channel against the channels' average
    assert np.allclose(zscore_normaliser(gray, 3, stats)(gray), (40 - 40) / (70 / 3))


def test_a_dataset_normalised_card_needs_its_statistics():
    fields = {
        "name": "section",
        "architecture": ArchitectureSpec(name="pspnet", encoder="resnet18"),
        "target": "classes",
        "class_names": ["background", "ore"],
        "normalisation": "dataset",
    }
    with pytest.raises(ValueError, match="needs 3 channel_mean"):
        ModelCard(**fields, channel_mean=[1.0, 2.0], channel_std=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="channel_std must be positive"):
        ModelCard(**fields, channel_mean=[1.0, 2.0, 3.0], channel_std=[1.0, 0.0, 1.0])
    card = ModelCard(**fields, channel_mean=[1.0, 2.0, 3.0], channel_std=[4.0, 5.0, 6.0])
    mean, std = card.fixed_stats
    assert mean.tolist() == [1.0, 2.0, 3.0] and std.tolist() == [4.0, 5.0, 6.0]
    assert card.model_copy(update={"normalisation": "image_zscore"}).fixed_stats is None


def _tiny_card(**changes: object) -> ModelCard:
    """A small border-core U-Net's card, with ``changes`` to its fields."""
    return ModelCard(
        name="tiny",
        architecture=ArchitectureSpec(
            name="unet",
            encoder="tu-mobilenetv3_small_100",
            options={"decoder_channels": [16, 16, 8, 8, 8]},
        ),
        class_names=["background", "core", "border"],
        particle_px=30,
    ).model_copy(update=changes)


def test_load_model_round_trip_and_bad_folders(tmp_path):
    card = _tiny_card()
    network = card.architecture.build(3, card.classes)
    save_weights(network, tmp_path / "model.safetensors")
    write_card(tmp_path / "card.yaml", card)
    loaded = load_model(tmp_path / "model.safetensors")
    assert loaded.card == card and not loaded.network.training
    convolutions = [w for w in loaded.network.parameters() if w.ndim == 4]
    assert convolutions and all(
        w.is_contiguous(memory_format=torch.channels_last) for w in convolutions
    )
    batch = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(loaded.network(batch), network.eval()(batch), atol=1e-4)
    with pytest.raises(InputError, match="no such model"):
        load_model(tmp_path / "missing")
    other = card.model_copy(update={"architecture": ArchitectureSpec(name="fpn")})
    write_card(tmp_path / "card.yaml", other)
    with pytest.raises(InputError, match="do not fit"):
        load_model(tmp_path)
    (tmp_path / "card.yaml").write_text("name: x\nsurprise: 1\n")
    with pytest.raises(InputError, match="not a valid model card"):
        load_model(tmp_path)


def test_a_model_saves_and_loads_its_weights_and_card_together(tmp_path):
    card = _tiny_card(training=TrainingRecord(rounds=[TrainingRound(command="a", epochs=0)]))
    model = LoadedModel.untrained(card)
    assert model.network.training and model.save(tmp_path / "m") == tmp_path / "m"
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["card.yaml", "model.safetensors"]
    loaded = load_model(tmp_path / "m")
    assert loaded.card == card and loaded.path == tmp_path / "m"
    fresh, saved = model.network.state_dict(), loaded.network.state_dict()
    assert all(torch.equal(fresh[key], saved[key]) for key in fresh)
    other = LoadedModel.untrained(card)
    other.load_weights_of(tmp_path / "m" / "model.safetensors")
    assert all(torch.equal(fresh[key], other.network.state_dict()[key]) for key in fresh)


def test_after_epoch_counts_every_epoch_and_keeps_the_best_epochs_scores():
    card = _tiny_card(training=TrainingRecord(rounds=[TrainingRound(), TrainingRound()]))
    card = card.after_epoch(1, {"val_ap50": 0.4}).after_epoch(2).after_epoch(3)
    first, latest = card.training.rounds
    assert first == TrainingRound()
    assert (latest.epochs, latest.best_epoch, latest.validation) == (3, 1, {"val_ap50": 0.4})


def test_cards_written_before_0_4_read_as_one_round(tmp_path):
    document = _tiny_card().model_dump(mode="json")
    document["training"] = {
        "command": "orescope train x.yaml",
        "init": None,
        "epochs": 7,
        "data": [{"kind": "gravel"}],
        "description": "old",
    }
    (tmp_path / "card.yaml").write_text(yaml.safe_dump(document))
    training = read_card(tmp_path / "card.yaml").training
    assert training == TrainingRecord(
        description="old",
        rounds=[
            TrainingRound(
                command="orescope train x.yaml", epochs=7, best_epoch=7, data=[{"kind": "gravel"}]
            )
        ],
    )


def test_add_to_zoo_bundles_half_weights_and_can_restate_the_training(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("add_to_zoo", ROOT / "tools" / "add_to_zoo.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    first = TrainingRound(command="orescope train a.yaml", epochs=5, best_epoch=4)
    latest = TrainingRound(command="orescope train run.yaml", init="tiny", epochs=3)
    card = _tiny_card(name="run", training=TrainingRecord(rounds=[first, latest]))
    run = tmp_path / "run"
    run.mkdir()
    save_weights(card.architecture.build(3, card.classes), run / "model.safetensors")
    write_card(run / "card.yaml", card)
    monkeypatch.setattr(tool, "ZOO_DIR", tmp_path / "zoo")
    argv = ["add_to_zoo.py", str(run), "tiny", "--init", "the previous tiny (round 1)"]
    monkeypatch.setattr("sys.argv", [*argv, "--description", "two rounds"])
    tool.main()
    bundled = load_model(tmp_path / "zoo" / "tiny")
    assert bundled.card.name == "tiny"
    assert bundled.card.training == TrainingRecord(
        description="two rounds",
        rounds=[first, latest.model_copy(update={"init": "the previous tiny (round 1)"})],
    )
    stored = load_file(tmp_path / "zoo" / "tiny" / "model.safetensors")
    original = load_file(run / "model.safetensors")
    for key, value in original.items():
        expected = value.half() if value.is_floating_point() else value
        assert torch.equal(stored[key], expected), key
