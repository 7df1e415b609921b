import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from orescope.errors import InputError
from orescope.infer.particles import predict_particle_map, segment_with_model
from orescope.io import write_image
from orescope.models.spec import ArchitectureSpec
from orescope.preprocess.colour import mean_class_colours, reference_saturation
from orescope.synth import SceneConfig, synthesize_scene
from orescope.train import DataSource, TrainConfig, loop, read_train_config, train_model
from orescope.train.augment import AugmentConfig
from orescope.train.card import INHERITED, inherit_from
from orescope.train.config import LossConfig
from orescope.train.data import BalancedPatches, PatchDataset, dataset_stats, load_source
from orescope.train.losses import segmentation_loss
from orescope.zoo import ModelCard, load_model

TINY = {
    "name": "tiny",
    "seed": 1,
    "architecture": {
        "name": "unet",
        "encoder": "tu-mobilenetv3_small_100",
        "options": {"decoder_channels": [16, 16, 8, 8, 8]},
    },
    "particle_px": 20,
    "train": [{"kind": "synth", "count": 2, "seed": 3, "scene": {"height": 160, "width": 160}}],
    "val": [{"kind": "synth", "count": 1, "seed": 5000, "scene": {"height": 128, "width": 128}}],
    "patch": 64,
    "batch_size": 2,
    "patches_per_epoch": 4,
    "epochs": 2,
}


def _config(tmp_path, **changes):
    return TrainConfig.model_validate({**TINY, "out": str(tmp_path / "run"), **changes})


