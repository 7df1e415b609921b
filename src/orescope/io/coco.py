"""COCO polygon annotations -> instance label images."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from skimage.draw import polygon

from orescope.errors import InputError
from orescope.io.images import max_pixels


@dataclass(frozen=True)
class CocoImage:
    """One image of a COCO file with its rasterised instances."""

    file_name: str
    labels: np.ndarray  # uint32 (H, W), one id per annotation, 0 = unlabelled
    categories: dict[int, int]  # label id -> COCO category id


def polygons_to_labels(polygons: list[list[list[float]]], shape: tuple[int, int]) -> np.ndarray:
    """Rasterise instances (each a list of flat ``[x0, y0, x1, y1, ...]`` rings) into labels.

    Instance ``i`` gets id ``i + 1``; later instances are drawn over earlier ones. Coordinates
    are COCO's (x, y) with pixel centres at +0.5: a pixel belongs to a polygon when its centre
    lies inside it.
    """
    labels = np.zeros(shape, dtype=np.uint32)
    for index, rings in enumerate(polygons, start=1):
        for ring in rings:
            if len(ring) < 6:
                continue
            points = np.asarray(ring, dtype=np.float64).reshape(-1, 2) - 0.5
            rows, cols = polygon(points[:, 1], points[:, 0], shape=shape)
            labels[rows, cols] = index
    return labels


def read_coco(path: str | Path, category_ids: set[int] | None = None) -> list[CocoImage]:
    """Read a COCO file; keep only annotations whose category is in ``category_ids`` if given.

    RLE-encoded (crowd) annotations are rejected with a clear error rather than silently dropped.
    """
    path = Path(path)
    try:
        coco = json.loads(path.read_text())
        return _coco_images(path, coco, category_ids)
    except InputError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
        reason = f"missing {error}" if isinstance(error, KeyError) else str(error)
        raise InputError(path, f"not a COCO annotation file ({reason})") from None


def _coco_images(path: Path, coco: dict, category_ids: set[int] | None) -> list[CocoImage]:
    images = coco["images"]
    by_image: dict[int, list[dict]] = {image["id"]: [] for image in images}
    for annotation in coco["annotations"]:
        if category_ids is None or annotation["category_id"] in category_ids:
            if not isinstance(annotation["segmentation"], list):
                raise InputError(path, f"annotation {annotation['id']} is RLE, not polygons")
            by_image.setdefault(annotation["image_id"], []).append(annotation)
    result = []
    for image in images:
        kept = by_image[image["id"]]
        shape = (int(image["height"]), int(image["width"]))
        if min(shape) < 1 or shape[0] * shape[1] > max_pixels():
            raise InputError(path, f"image {image['id']} has an impossible size {shape}")
        labels = polygons_to_labels([a["segmentation"] for a in kept], shape)
        categories = {i: a["category_id"] for i, a in enumerate(kept, start=1)}
        result.append(CocoImage(image["file_name"], labels, categories))
    return result
