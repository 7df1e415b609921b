import json

import numpy as np
import pandas as pd
import pytest
import tifffile

from orescope.errors import InputError
from orescope.io import (
    atomic_path,
    find_images,
    load_gravel,
    polygons_to_labels,
    read_class_registry,
    read_coco,
    read_image,
    read_labels,
    read_mask,
    to_gray_float,
    write_image,
    write_labels,
    write_table,
    write_text,
)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [None, 3, 4])
def test_image_round_trip(tmp_path, suffix, dtype, channels):
    rng = np.random.default_rng(0)
    shape = (7, 5) if channels is None else (7, 5, channels)
    image = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    write_image(tmp_path / f"x{suffix}", image)
    assert np.array_equal(read_image(tmp_path / f"x{suffix}"), image)


def test_jpeg_is_read_as_rgb(tmp_path):
    image = np.zeros((16, 16, 3), np.uint8)
    image[..., 0] = 200  # pure red must stay in channel 0 (OpenCV decodes BGR)
    write_image(tmp_path / "red.jpg", image)
    read = read_image(tmp_path / "red.jpg")
    assert read[..., 0].mean() > 150 and read[..., 2].mean() < 50


def test_planar_tiff_is_moved_to_channels_last(tmp_path):
    planar = np.arange(3 * 6 * 8, dtype=np.uint16).reshape(3, 6, 8)
    tifffile.imwrite(tmp_path / "planar.tif", planar, photometric="rgb", planarconfig="separate")
    assert np.array_equal(read_image(tmp_path / "planar.tif"), np.moveaxis(planar, 0, -1))


def test_gray_of_16_bit_white_is_one(tmp_path):
    assert to_gray_float(np.full((2, 2), 65535, np.uint16)).tolist() == [[1.0, 1.0], [1.0, 1.0]]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.png", b"", "file is empty"),
        ("garbage.png", b"not an image at all", "cannot decode image"),
        (
            "garbage.tif",
            b"II*\x00garbage",
            "cannot decode TIFF|zero size|TIFF page .* past the end",
        ),
    ],
)
def test_unreadable_files_name_file_and_reason(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=reason) as caught:
        read_image(tmp_path / name)
    assert caught.value.source == str(tmp_path / name)


def test_truncated_png_is_refused(tmp_path):
    write_image(
        tmp_path / "full.png",
        np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8),
    )
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot decode"):
        read_image(tmp_path / "cut.png")


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (0, 4), (6, 5, 2)])
def test_unsupported_shapes_are_refused(tmp_path, shape):
    tifffile.imwrite(tmp_path / "odd.tif", np.zeros(shape, np.uint8), photometric="minisblack")
    with pytest.raises(InputError):
        read_image(tmp_path / "odd.tif")


def test_labels_round_trip_as_uint32(tmp_path):
    labels = np.array([[0, 1], [70000, 2]], dtype=np.uint32)
    write_labels(tmp_path / "labels.tif", labels)
    read = read_labels(tmp_path / "labels.tif")
    assert read.dtype == np.uint32 and np.array_equal(read, labels)


def test_rgb_mask_is_refused(tmp_path):
    write_image(tmp_path / "mask.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputError, match="single-channel"):
        read_mask(tmp_path / "mask.png")


def test_polygon_square_rasterises_to_exact_pixels():
    # COCO square from (2, 1) to (6, 4) in pixel-edge coordinates covers columns 2-5, rows 1-3
    labels = polygons_to_labels([[[2, 1, 6, 1, 6, 4, 2, 4]]], (6, 8))
    expected = np.zeros((6, 8), np.uint32)
    expected[1:4, 2:6] = 1
    assert np.array_equal(labels, expected)


def test_coco_file_filters_categories(tmp_path):
    coco = {
        "images": [{"id": 1, "file_name": "a.png", "height": 10, "width": 10}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": [[0, 0, 10, 0, 10, 10, 0, 10]],
            },
            {"id": 2, "image_id": 1, "category_id": 2, "segmentation": [[1, 1, 3, 1, 3, 3, 1, 3]]},
        ],
        "categories": [{"id": 1, "name": "belt"}, {"id": 2, "name": "rock"}],
    }
    (tmp_path / "c.json").write_text(json.dumps(coco))
    (image,) = read_coco(tmp_path / "c.json", {2})
    assert image.categories == {1: 2}
    assert int((image.labels == 1).sum()) == 4