def test_a_run_writes_a_loadable_model_card_history_and_checkpoint(tmp_path):
    out = train_model(_config(tmp_path), progress=False, command="orescope train tiny.yaml")
    history = (out / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,lr,train_loss,val_ap50") and len(history) == 3
    assert (out / "curves.png").stat().st_size > 0
    loaded = load_model(out)
    assert loaded.card.name == "tiny" and loaded.card.target == "border_core"
    (step,) = loaded.card.training.rounds
    assert step.command == "orescope train tiny.yaml" and step.init is None
    assert step.epochs == 2 and step.best_epoch in (1, 2) and step.patches_per_epoch == 4
    assert sorted(step.validation) == sorted(f"val_{name}" for name in loop.VALIDATION_SCORES)
    assert loaded.card.tile == 64  # the patch, when no tile is given
    assert loaded.network(torch.zeros(1, 3, 64, 64)).shape == (1, 3, 64, 64)


def test_a_distance_run_gives_a_model_of_nine_levels_that_predict_particles(tmp_path):
    out = train_model(_config(tmp_path, target="distance", epochs=1), progress=False)
    loaded = load_model(out)
    assert loaded.card.target == "distance" and len(loaded.card.class_names) == 9
    assert loaded.network(torch.zeros(1, 3, 64, 64)).shape == (1, 9, 64, 64)
    image = synthesize_scene(SceneConfig(height=96, width=96, seed=5)).image
    labels = segment_with_model(image, loaded, particle_px=20.0)
    assert labels.shape == (96, 96) and labels.dtype == np.uint32


def test_validation_and_the_card_use_the_given_tile(tmp_path, monkeypatch):
    seen = []

    def recording(image, model, target, in_channels, settings, **kwargs):
        seen.append((settings.tile, settings.batch_size))
        return predict_particle_map(image, model, target, in_channels, settings, **kwargs)

    monkeypatch.setattr(loop, "predict_particle_map", recording)
    out = train_model(_config(tmp_path, tile=96, epochs=1), progress=False)
    assert seen == [(96, 28)]  # one validation scene, 96² tiles, 28 of them per pass
    card = load_model(out).card
    assert card.tile == 96 and card.metrics == {}
    assert card.training.rounds[0].validation_data.endswith("trained scale, 96 px tiles")


@pytest.mark.parametrize("ema_decay", [None, 0.9])
def test_resume_continues_exactly_where_the_run_stopped(tmp_path, monkeypatch, ema_decay):
    straight = train_model(_config(tmp_path / "a", epochs=3, ema_decay=ema_decay), progress=False)
    epochs_done = []

    def interrupt_after_two(rows, folder):
        epochs_done.append(len(rows))
        if len(rows) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("orescope.train.loop.write_history", interrupt_after_two)
    with pytest.raises(KeyboardInterrupt):
        train_model(_config(tmp_path / "b", epochs=3, ema_decay=ema_decay), progress=False)
    monkeypatch.undo()
    resumed = train_model(
        _config(tmp_path / "b", epochs=3, ema_decay=ema_decay), resume=True, progress=False
    )
    assert epochs_done == [1, 2]
    assert len((resumed / "history.csv").read_text().splitlines()) == 4
    files = ["model.safetensors"] + (["ema.safetensors"] if ema_decay else [])
    assert sorted(p.name for p in (resumed / "last").glob("*.safetensors")) == sorted(
        files + ["optimizer.safetensors"]
    )
    for name in files:
        first = load_file(str(straight / "last" / name))
        second = load_file(str(resumed / "last" / name))
        assert first.keys() == second.keys()
        for key in first:
            assert torch.equal(first[key], second[key]), (name, key)
    assert (straight / "model.safetensors").read_bytes() == (
        resumed / "model.safetensors"
    ).read_bytes()
    assert (straight / "card.yaml").read_text() == (resumed / "card.yaml").read_text()


def test_the_weight_average_is_what_validation_and_the_saved_model_hold(tmp_path, monkeypatch):
    states = []
    make = loop.make_optimizer

    def recording(model, config):
        optimizer = make(model, config)
        step = optimizer.step

        def step_and_record(*args, **kwargs):
            result = step(*args, **kwargs)
            states.append({k: v.detach().clone() for k, v in model.state_dict().items()})
            return result

        optimizer.step = step_and_record
        return optimizer

    validated = []
    score = loop.validate

    def recording_validation(model, images, config):
        validated.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return score(model, images, config)

    monkeypatch.setattr(loop, "make_optimizer", recording)
    monkeypatch.setattr(loop, "validate", recording_validation)
    out = train_model(_config(tmp_path, epochs=1, ema_decay=0.75), progress=False)
    assert len(states) == 2 and len(validated) == 1  # two steps of two patches, one epoch
    saved = load_file(out / "model.safetensors")
    averaged = [key for key, value in states[0].items() if value.is_floating_point()]
    assert averaged and any(not torch.equal(states[0][k], states[1][k]) for k in averaged)
    for key in averaged:
        # the first step is copied, then each step is blended in with weight 1 - decay
        expected = 0.75 * states[0][key] + 0.25 * states[1][key]
        torch.testing.assert_close(saved[key], expected)
        torch.testing.assert_close(validated[0][key], expected)
    with pytest.raises(ValueError, match="ema_decay"):
        _config(tmp_path, ema_decay=1.0)


def test_init_starts_from_given_weights_and_refuses_a_mismatch(tmp_path):
    first = train_model(_config(tmp_path / "a", epochs=1), progress=False)
    tuned = train_model(
        _config(
            tmp_path / "b",
            epochs=1,
            init=str(first / "model.safetensors"),
            optimizer={"lr": 1e-12, "weight_decay": 0},
        ),
        progress=False,
    )
    start, end = load_file(first / "model.safetensors"), load_file(tuned / "model.safetensors")
    learned = [
        k for k in start if not k.endswith(("running_mean", "running_var", "batches_tracked"))
    ]
    assert learned and all(torch.allclose(start[k], end[k], atol=1e-9) for k in learned)
    before, then = load_model(first).card.training, load_model(tuned).card.training
    assert then.rounds[:-1] == before.rounds and len(then.rounds) == 2
    assert then.rounds[-1].init == str(first / "model.safetensors")
    other = {"name": "unet", "encoder": "tu-mobilenetv3_small_100"}
    with pytest.raises(InputError, match="model.safetensors"):
        train_model(_config(tmp_path / "c", init=str(first), architecture=other), progress=False)
    with pytest.raises(InputError, match="no such model"):
        train_model(_config(tmp_path / "d", init="no_such_model"), progress=False)


def test_a_channels_last_run_learns_what_the_default_layout_learns(tmp_path):
    # plain SGD: Adam's normalised steps would turn float rounding near zero into ±lr
    sgd = {"name": "sgd", "lr": 0.01}
    default = train_model(_config(tmp_path / "a", epochs=1, optimizer=sgd), progress=False)
    last = train_model(
        _config(tmp_path / "b", epochs=1, optimizer=sgd, channels_last=True), progress=False
    )
    first = load_file(default / "last" / "model.safetensors")
    second = load_file(last / "last" / "model.safetensors")
    assert first.keys() == second.keys()
    for key in first:
        assert torch.allclose(first[key], second[key], atol=1e-4), key


def test_a_second_run_into_the_same_folder_needs_resume(tmp_path):
    train_model(_config(tmp_path, epochs=1), progress=False)
    with pytest.raises(InputError, match="--resume"):
        train_model(_config(tmp_path, epochs=1), progress=False)


def test_patches_depend_only_on_seed_epoch_and_index(tmp_path):
    config = _config(tmp_path)
    images = load_source(config.train[0], config.particle_px)
    make = lambda: PatchDataset(  # noqa: E731
        [images], [1.0], 64, 4, config.augment, "border_core", 2, seed=5
    )
    first, second = make(), make()
    second.set_epoch(1)
    second.set_epoch(0)
    image_a, target_a = first[3]
    image_b, target_b = second[3]
    assert torch.equal(image_a, image_b) and torch.equal(target_a, target_b)
    assert set(np.unique(target_a.numpy())) <= {0, 1, 2}
    first.set_epoch(1)
    assert not torch.equal(first[3][0], image_a)


def test_training_images_are_resampled_to_the_target_particle_size(tmp_path):
    from orescope.preprocess import median_diameter_px

    config = _config(tmp_path)
    for item in load_source(config.train[0], 20.0):
        assert abs(median_diameter_px(item.labels) - 20.0) < 1.5


def test_config_errors_name_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**TINY, "out": "run", "epochz": 3}))
    with pytest.raises(InputError, match="epochz"):
        read_train_config(path)
    path.write_text(yaml.safe_dump({**TINY, "out": "run", "patch": 100}))
    with pytest.raises(InputError, match="patch 100 is not a multiple of 32"):
        read_train_config(path)
    path.write_text(yaml.safe_dump({**TINY, "out": "run", "tile": 100}))
    with pytest.raises(InputError, match="tile 100 is not a multiple of 32"):
        read_train_config(path)


