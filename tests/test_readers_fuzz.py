"""Every reader of user files, fed generated and mutated bytes, either reads them or stops with
one clean ``InputError`` naming the file: never another exception, never an allocation that a
header merely claims. (Issue 33; ``bench/fuzz_readers.py`` runs the same targets for minutes.)"""

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from readers import READERS, mutated, seeds

from orescope.errors import InputError
from orescope.io import find_images, read_image, write_image

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_a_png_header_claiming_ten_billion_pixels_is_refused_before_decoding(tmp_path):
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b""))
    (tmp_path / "bomb.png").write_bytes(bomb + _chunk(b"IEND", b""))
    with pytest.raises(InputError, match=r"bomb.png: claims 100000 x 100000 pixels, more than"):
        read_image(tmp_path / "bomb.png")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".tif"])
def test_the_pixel_limit_holds_for_every_format_and_can_be_raised(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"photo{suffix}"
    write_image(path, np.zeros((30, 40, 3), np.uint8))
    monkeypatch.setenv("ORESCOPE_MAX_PIXELS", "1199")
    with pytest.raises(InputError, match="claims 40 x 30 pixels, more than the limit of 1199"):
        read_image(path)
    monkeypatch.setenv("ORESCOPE_MAX_PIXELS", "1200")
    assert read_image(path).shape == (30, 40, 3)


def test_a_planar_tiff_is_limited_by_its_plane_not_its_channels(tmp_path, monkeypatch):
    tifffile.imwrite(tmp_path / "planar.tif", np.zeros((3, 30, 40), np.uint8), photometric="rgb")
    monkeypatch.setenv("ORESCOPE_MAX_PIXELS", "1200")
    assert read_image(tmp_path / "planar.tif").shape == (30, 40, 3)


@pytest.mark.parametrize("reader", sorted(READERS))
@SETTINGS
@given(data=st.data())
def test_mutated_files_are_read_or_refused_cleanly(tmp_path: Path, reader: str, data) -> None:
    seed = data.draw(st.sampled_from(seeds(reader)))
    content = data.draw(mutated(seed))
    suffix, read = READERS[reader]
    path = tmp_path / f"input{suffix}"
    path.write_bytes(content)
    try:
        read(path)
    except InputError as error:
        assert error.source is not None and error.reason


def test_a_symbolic_link_loop_and_an_unreadable_folder_are_named(tmp_path, monkeypatch):
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    with pytest.raises(InputError, match=r"loop.png: a symbolic link to nothing \(a loop"):
        read_image(tmp_path / "loop.png")

    def refused(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "iterdir", refused)
    with pytest.raises(InputError, match=r"folder cannot be read \(Permission denied\)"):
        find_images([tmp_path])


@pytest.mark.parametrize(
    ("reader", "content", "reason"),
    [
        ("card", b"\x80name: particles\n", "not a valid model card"),
        ("config", b"\x80name: particles\n", "not valid YAML"),
        ("coco", b'{"images": [{"id": 1}], "annotations": []}', "missing 'height'"),
        ("coco", b'{"images": [], "annotations": [{"id": 1}]}', "missing 'segmentation'"),
    ],
)
def test_what_fuzzing_found_stays_a_clean_error(tmp_path, reader, content, reason):
    suffix, read = READERS[reader]
    path = tmp_path / f"found{suffix}"
    path.write_bytes(content)
    with pytest.raises(InputError, match=reason):
        read(path)


def test_a_bmp_wider_than_opencv_allows_is_a_clean_error(tmp_path):
    seed = bytearray(seeds("bmp")[0])
    seed[18:22] = struct.pack("<i", 2**21)  # over OpenCV's width limit, under the pixel limit
    (tmp_path / "wide.bmp").write_bytes(bytes(seed))
    with pytest.raises(InputError, match="wide.bmp: cannot decode image"):
        read_image(tmp_path / "wide.bmp")


@pytest.mark.parametrize("reader", ["tiff", "labels", "volume"])
def test_a_tiff_page_without_rows_is_refused_at_once(tmp_path, reader):
    # fuzzing found it: tifffile walks such a page again and again without end
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.ones((3, 4, 4), np.uint8))
    content = bytearray(buffer.getvalue())
    first = struct.unpack("<I", content[4:8])[0]
    for entry in range(struct.unpack("<H", content[first : first + 2])[0]):
        at = first + 2 + 12 * entry
        if struct.unpack("<H", content[at : at + 2])[0] == 257:  # ImageLength
            content[at + 8 : at + 12] = struct.pack("<I", 0)
    suffix, read = READERS[reader]
    path = tmp_path / f"rowless{suffix}"
    path.write_bytes(bytes(content))
    with pytest.raises(InputError, match=r"rowless.tif: a TIFF page of \(0, .*pixels: no image"):
        read(path)


def _next_offset_at(content: bytearray, ifd: int) -> int:
    """Where a classic little-endian TIFF page at byte ``ifd`` keeps its next page's offset."""
    return ifd + 2 + 12 * struct.unpack("<H", content[ifd : ifd + 2])[0]


@pytest.mark.parametrize("loop", ["back to the first page", "through an empty page"])
@pytest.mark.parametrize("reader", ["tiff", "labels", "volume"])
def test_tiff_pages_that_loop_are_refused_at_once(tmp_path, reader, loop):
    # fuzzing found both: tifffile catches a page pointing to itself, not these
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.ones((2, 4, 4), np.uint8), photometric="minisblack")
    content = bytearray(buffer.getvalue())
    first = struct.unpack("<I", content[4:8])[0]
    second_at = _next_offset_at(content, first)
    second = struct.unpack("<I", content[second_at : second_at + 4])[0]
    if loop == "back to the first page":
        at = _next_offset_at(content, second)
        content[at : at + 4] = struct.pack("<I", first)
    else:
        empty = len(content) + len(content) % 2
        content += b"\0" * (empty - len(content))
        content += struct.pack("<HI", 0, empty)  # no entries, and itself as the next page
        content[second_at : second_at + 4] = struct.pack("<I", empty)
    suffix, read = READERS[reader]
    path = tmp_path / f"looping{suffix}"
    path.write_bytes(bytes(content))
    with pytest.raises(InputError, match="looping.tif: its TIFF pages loop back to the page at"):
        read(path)


def test_a_tiff_stack_whose_slices_claim_a_gigapixel_is_refused(tmp_path):
    # fuzzing found it: a stack of four pages each claiming 1.5 billion rows, which dask then
    # cut into as many chunks as rows; a slice is held to the pixel limit of any image
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.ones((4, 4, 4), np.uint8), photometric="minisblack")
    content = bytearray(buffer.getvalue())
    page = struct.unpack("<I", content[4:8])[0]
    while page:
        for entry in range(struct.unpack("<H", content[page : page + 2])[0]):
            at = page + 2 + 12 * entry
            if struct.unpack("<H", content[at : at + 2])[0] == 257:  # ImageLength
                content[at + 8 : at + 12] = struct.pack("<I", 1_572_543_881)
        at = _next_offset_at(content, page)
        page = struct.unpack("<I", content[at : at + 4])[0]
    (tmp_path / "tall.tif").write_bytes(bytes(content))
    with pytest.raises(InputError, match="tall.tif: claims 4 x 1572543881 pixels"):
        READERS["volume"][1](tmp_path / "tall.tif")
