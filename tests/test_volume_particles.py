"""Per-particle properties of label volumes against shapes whose answers are known."""

import numpy as np
import pandas as pd
import pytest
import zarr

from orescope.measure.volume_particles import measure_volume_particles


def _box_and_ball() -> np.ndarray:
    labels = np.zeros((30, 40, 50), np.uint32)
    labels[2:12, 3:23, 4:34] = 4  # a 10 x 20 x 30 box
    z, y, x = np.mgrid[:30, :40, :50]
    labels[(z - 20) ** 2 + (y - 28) ** 2 + (x - 38) ** 2 <= 8**2] = 9  # a ball of radius 8
    labels[25:30, 0:3, 0:3] = 2  # cut by the volume's edge
    return labels


def test_a_box_has_its_volume_centroid_axes_and_box_exactly():
    table = measure_volume_particles(_box_and_ball(), spacing_mm=(0.5, 0.1, 0.1))
    box = table.set_index("label").loc[4]
    assert box["voxels"] == 6000 and box["volume_mm3"] == pytest.approx(6000 * 0.005)
    assert (box["centroid_z_mm"], box["centroid_y_mm"], box["centroid_x_mm"]) == pytest.approx(
        (6.5 * 0.5, 12.5 * 0.1, 18.5 * 0.1)
    )
    # a box of n voxels of size s along an axis: variance s² (n² - 1) / 12, axis 2 √(5 variance)
    sides = ((10, 0.5), (30, 0.1), (20, 0.1))  # 5 mm, 3 mm and 2 mm long
    lengths = [2 * np.sqrt(5 * s**2 * (n**2 - 1) / 12) for n, s in sides]
    assert [box["axis_major_mm"], box["axis_middle_mm"], box["axis_minor_mm"]] == pytest.approx(
        lengths
    )
    bbox = [box[f"bbox_{axis}{end}"] for end in (0, 1) for axis in "zyx"]
    assert bbox == [2, 3, 4, 12, 23, 34] and not box["touches_border"]
    # the smoothed marching-cubes surface of a box lies near its outer faces but rounds its
    # edges: between the boxes of its voxel centres (9 x 19 x 29) and voxel faces (10 x 20 x 30)
    surface = table.set_index("label").loc[4, "surface_mm2"]
    inner = 2 * (0.5 * 9 * 0.1 * 19 + 0.5 * 9 * 0.1 * 29 + 0.1 * 19 * 0.1 * 29)
    outer = 2 * (0.5 * 10 * 0.1 * 20 + 0.5 * 10 * 0.1 * 30 + 0.1 * 20 * 0.1 * 30)
    assert inner < surface < outer


def test_a_ball_is_nearly_round_and_its_size_is_its_diameter():
    table = measure_volume_particles(_box_and_ball()).set_index("label")
    ball = table.loc[9]
    assert ball["voxels"] == pytest.approx(4 / 3 * np.pi * 8**3, rel=0.02)
    assert ball["esd_px"] == pytest.approx(16, rel=0.01)
    assert [ball["axis_major_px"], ball["axis_minor_px"]] == pytest.approx([16, 16], rel=0.02)
    assert 0.9 < ball["sphericity"] < 1.0 and table.loc[4, "sphericity"] < 0.8
    assert ball["surface_px2"] == pytest.approx(4 * np.pi * 8**2, rel=0.03)


def test_particles_cut_by_the_edge_are_flagged_and_intensity_is_averaged():
    labels = _box_and_ball()
    intensity = np.where(labels == 9, 200.0, 10.0)
    intensity[labels == 4] = np.arange(6000)
    table = measure_volume_particles(labels, intensity=intensity).set_index("label")
    assert table["touches_border"].to_dict() == {2: True, 4: False, 9: False}
    assert table["mean_intensity"].to_dict() == pytest.approx({2: 10.0, 4: 2999.5, 9: 200.0})
    assert list(table.columns)[:3] == ["voxels", "volume_px3", "centroid_z_px"]


def test_an_empty_volume_gives_an_empty_table_and_an_image_is_refused():
    table = measure_volume_particles(np.zeros((4, 4, 4), np.uint32), spacing_mm=(1, 1, 1))
    assert table.empty and "esd_mm" in table.columns
    with pytest.raises(ValueError, match="3 axes"):
        measure_volume_particles(np.zeros((4, 4), np.uint32))


def test_a_volume_in_zarr_is_measured_block_by_block_to_the_same_table():
    labels = _box_and_ball()
    stored = zarr.zeros(labels.shape, chunks=(7, 9, 11), dtype="u4")
    stored[:] = labels
    intensity = np.where(labels > 0, 100.0, 5.0)
    in_memory = measure_volume_particles(labels, (0.5, 0.1, 0.1), intensity)
    from_disk = measure_volume_particles(stored, (0.5, 0.1, 0.1), intensity, chunk=10)
    pd.testing.assert_frame_equal(in_memory, from_disk)


def test_a_chain_of_voxels_touching_at_corners_is_measured_on_its_bare_mask():
    labels = np.zeros((12, 12, 12), np.uint32)
    for step in range(2, 10):
        labels[step, step, step] = 3  # a diagonal chain: smoothing would melt it below 0.5
    row = measure_volume_particles(labels).set_index("label").loc[3]
    assert row["voxels"] == 8 and np.isfinite(row["surface_px2"]) and row["surface_px2"] > 0