def test_relative_paths_are_read_from_the_config_folder(tmp_path):
    path = tmp_path / "configs" / "c.yaml"
    path.parent.mkdir()
    gravel = {"kind": "gravel", "path": "../data/gravel"}
    path.write_text(yaml.safe_dump({**TINY, "out": "../runs/x", "train": [gravel]}))
    config = read_train_config(path)
    assert config.out == str(tmp_path / "runs" / "x")
    assert config.train[0].path == str(tmp_path / "data" / "gravel")


def test_bce_dice_weights_dice_by_alpha():
    logits = torch.tensor([[[[2.0, -1.0], [0.5, -3.0]]]])
    target = torch.tensor([[[1, 0], [0, 0]]])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], target.float())
    probs = torch.sigmoid(logits[:, 0])
    dice = 1 - (2 * (probs * target).sum() + 1) / (probs.sum() + target.sum() + 1)
    found = segmentation_loss(logits, target, LossConfig(name="bce_dice", alpha=0.6))
    assert torch.isclose(found, 0.4 * bce + 0.6 * dice)


def test_ignored_pixels_do_not_count():
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 1, 0, 0] = 5.0
    target = torch.tensor([[[1, 255], [255, 255]]])
    loss = segmentation_loss(logits, target, LossConfig(name="ce", ignore_index=255))
    expected = -torch.log_softmax(logits[0, :, 0, 0], dim=0)[1]
    assert torch.isclose(loss, expected)


def test_unlabelled_pixels_of_a_sparse_annotation_do_not_count():
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 2, 0, 0] = 3.0
    target = torch.tensor([[[2, -1], [-1, -1]]])
    for name in ("ce", "bce_dice"):
        alone = segmentation_loss(logits[..., :1, :1], target[..., :1, :1], LossConfig(name=name))
        assert torch.isclose(segmentation_loss(logits, target, LossConfig(name=name)), alone)


def _conveyor_folder(root, sizes=(10, 14)):
    """A 96×96 crop with square rocks of the given sides outlined, the rest left open."""
    import json

    (root / "images").mkdir(parents=True)
    write_image(root / "images" / "c1.png", np.full((96, 96, 3), 120, dtype=np.uint8))
    squares = [
        [[x, 10, x + side, 10, x + side, 10 + side, x, 10 + side]]
        for x, side in zip((10, 40), sizes, strict=True)
    ]
    coco = {
        "images": [{"id": 1, "file_name": "c1.png", "height": 96, "width": 96}],
        "annotations": [
            {"id": i, "image_id": 1, "category_id": 2, "segmentation": ring}
            for i, ring in enumerate(squares, start=1)
        ],
    }
    (root / "annotations.json").write_text(json.dumps(coco))
    return DataSource(kind="conveyor", path=str(root))


