"""Learned wet-ore restoration (paper 004): the generators and discriminator, their training
against each other in ``orescope train``, tiled restoration, and the bad inputs the issue
names."""

import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from orescope.cli.main import app
from orescope.errors import InputError
from orescope.infer.restoration import RESTORE_STATS, restore_image
from orescope.io import load_wet_pairs, read_image, write_image
from orescope.models.registry import build_model
from orescope.models.restoration import ImageToImage
from orescope.synth import SceneConfig, synthesize_scene, wet_image
from orescope.train import TrainConfig, train_model
from orescope.train.augment import AugmentConfig
from orescope.train.data import PatchDataset, load_source, with_stats
from orescope.zoo import load_model

TINY = {
    "name": "tiny_restore",
    "seed": 2,
    "architecture": {"name": "restore_unet", "options": {"channels": [8, 16], "residual_units": 1}},
    "target": "restore",
    "train": [{"kind": "synth", "count": 2, "seed": 7, "scene": {"height": 96, "width": 96}}],
    "val": [{"kind": "synth", "count": 1, "seed": 5000, "scene": {"height": 80, "width": 72}}],
    "patch": 64,
    "batch_size": 2,
    "patches_per_epoch": 4,
    "epochs": 2,
    "restoration": {"discriminator": {"name": "patchgan", "options": {"channels": 8}}},
}


def _config(tmp_path, **changes):
    return TrainConfig.model_validate({**TINY, "out": str(tmp_path / "run"), **changes})


def _unchanged(network: ImageToImage) -> ImageToImage:
    """A residual generator whose correction is zero: it must give its input back."""
    with torch.no_grad():
        for parameter in network.unet.parameters():
            parameter.zero_()
    return network.eval()


@pytest.mark.parametrize("name", ["restore_unet", "pix2pix"])
def test_generators_map_images_to_images_of_the_same_size(name):
    network = build_model(name, in_channels=3, classes=3, channels=[8, 16, 32]).eval()
    out = network(torch.rand(2, 3, 64, 96) * 2 - 1)
    assert out.shape == (2, 3, 64, 96)
    if name == "pix2pix":  # tanh: the whole image
        assert out.abs().max() < 1


def test_the_discriminator_scores_patches_of_a_pair():
    critic = build_model("patchgan", in_channels=6, classes=1, channels=8)
    assert critic(torch.zeros(1, 6, 256, 256)).shape == (1, 1, 30, 30)  # 70×70 patches
    with pytest.raises(ValueError, match="one output"):
        build_model("patchgan", in_channels=6, classes=3)
    with pytest.raises(ValueError, match="restore_unet has its own encoder"):
        build_model("restore_unet", classes=3, encoder_weights="imagenet")


def test_tiles_blend_into_the_image_itself_for_a_generator_that_changes_nothing():
    network = _unchanged(build_model("restore_unet", classes=3, channels=[8, 16]))
    rng = np.random.default_rng(0)
    for shape in ((150, 130, 3), (20, 37, 3)):  # many tiles; smaller than one (mirrored out)
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        assert np.array_equal(restore_image(image, network, tile=64), image)
    with pytest.raises(ValueError, match="uint8 RGB photo; got a grey image"):
        restore_image(image[..., 0], network, tile=64)


def test_a_restoration_run_trains_both_networks_and_resumes_exactly(tmp_path, monkeypatch):
    straight = train_model(_config(tmp_path / "a"), progress=False)
    header = (straight / "history.csv").read_text().splitlines()[0]
    assert header.startswith("epoch,lr,train_loss,train_discriminator_loss,val_psnr,val_ssim")
    loaded = load_model(straight)
    card = loaded.card
    assert (card.target, card.class_names, card.particle_px) == (
        "restore",
        ["red", "green", "blue"],
        None,
    )
    assert card.channel_mean == [127.5] * 3 and card.channel_std == [127.5] * 3
    assert card.training.rounds[0].validation["val_psnr"] > 5

    def interrupt_after_one(rows, folder):
        raise KeyboardInterrupt

    monkeypatch.setattr("orescope.train.loop.write_history", interrupt_after_one)
    with pytest.raises(KeyboardInterrupt):
        train_model(_config(tmp_path / "b"), progress=False)
    monkeypatch.undo()
    resumed = train_model(_config(tmp_path / "b"), resume=True, progress=False)
    files = [
        "model.safetensors",
        "discriminator.safetensors",
        "discriminator_optimizer.safetensors",
    ]
    for name in files:
        first, second = (load_file(str(run / "last" / name)) for run in (straight, resumed))
        assert first.keys() == second.keys() and first
        assert all(torch.equal(first[key], second[key]) for key in first), name