def test_class_registry_with_and_without_palette(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "classes:\n  0: background\n  4: quartz\npalette:\n  4: [1, 2, 3]\n"
    )
    registry = read_class_registry(tmp_path / "a.yaml")
    assert registry.indices == [0, 4]
    assert registry.lookup_table()[4].tolist() == [1, 2, 3]
    assert registry.name(4) == "quartz"
    with pytest.raises(InputError, match="missing from the registry"):
        registry.check_mask(np.array([[0, 3]]), "m.png")


def test_broken_registry_names_the_file(tmp_path):
    (tmp_path / "bad.yaml").write_text("names: [a, b]\n")
    with pytest.raises(InputError, match="bad.yaml: invalid class registry"):
        read_class_registry(tmp_path / "bad.yaml")


def test_find_images_refuses_an_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="folder contains no images"):
        find_images([tmp_path])


def test_a_gravel_folder_reads_without_resolutions_and_then_has_no_scale(tmp_path):
    (tmp_path / "labels").mkdir()
    for stem in ("b", "a"):
        write_image(tmp_path / "images" / f"{stem}.png", np.zeros((8, 8, 3), np.uint8))
        tifffile.imwrite(tmp_path / "labels" / f"{stem}.tif", np.ones((8, 8), np.uint32))
    assert [(s.stem, s.mm_per_px) for s in load_gravel(tmp_path)] == [("a", None), ("b", None)]
    (tmp_path / "resolutions.csv").write_text("name,resolution\na,0.25\n")
    assert [(s.stem, s.mm_per_px) for s in load_gravel(tmp_path)] == [("a", 0.25), ("b", None)]


def test_a_finished_write_leaves_only_the_final_name(tmp_path):
    write_image(tmp_path / "a" / "overlay.png", np.zeros((4, 5, 3), np.uint8))
    write_labels(tmp_path / "a" / "labels.tif", np.ones((4, 5), np.uint32))
    write_table(tmp_path / "a" / "summary.csv", pd.DataFrame({"x": [1, 2]}))
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["labels.tif", "overlay.png", "summary.csv"]
    assert (tmp_path / "a" / "summary.csv").read_text() == "x\n1\n2\n"


def test_a_write_that_fails_midway_keeps_the_earlier_file_and_leaves_no_partial(tmp_path):
    path = tmp_path / "summary.csv"
    write_text(path, "earlier run\n")
    with pytest.raises(RuntimeError), atomic_path(path) as partial:
        partial.write_text("half a ta")
        raise RuntimeError("killed")
    assert [p.name for p in tmp_path.iterdir()] == ["summary.csv"]
    assert path.read_text() == "earlier run\n"


def test_a_folder_is_swapped_in_whole_and_a_leftover_partial_is_cleared(tmp_path):
    store = tmp_path / "labels.zarr"
    with atomic_path(store) as partial:
        partial.mkdir()
        (partial / "old").write_text("1")
    leftover = tmp_path / ".labels.partial.zarr"  # a killed run's half-written folder
    leftover.mkdir()
    (leftover / "stale").write_text("2")
    with atomic_path(store) as partial:
        assert not partial.exists()
        partial.mkdir()
        (partial / "new").write_text("3")
    assert [p.name for p in tmp_path.iterdir()] == ["labels.zarr"]
    assert [p.name for p in store.iterdir()] == ["new"]
