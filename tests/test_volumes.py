"""Volumes read lazily from every supported layout, with their spacing, and written as OME-Zarr."""

import threading

import dask.array as da
import numpy as np
import pytest
import tifffile
import zarr
from typer.testing import CliRunner

from orescope.cli.main import app
from orescope.errors import InputError
from orescope.io import write_image
from orescope.io.volumes import read_block, read_volume, write_ome_zarr

runner = CliRunner()


def _scan(shape=(6, 20, 30)) -> np.ndarray:
    return (np.arange(np.prod(shape)) % 4099).astype(np.uint16).reshape(shape)


def test_an_imagej_tiff_stack_reads_lazily_with_its_spacing(tmp_path):
    scan = _scan()
    metadata = {"spacing": 0.02, "unit": "mm", "axes": "ZYX"}
    tifffile.imwrite(tmp_path / "s.tif", scan, imagej=True, resolution=(100, 50), metadata=metadata)
    volume = read_volume(tmp_path / "s.tif")
    assert isinstance(volume.data, da.Array) and volume.data.chunksize == (1, 20, 30)
    assert volume.spacing_mm == pytest.approx((0.02, 0.02, 0.01))
    assert np.array_equal(volume.data.compute(), scan)
    assert read_volume(tmp_path / "s.tif", spacing_mm=0.5).spacing_mm == (0.5, 0.5, 0.5)


def test_a_tiff_stack_without_spacing_has_none(tmp_path):
    tifffile.imwrite(tmp_path / "plain.tif", _scan())
    assert read_volume(tmp_path / "plain.tif").spacing_mm is None


def test_a_folder_of_slices_is_one_slice_a_chunk(tmp_path):
    scan = _scan((3, 8, 10))
    for index, plane in enumerate(scan):
        write_image(tmp_path / "slices" / f"z{index:03d}.png", plane)
    volume = read_volume(tmp_path / "slices", spacing_mm=(0.03, 0.01, 0.01))
    assert volume.data.chunksize == (1, 8, 10) and volume.spacing_mm == (0.03, 0.01, 0.01)
    assert np.array_equal(volume.data.compute(), scan)


def test_a_zarr_array_and_an_ome_zarr_round_trip(tmp_path):
    scan = _scan((16, 40, 40))
    stored = zarr.open_array(str(tmp_path / "a.zarr"), mode="w", shape=scan.shape, dtype="u2")
    stored[:] = scan
    volume = read_volume(tmp_path / "a.zarr", spacing_mm=(0.04, 0.02, 0.02))
    written = write_ome_zarr(volume, tmp_path / "b.zarr")
    assert written == tmp_path / "b.zarr" and not list(tmp_path.glob(".*partial*"))
    again = read_volume(written)
    assert again.spacing_mm == pytest.approx((0.04, 0.02, 0.02))
    assert np.array_equal(again.data.compute(), scan) and again.data.chunksize == (16, 40, 40)
    levels = zarr.open_group(str(written), mode="r")
    assert levels["s1"].shape[1:] == (20, 20)  # a pyramid beside the full resolution


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: tifffile.imwrite(p / "v.tif", _scan((20, 30))), "a 2D image, not a volume"),
        (lambda p: tifffile.imwrite(p / "v.tif", _scan((1, 20, 30))), "singleton axis"),
        (lambda p: (p / "v.tif").write_bytes(b"II*\x00 not really"), "TIFF page .* past the end"),
        (lambda p: zarr.open_array(str(p / "v"), mode="w", shape=(4, 4, 4), dtype=bool), "type"),
        (lambda p: zarr.open_array(str(p / "v"), mode="w", shape=(4, 4), dtype="u2"), "2 axes"),
        (lambda p: zarr.open_group(str(p / "v"), mode="w"), "without OME multiscales"),
        (lambda p: (p / "v.npy").write_bytes(b"x"), "not a volume"),
    ],
)
def test_bad_volumes_are_refused_with_a_reason(tmp_path, make, reason):
    make(tmp_path)
    (path,) = [p for p in tmp_path.iterdir()]
    with pytest.raises(InputError, match=reason) as refused:
        read_volume(path)
    assert refused.value.source == str(path)


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_a_truncated_tiff_stack_is_refused_when_opened(tmp_path, compression):
    tifffile.imwrite(tmp_path / "whole.tif", _scan((6, 64, 64)), compression=compression)
    whole = (tmp_path / "whole.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(whole[: len(whole) * 3 // 4])
    with pytest.raises(InputError, match="truncated|not a readable TIFF"):
        read_volume(tmp_path / "cut.tif")


def test_slices_of_different_sizes_name_the_odd_slice(tmp_path):
    write_image(tmp_path / "a.png", np.zeros((8, 10), np.uint8))
    write_image(tmp_path / "b.png", np.zeros((8, 11), np.uint8))
    with pytest.raises(InputError, match=r"slice of \(8, 11\) where the first is \(8, 10\)") as e:
        read_volume(tmp_path)
    assert e.value.source.endswith("b.png")


@pytest.mark.parametrize("spacing", [0, -0.1, float("nan"), (0.1, 0.2)])
def test_a_spacing_that_is_not_positive_is_refused(tmp_path, spacing):
    tifffile.imwrite(tmp_path / "v.tif", _scan())
    with pytest.raises(InputError, match="voxel spacing"):
        read_volume(tmp_path / "v.tif", spacing_mm=spacing)


def test_convert_writes_ome_zarr_and_refuses_a_volume_without_spacing(tmp_path):
    tifffile.imwrite(tmp_path / "v.tif", _scan((8, 32, 32)))
    out = tmp_path / "v.zarr"
    refused = runner.invoke(app, ["convert", str(tmp_path / "v.tif"), str(out)])
    assert refused.exit_code == 2 and "give it (--spacing MM)" in refused.output
    assert not out.exists()
    done = runner.invoke(app, ["convert", str(tmp_path / "v.tif"), str(out), "--spacing", "0.05"])
    assert done.exit_code == 0, done.output
    assert read_volume(out).spacing_mm == pytest.approx((0.05, 0.05, 0.05))


def test_a_block_is_read_in_the_calling_thread_from_dask_zarr_or_memory(tmp_path):
    scan = _scan()
    readers = set()

    def read(block: np.ndarray) -> np.ndarray:
        readers.add(threading.get_ident())
        return block

    lazy = da.from_array(scan, chunks=(2, 10, 10)).map_blocks(read)
    stored = zarr.create_array(
        tmp_path / "scan.zarr", shape=scan.shape, chunks=(2, 10, 10), dtype="u2"
    )
    stored[:] = scan
    box = (slice(1, 5), slice(3, 17), slice(8, 29))
    for volume in (lazy, stored, scan):
        block = read_block(volume, box)
        assert isinstance(block, np.ndarray)
        np.testing.assert_array_equal(block, scan[box])
    assert readers == {threading.get_ident()}  # not a pool of dask's
