import numpy as np
import pytest

from orescope.measure.minerals import (
    association,
    grain_labels,
    grain_size_summary,
    liberation,
    measure_grains,
    modal_mineralogy,
)

NAMES = ["background", "chalcopyrite", "galena"]


def _section() -> np.ndarray:
    """Chalcopyrite (1) grown onto galena (2) at the top left, and a free chalcopyrite grain."""
    classes = np.zeros((10, 12), dtype=np.uint8)
    classes[0:4, 0:4] = 1
    classes[0:4, 4:8] = 2
    classes[6:10, 8:12] = 1
    return classes


def test_modal_mineralogy_gives_area_shares_of_image_and_of_minerals():
    table = modal_mineralogy(_section(), NAMES, um_per_px=2.0)
    assert table["pixels"].tolist() == [72, 32, 16]
    assert table["area_percent"].tolist() == pytest.approx([60, 100 * 32 / 120, 100 * 16 / 120])
    assert np.isnan(table["mineral_percent"][0])
    assert table["mineral_percent"][1:].tolist() == pytest.approx([200 / 3, 100 / 3])
    assert table["area_um2"].tolist() == [288, 128, 64]


def test_grains_are_connected_regions_of_one_class_with_sizes_in_um():
    labels, grain_class = grain_labels(_section())
    assert labels.max() == 3 and grain_class.tolist() == [0, 1, 1, 2]
    grains = measure_grains(_section(), NAMES, um_per_px=2.0, min_grain_px=16)
    assert grains["mineral"].tolist() == ["chalcopyrite", "chalcopyrite", "galena"]
    assert grains["area_um2"].tolist() == [64, 64, 64]
    assert grains["ecd_um"].tolist() == pytest.approx([2 * np.sqrt(64 / np.pi)] * 3)
    assert measure_grains(_section(), NAMES, min_grain_px=17).empty
    summary = grain_size_summary(grains, NAMES)
    assert summary["grains"].tolist() == [0, 2, 1]
    assert summary["ecd_D50_um"][1] == pytest.approx(2 * np.sqrt(64 / np.pi))


def test_association_counts_shared_boundary_once_per_pixel_pair():
    table = association(_section(), NAMES, um_per_px=2.0)
    assert table.loc["chalcopyrite", "galena"] == table.loc["galena", "chalcopyrite"] == 8
    assert table.loc["background", "chalcopyrite"] == 2 * 12
    assert table.loc["background", "galena"] == 2 * 8
    assert np.trace(table.to_numpy()) == 0


def test_liberation_bins_particles_by_their_share_of_the_mineral():
    table = liberation(_section(), mineral=1)
    assert table["particles"].sum() == 2
    half = table.set_index("mineral_share").loc["50-60 %"]
    free = table.set_index("mineral_share").loc["100 % (liberated)"]
    assert (half["particles"], free["particles"]) == (1, 1)
    assert (half["mineral_area_percent"], free["mineral_area_percent"]) == (50, 50)