def test_conveyor_crops_train_on_their_outlined_rocks_only(tmp_path):
    source = _conveyor_folder(tmp_path / "conveyor")
    (item,) = load_source(source, particle_px=None)
    assert np.unique(item.labels).tolist() == [-1, 1, 2]
    assert (item.labels == 1).sum() == 100 and (item.labels == 2).sum() == 196
    still = {"flip": False, "rot90": False, "scale_p": 0, "brightness": 0, "contrast": 0}
    still |= {"colour": 0, "blur_p": 0, "noise_std": 0}

    def patch_target(touching_p: float) -> np.ndarray:
        augment = AugmentConfig(**still, touching_p=touching_p)
        patches = PatchDataset([[item]], [1.0], 96, 1, augment, "border_core", 2, seed=0)
        return patches[0][1].numpy()

    target = patch_target(0.0)
    assert (target == -1).sum() == 96 * 96 - 296 and not (target == 0).any()
    assert target[15, 15] == 1 and target[10, 15] == 2  # core inside, border on the rim
    pasted = patch_target(1.0)  # a copy of an outlined rock, pasted on open ground, is trained on
    assert 96 * 96 - 296 - 196 <= (pasted == -1).sum() <= 96 * 96 - 296 - 100
    assert not (pasted == 0).any()
    (resampled,) = load_source(source, particle_px=24.0)  # median ECD 13.5 px → 24 px
    assert resampled.image.shape == (170, 170, 3) and (resampled.labels == -1).any()


def test_sparse_conveyor_labels_cannot_validate(tmp_path):
    conveyor = {"kind": "conveyor", "path": "x"}
    with pytest.raises(ValueError, match="sparse"):
        TrainConfig.model_validate({**TINY, "out": str(tmp_path), "val": [conveyor]})
    TrainConfig.model_validate({**TINY, "out": str(tmp_path), "train": [conveyor]})


def _section_config(tmp_path, data, **changes):
    source = {"kind": "thinsections", "path": str(data / "thinsections"), "scale": 0.25}
    section = {
        **TINY,
        "target": "classes",
        "train": [{**source, "stems": ["2a", "3a"]}],
        "val": [{**source, "stems": ["5a"]}],
        "loss": {"name": "ce"},
        "augment": {"touching_p": 0},
        "out": str(tmp_path / "run"),
    }
    return TrainConfig.model_validate({**section, **changes})


def test_a_section_run_with_xpl_and_balanced_patches_gives_a_six_channel_class_model(
    tmp_path, shared_data
):
    config = _section_config(tmp_path, shared_data, xpl=True, sampler="balanced")
    out = train_model(config, progress=False)
    assert (out / "history.csv").read_text().startswith("epoch,lr,train_loss,val_miou,")
    model = load_model(out)
    assert model.card.in_channels == 6 and model.card.target == "classes"
    assert model.card.class_names == [
        "background",
        "K-feldspar",
        "lithic fragments",
        "plagioclase",
        "quartz",
    ]
    assert model.network(torch.zeros(1, 6, 64, 64)).shape == (1, 5, 64, 64)
    assert len(list((out / "content_maps").glob("*.npy"))) == 2
    images = load_source(config.train[0], None, xpl=True)
    photos = [(item.image[..., :3], item.labels) for item in images]
    expected = mean_class_colours(photos)
    assert sorted(model.card.reference_colours) == sorted(expected)
    for index, rgb in expected.items():
        assert model.card.reference_colours[index] == pytest.approx(tuple(rgb))
    assert model.card.reference_saturation == pytest.approx(reference_saturation(photos))
    assert model.card.reference_saturation is not None


def test_dataset_normalisation_pools_the_training_images_and_goes_on_the_card(
    tmp_path, shared_data
):
    config = _section_config(tmp_path, shared_data, normalisation="dataset", epochs=1)
    images = load_source(config.train[0], None)
    pixels = np.concatenate([item.image.reshape(-1, 3) for item in images]).astype(np.float64)
    mean, std = dataset_stats(images)
    assert np.allclose(mean, pixels.mean(axis=0), rtol=1e-5)
    assert np.allclose(std, pixels.std(axis=0), rtol=1e-4)
    card = load_model(train_model(config, progress=False)).card
    assert card.normalisation == "dataset"
    assert card.fixed_stats is not None
    assert np.allclose(card.fixed_stats[0], mean) and np.allclose(card.fixed_stats[1], std)


