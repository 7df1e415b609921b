"""Mineral maps block by block: on a cluster's workers as in one process, and panoramas read
lazily from OME-Zarr."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import zarr
from ome_zarr.writer import write_multiscales_metadata
from scipy.ndimage import gaussian_filter
from typer.testing import CliRunner

import orescope.jobs.mineral_run as mineral_run
import orescope.jobs.minerals as minerals
import orescope.preprocess.normalise as normalise
from orescope.cli.main import app
from orescope.errors import InputError
from orescope.infer.ore_types import OreTypeVote
from orescope.io import find_images, image_size, write_image
from orescope.io.panoramas import Panorama, read_panorama
from orescope.jobs import MineralConfig, run_minerals
from orescope.models.spec import ArchitectureSpec
from orescope.models.weights import save_weights
from orescope.preprocess.normalise import zscore_normaliser
from orescope.zoo import ModelCard, load_model, write_card

NAMES = ["background", "quartz", "K-feldspar"]
BLOCK_PX = 48  # at the model's scale (0.5): 96 px of the image at most, 64 more around


@pytest.fixture
def tiny_blocks(monkeypatch):
    monkeypatch.setattr(minerals, "SECTION_BLOCK_PX", BLOCK_PX)


def _random_model(folder: Path) -> Path:
    """A small U-Net of seeded random weights, its head scaled so that each class's logit has
    mean 0 and spread 1 on a section like the tests': its three classes follow the image, so
    blocks that saw different context would show."""
    spec = ArchitectureSpec(
        name="unet",
        encoder="tu-mobilenetv3_small_100",
        options={"decoder_channels": [16, 16, 8, 8, 8]},
    )
    torch.manual_seed(0)
    network = spec.build(3, len(NAMES)).eval()
    calibration = _section((128, 128), seed=9)
    inputs = torch.from_numpy(zscore_normaliser(calibration, 3)(calibration))[None]
    with torch.no_grad():
        logits = network(inputs)[0]
        mean, spread = logits.mean(dim=(1, 2)), logits.std(dim=(1, 2))
        head = network.segmentation_head[0]
        head.weight.div_(spread[:, None, None, None])
        head.bias.sub_(mean).div_(spread)
    folder.mkdir(parents=True)
    save_weights(network, folder / "model.safetensors")
    card = ModelCard(
        name="random",
        architecture=spec,
        target="classes",
        class_names=NAMES,
        class_colours=[(0, 0, 0), (255, 255, 0), (255, 0, 255)],
        input_scale=0.5,
        tile=64,
        ore_types={"sandstone": ["quartz"], "feldspathic": ["K-feldspar"]},
    )
    write_card(folder / "card.yaml", card)
    return folder


def _section(shape=(230, 300), seed=0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(size=(*shape, 3))
    smooth = gaussian_filter(noise, sigma=(6, 6, 0))
    return np.clip(128 + 900 * smooth, 0, 255).astype(np.uint8)


def _write_panorama(path: Path, image: np.ndarray, dtype=None) -> Path:
    """``image`` as ``orescope stitch`` writes a panorama: axes c, y, x, in chunks."""
    group = zarr.open_group(str(path), mode="w")
    planes = np.moveaxis(image, -1, 0) if image.ndim == 3 else image
    level = group.create_array(
        "0", shape=planes.shape, chunks=(*planes.shape[:-2], 64, 64), dtype=dtype or image.dtype
    )
    level[:] = planes
    axes = ["c", "y", "x"][-planes.ndim :] if planes.ndim <= 3 else ["t", "c", "y", "x"]
    scale = [{"type": "scale", "scale": [1.0] * planes.ndim}]
    write_multiscales_metadata(
        group, [{"path": "0", "coordinateTransformations": scale}], axes=axes, name="panorama"
    )
    return path


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "manifest.jsonl"
    }


def test_blocks_on_two_workers_write_exactly_what_one_process_writes(
    tmp_path, tiny_blocks, monkeypatch
):
    model = _random_model(tmp_path / "m")
    for name, seed in (("a", 0), ("b", 1)):
        write_image(tmp_path / "in" / f"{name}.png", _section(seed=seed))
    config = MineralConfig(model=str(model), liberation="quartz")
    # on one core, as each worker is: a network's sums come out to the last bit only with
    # the same threads (its classes, and so the maps and tables, agree either way)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_minerals([tmp_path / "in"], tmp_path / "one", config, progress=False)
    finally:
        torch.set_num_threads(threads)
    in_blocks = []
    section_outputs = mineral_run._section_outputs

    def spied(*args, **kwargs):
        in_blocks.append(kwargs.get("run"))
        return section_outputs(*args, **kwargs)

    monkeypatch.setattr(mineral_run, "LARGE_IMAGE_PX", 0)  # every image goes block by block
    monkeypatch.setattr(mineral_run, "_section_outputs", spied)
    run_minerals([tmp_path / "in"], tmp_path / "two", config, progress=False, workers=2)
    assert len(in_blocks) == 2 and all(run is not None for run in in_blocks)
    one, two = _files(tmp_path / "one"), _files(tmp_path / "two")
    assert "a/classes.png" in one and "ore_types.csv" in one and "a/liberation.csv" in one
    assert one == two  # maps, tables, votes and report, to the byte
    classes = mineral_run.read_image(tmp_path / "one" / "a" / "classes.png")
    assert classes.shape == (230, 300) and len(np.unique(classes)) == 2  # of its ore type
    assert not any(p.name.startswith(".") for p in (tmp_path / "two" / "a").iterdir())


def test_a_vote_over_block_cores_tallies_each_pixel_once():
    probabilities = np.random.default_rng(0).dirichlet(np.ones(4), size=(10, 12)).T
    probabilities = np.ascontiguousarray(probabilities.transpose(0, 2, 1), np.float32)
    types = {"x": [0, 1, 2], "y": [0, 1, 3]}
    whole = OreTypeVote(types)
    whole(probabilities)
    tallies = []
    for rows, columns in ((slice(0, 4), slice(0, 7)), (slice(4, 10), slice(0, 7))):
        part = whole.counting((rows, columns))
        for top in (0, 5):  # the window's evidence, whatever bands the rows come in
            part(probabilities[:, top : top + 5])
        tallies.append(part.evidence)
    right = whole.counting((slice(0, 10), slice(7, 12)))
    right(probabilities)
    summed = whole.tallied([*tallies, right.evidence])
    np.testing.assert_allclose(summed.evidence, whole.evidence, rtol=1e-12)
    assert (
        summed.decide(np.stack([np.zeros((2, 2)), np.ones((2, 2))]))[0]
        == whole.decide(np.stack([np.zeros((2, 2)), np.ones((2, 2))]))[0]
    )


def test_a_panorama_is_read_block_by_block_into_the_map_of_its_image(
    tmp_path, tiny_blocks, monkeypatch
):
    model = _random_model(tmp_path / "m")
    image = _section()
    write_image(tmp_path / "photo" / "section.png", image)
    path = _write_panorama(tmp_path / "pano" / "section.ome.zarr", image)
    assert find_images([path]) == [path] and image_size(path) == (230, 300)
    panorama = read_panorama(path)
    assert panorama.shape == (230, 300, 3) and panorama.dtype == np.uint8
    np.testing.assert_array_equal(panorama[10:20, 30:35], image[10:20, 30:35])
    reads: list[tuple[int, ...]] = []
    read = Panorama.__getitem__

    def spied(self, key):
        part = read(self, key)
        reads.append(part.shape)
        return part

    monkeypatch.setattr(normalise, "STATS_SAMPLES", 10_000)  # statistics of every third pixel
    monkeypatch.setattr(Panorama, "__getitem__", spied)
    config = MineralConfig(model=str(model))
    loaded = load_model(str(model))
    lazy = minerals.segment_section(panorama, loaded, config)
    # blocks of 96 px: 230 rows in 3 cores of 77 (the last 76), 300 columns in 4 of 75, each
    # seen with 64 more around, moved inside the image: 205 x 203 pixels
    assert len(reads) == 1 + 12 and reads[0] == (77, 100, 3)
    assert set(reads[1:]) == {(205, 203, 3)}
    monkeypatch.setattr(Panorama, "__getitem__", read)
    run_minerals([tmp_path / "photo"], tmp_path / "photo_out", config, progress=False)
    photo = tmp_path / "photo_out" / "section"
    assert (mineral_run.read_image(photo / "classes.png") == lazy.classes).all()
    assert pd.read_csv(tmp_path / "photo_out" / "ore_types.csv")["ore_type"][0] == lazy.ore_type
    run_minerals([path], tmp_path / "pano_out", config, progress=False)
    assert _files(tmp_path / "pano_out") == _files(tmp_path / "photo_out")


@pytest.mark.parametrize(
    ("planes", "dtype", "reason"),
    [
        (np.zeros((2, 3, 40, 50)), "u1", r"axes \['t', 'c', 'y', 'x'\]"),
        (np.zeros((3, 40, 50)), "i8", "unsupported pixel type int64"),
        (np.zeros((2, 40, 50)), "u1", "2 channels"),
    ],
)
def test_a_zarr_that_is_no_image_is_refused_naming_it(tmp_path, planes, dtype, reason):
    path = tmp_path / "bad.zarr"
    _write_panorama(path, np.moveaxis(planes, -3, -1) if planes.ndim == 3 else planes, dtype)
    with pytest.raises(InputError, match=reason) as refused:
        read_panorama(path)
    assert refused.value.source == str(path)


def test_a_plain_zarr_array_is_refused_with_one_line(tmp_path):
    path = tmp_path / "plain.zarr"
    zarr.open_array(str(path), mode="w", shape=(40, 50), dtype="u1")
    with pytest.raises(InputError, match="not an OME-Zarr image"):
        read_panorama(path)
    model = _random_model(tmp_path / "m")
    command = ["predict", "minerals", str(path), "--model", str(model), "--out", str(tmp_path)]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    assert "plain.zarr" in result.output and "not an OME-Zarr image" in result.output