def test_restoration_configs_that_cannot_work_are_refused(tmp_path):
    with pytest.raises(ValueError, match="restoration architecture"):
        _config(tmp_path, architecture={"name": "unet"})
    with pytest.raises(ValueError, match="restoration architecture"):
        TrainConfig.model_validate({**TINY, "out": "x", "target": "border_core", "particle_px": 20})
    with pytest.raises(ValueError, match="own scale"):
        _config(tmp_path, particle_px=20)
    with pytest.raises(ValueError, match="trains on synth, gravel, grains, wet_pairs"):
        _config(tmp_path, val=[{"kind": "conveyor", "path": "c"}])
    with pytest.raises(ValueError, match="discriminator must be one of: patchgan"):
        _config(tmp_path, restoration={"discriminator": {"name": "unet"}})


def _pairs(root, count=3, size=(40, 48)):
    for index in range(count):
        scene = synthesize_scene(SceneConfig(height=size[0], width=size[1], seed=index))
        wet = wet_image(scene.image, scene.labels, 0.7, np.random.default_rng(index))
        write_image(root / "dry" / f"p{index}.png", scene.image)
        write_image(root / "wet" / f"p{index}.png", wet)
    return root


def test_recorded_pairs_train_with_the_same_moves_on_wet_and_dry(tmp_path):
    root = _pairs(tmp_path / "pairs")
    source = _config(tmp_path, train=[{"kind": "wet_pairs", "path": str(root)}]).train[0]
    items = with_stats(load_source(source, None, split=None), RESTORE_STATS)
    assert [item.name for item in items] == ["p0", "p1", "p2"]
    moves_only = AugmentConfig(scale_p=0, elastic_p=0)  # crops, flips and turns: exact pixels
    dataset = PatchDataset([items], [1.0], 32, 6, moves_only, "restore", 2, 0)
    for index in range(6):
        wet, dry = (np.moveaxis(t.numpy(), 0, -1) * 127.5 + 127.5 for t in dataset[index])
        # a recorded pair is moved, never recoloured, and both photos alike
        assert any(
            np.allclose(wet, wet_crop, atol=1e-3) and np.allclose(dry, dry_crop, atol=1e-3)
            for item in items
            for wet_crop, dry_crop in _moves(item.wet, item.image, 32)
        )


def _moves(wet, dry, side):
    """Every square crop of a pair under every flip and quarter turn, the same for both."""
    for top in range(wet.shape[0] - side + 1):
        for left in range(wet.shape[1] - side + 1):
            crops = [image[top : top + side, left : left + side] for image in (wet, dry)]
            for turns in range(4):
                turned = [np.rot90(crop, turns) for crop in crops]
                yield turned
                yield [crop[::-1] for crop in turned]
                yield [crop[:, ::-1] for crop in turned]


def test_pairs_without_a_partner_or_of_two_sizes_are_named(tmp_path):
    root = _pairs(tmp_path / "pairs")
    (root / "dry" / "p1.png").unlink()
    with pytest.raises(InputError, match=r"p1.png: has no partner of that name in dry/"):
        load_wet_pairs(root)
    write_image(root / "dry" / "p1.png", np.zeros((10, 10, 3), np.uint8))
    (pair,) = [p for p in load_wet_pairs(root) if p.stem == "p1"]
    with pytest.raises(InputError, match=r"differs in size from its dry twin"):
        pair.read_pair()


def test_restore_command_with_a_model_and_its_bad_inputs(tmp_path):
    run = train_model(_config(tmp_path, epochs=1), progress=False)
    photo = synthesize_scene(SceneConfig(height=70, width=90, seed=3)).image
    write_image(tmp_path / "in" / "wet.png", photo)
    write_image(tmp_path / "in" / "grey.png", photo[..., 0])
    done = CliRunner().invoke(
        app, ["restore", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--model", str(run)]
    )
    assert done.exit_code == 0, done.output
    restored = read_image(tmp_path / "out" / "wet.png")
    loaded = load_model(run)
    assert np.array_equal(restored, restore_image(photo, loaded.network, tile=loaded.card.tile))
    failures = (tmp_path / "out" / "failures.csv").read_text()
    assert "grey.png" in failures and "needs a uint8 RGB photo; got a grey image" in failures
    wrong = run / "discriminator.safetensors"  # beside the generator's card: its name is taken
    shutil.copy(run / "last" / "discriminator.safetensors", wrong)
    refused = CliRunner().invoke(
        app, ["restore", str(tmp_path / "in"), "--out", str(tmp_path / "x"), "--model", str(wrong)]
    )
    assert refused.exit_code == 2
    assert str(wrong) in refused.output and "do not fit ImageToImage" in refused.output