def test_ore_types_go_on_the_card_and_unknown_minerals_stop_the_run_first(tmp_path, shared_data):
    types = {"arkose": ["quartz", "K-feldspar"], "quartz arenite": ["Quartz"]}
    card = load_model(
        train_model(
            _section_config(tmp_path, shared_data, epochs=1, ore_types=types), progress=False
        )
    ).card
    assert card.ore_types == types
    wrong = _section_config(tmp_path / "b", shared_data, ore_types={"arkose": ["quartz", "gold"]})
    with pytest.raises(InputError, match="ore type 'arkose': no class 'gold'"):
        train_model(wrong, progress=False)
    assert not (tmp_path / "b" / "run" / "history.csv").exists()


def test_balanced_workers_draw_their_own_distinct_windows_reproducibly(tmp_path, shared_data):
    config = _section_config(tmp_path, shared_data, patches_per_epoch=40)
    images = load_source(config.train[0], None)
    patches = PatchDataset([images], [1.0], 64, 40, config.augment, "classes", 2, seed=5)
    stream = BalancedPatches(patches, [0, 1, 2, 3, 4], stride=8, cache=None)
    first, second = stream.windows(0, 2), stream.windows(1, 2)
    assert len(first) == len(second) == 20
    assert len(set(first + second)) == 40
    assert stream.windows(0, 2) == first
    stream.set_epoch(1)
    assert stream.windows(0, 2) != first
    loader = torch.utils.data.DataLoader(stream, batch_size=4, num_workers=2)
    batches = list(loader)
    assert len(batches) == 10 and batches[0][0].shape == (4, 3, 64, 64)
    assert set(torch.cat([t for _, t in batches]).unique().tolist()) <= {0, 1, 2, 3, 4}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"target": "border_core"}, "target 'classes'"),
        ({"xpl": True, "train": [{"kind": "lumenstone", "path": "x"}], "val": []}, "xpl"),
        ({"target": "border_core", "sampler": "balanced", "train": TINY["train"]}, "balanced"),
        ({"target": "border_core", "ore_types": {"x": ["A"]}, "train": TINY["train"]}, "ore_types"),
    ],
)
def test_inconsistent_section_configs_are_refused(tmp_path, changes, message):
    source = {"kind": "thinsections", "path": "x"}
    base = {**TINY, "target": "classes", "train": [source], "val": [], "out": str(tmp_path)}
    with pytest.raises(ValueError, match=message):
        TrainConfig.model_validate({**base, **changes})


def test_section_masks_that_do_not_fit_their_images_are_refused(tmp_path, shared_data):
    root = tmp_path / "lumenstone"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "classes.yaml").write_text((shared_data / "lumenstone" / "classes.yaml").read_text())
    write_image(root / "images" / "s1.jpg", np.zeros((40, 50, 3), dtype=np.uint8))
    write_image(root / "masks" / "s1.png", np.zeros((40, 49), dtype=np.uint8))
    source = DataSource(kind="lumenstone", path=str(root))
    with pytest.raises(InputError, match=r"s1.png.*mask \(40, 49\) and image \(40, 50\)"):
        load_source(source, None)
    write_image(root / "masks" / "s1.png", np.full((40, 50), 13, dtype=np.uint8))
    with pytest.raises(InputError, match=r"s1.png.*indices \[13\] missing from the registry"):
        load_source(source, None)


def test_fine_tuning_takes_what_the_config_leaves_out_from_the_starting_models_card(tmp_path):
    parent = ModelCard(
        name="parent",
        architecture=ArchitectureSpec(name="fpn", encoder="resnet18"),
        target="foreground",
        border_px=3,
        class_names=["particle"],
        particle_px=24.0,
    )
    bare = {k: v for k, v in TINY.items() if k not in {*INHERITED, "out"}}
    config = TrainConfig.model_validate({**bare, "out": str(tmp_path)})
    assert (config.architecture.name, config.particle_px) == ("unet", 32.0)  # the defaults
    taken = inherit_from(config, parent)
    assert (taken.architecture, taken.target) == (parent.architecture, "foreground")
    assert (taken.border_px, taken.particle_px) == (3, 24.0)
    assert inherit_from(config, None) == config
    chosen = TrainConfig.model_validate({**bare, "out": str(tmp_path), "particle_px": 40})
    assert inherit_from(chosen, parent).particle_px == 40.0
