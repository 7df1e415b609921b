"""Reading and writing images, labels, masks, COCO annotations, class registries and datasets."""

from orescope.io.atomic import atomic_path, write_table, write_text
from orescope.io.classes import ClassRegistry, MineralClass, read_class_registry
from orescope.io.coco import polygons_to_labels, read_coco
from orescope.io.datasets import (
    ParticleSample,
    SectionSample,
    WetPair,
    load_conveyor,
    load_gravel,
    load_lumenstone,
    load_thinsections,
    load_wet_pairs,
)
from orescope.io.images import (
    find_images,
    image_size,
    output_names,
    read_image,
    to_gray_float,
    to_rgb_float,
    write_image,
)
from orescope.io.labels import read_labels, read_mask, write_labels
from orescope.io.volumes import Volume, find_volumes, read_volume, write_ome_zarr

__all__ = [
    "atomic_path",
    "ClassRegistry",
    "MineralClass",
    "ParticleSample",
    "Volume",
    "SectionSample",
    "WetPair",
    "find_images",
    "image_size",
    "find_volumes",
    "output_names",
    "load_conveyor",
    "load_gravel",
    "load_lumenstone",
    "load_thinsections",
    "load_wet_pairs",
    "polygons_to_labels",
    "read_class_registry",
    "read_coco",
    "read_image",
    "read_labels",
    "read_mask",
    "read_volume",
    "to_gray_float",
    "to_rgb_float",
    "write_image",
    "write_labels",
    "write_ome_zarr",
    "write_table",
    "write_text",
]
