"""The readers of user files as fuzzing targets, with a valid seed file for each and a hypothesis
strategy of its mutations; used by tests/test_readers_fuzz.py and bench/fuzz_readers.py."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import tifffile
import yaml
from hypothesis import strategies as st

from orescope.io import read_class_registry, read_coco, read_image, read_labels, read_volume
from orescope.io.images import write_image
from orescope.train.config import read_train_config
from orescope.zoo import read_card

ROOT = Path(__file__).resolve().parents[1]


def _encoded(suffix: str) -> bytes:
    image = np.random.default_rng(0).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"seed{suffix}"
        write_image(path, image)
        return path.read_bytes()


def _tiff(array: np.ndarray, **options: object) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, **options)  # type: ignore[arg-type]
    return buffer.getvalue()


def _coco() -> bytes:
    document = {
        "images": [{"id": 1, "file_name": "a.png", "height": 8, "width": 8}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 6, 1, 6, 6]]}
        ],
        "categories": [{"id": 1, "name": "rock"}],
    }
    return json.dumps(document).encode()


def _registry() -> bytes:
    classes = [{"index": 0, "name": "background"}, {"index": 1, "name": "quartz"}]
    return yaml.safe_dump({"classes": classes}).encode()


READERS: dict[str, tuple[str, Callable[[Path], object]]] = {
    "png": (".png", read_image),
    "jpeg": (".jpg", read_image),
    "bmp": (".bmp", read_image),
    "tiff": (".tif", read_image),
    "labels": (".tif", read_labels),
    "volume": (".tif", read_volume),
    "coco": (".json", read_coco),
    "registry": (".yaml", read_class_registry),
    "card": (".yaml", read_card),
    "config": (".yaml", read_train_config),
}


@cache
def seeds(reader: str) -> list[bytes]:
    """Valid files for ``reader``, the starting points of the mutations."""
    if reader in ("png", "jpeg", "bmp"):
        return [_encoded(READERS[reader][0])]
    if reader == "tiff":
        return [_tiff(np.zeros((12, 16, 3), np.uint8)), _tiff(np.zeros((3, 12, 16), np.uint16))]
    if reader == "labels":
        return [_tiff(np.arange(12 * 16, dtype=np.uint32).reshape(12, 16), compression="zlib")]
    if reader == "volume":
        return [_tiff(np.zeros((4, 12, 16), np.uint16), imagej=True)]
    if reader == "coco":
        return [_coco()]
    if reader == "registry":
        return [_registry()]
    if reader == "card":
        return [(ROOT / "src/orescope/zoo/particles/card.yaml").read_bytes()]
    return [(ROOT / "configs/particles.yaml").read_bytes()]


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """``seed`` with bytes overwritten, cut, or inserted; or bytes of no format at all."""

    @st.composite
    def edit(draw: st.DrawFn) -> bytes:
        content = bytearray(seed)
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, max(0, len(content) - 1)))
            kind = draw(st.sampled_from(["overwrite", "cut", "insert"]))
            chunk = draw(st.binary(min_size=1, max_size=8))
            if kind == "overwrite":
                content[at : at + len(chunk)] = chunk
            elif kind == "cut":
                del content[at : at + draw(st.integers(1, 64))]
            else:
                content[at:at] = chunk
        return bytes(content)

    return st.one_of(edit(), st.binary(max_size=256), st.just(seed[: len(seed) // 2]))
