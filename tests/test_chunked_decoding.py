"""Border-core decoding chunk by chunk (orescope.instances.chunked): exactly the particles that
decoding the whole map gives, numbered in the order they first appear, whatever the chunk."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from orescope.instances.border_core import decode_core_map
from orescope.instances.chunked import decode_core_map_in_chunks, renumber, tally
from orescope.instances.decode import CoreDecoding


def _core_map(seed: int, floor: float = 0.45) -> np.ndarray:
    """A smooth random core map: blobs that touch, merge and carry seeds of every size; the
    particle voxels are those of noise above ``floor`` (above 0.45: a thinner border)."""
    noise = ndimage.gaussian_filter(np.random.default_rng(seed).random((30, 36, 33)), 2.5)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    core = np.clip((noise - 0.45) * 4, 0, 1)
    return np.where(noise > floor, 1 + np.rint(254 * core), 0).astype(np.uint8)


def _in_first_order(labels: np.ndarray) -> np.ndarray:
    ids, first = np.unique(labels.ravel(), return_index=True)
    ids, first = ids[ids > 0], first[ids > 0]
    lookup = np.zeros(int(labels.max()) + 1, np.uint32)
    lookup[ids[np.argsort(first)]] = np.arange(1, ids.size + 1)
    return lookup[labels]


def _in_chunks(
    core_map: np.ndarray, chunk: int, halo: int, scratch, split_h_px: float | None = None
) -> tuple[np.ndarray, int]:
    out = np.zeros(core_map.shape, np.uint32)
    count = decode_core_map_in_chunks(
        core_map, out, chunk, scratch, 0.7, 9, 27, halo, split_h_px=split_h_px
    )
    return out, count


@pytest.mark.parametrize(("chunk", "halo"), [(9, 2), (16, 4), (64, 16)])
def test_chunks_decode_to_the_particles_of_the_whole_map(chunk, halo, tmp_path):
    for seed in (0, 1):
        core_map = _core_map(seed)
        whole = _in_first_order(decode_core_map(core_map, 0.7, 9, 27))
        assert whole.max() >= 10  # touching and merging blobs, not a trivial map
        out, count = _in_chunks(core_map, chunk, halo, tmp_path / f"{seed}")
        assert count == whole.max()
        assert np.array_equal(out, whole)


def test_a_seed_beyond_the_first_margin_is_found(tmp_path):
    # one bar through five chunks, seeded at one end only: its far voxels' nearest seed lies
    # 30 voxels away, beyond a margin of 1, which must grow until it holds the seed
    core_map = np.zeros((8, 8, 44), np.uint8)
    core_map[2:6, 2:6, 2:42] = 1
    core_map[3:5, 3:5, 2:8] = 255
    bar = np.zeros((8, 8, 44), np.uint32)
    bar[2:6, 2:6, 2:42] = 1
    out, count = _in_chunks(core_map, 8, 1, tmp_path)
    assert count == 1 and np.array_equal(out, bar)


def test_a_region_without_a_kept_seed_is_a_particle_of_its_own(tmp_path):
    core_map = np.zeros((10, 10, 30), np.uint8)
    core_map[1:9, 1:9, 1:12] = 1  # no seed at all
    core_map[1:9, 1:9, 16:29] = 1
    core_map[4:6, 4:6, 20:22] = 255  # a seed of 8 voxels, under the 9 kept: dropped
    out, count = _in_chunks(core_map, 7, 2, tmp_path)
    assert count == 2
    assert np.unique(out[1:9, 1:9, 1:12]).tolist() == [1]
    assert np.unique(out[1:9, 1:9, 16:29]).tolist() == [2]


def test_small_particles_go_and_the_rest_are_numbered_as_they_first_appear(tmp_path):
    labels = np.zeros((4, 6), np.uint32)
    labels[0, 3:6] = 70  # first in C order, 3 pixels
    labels[1, 0:2] = 5  # 2 pixels: too small
    labels[2:4, 0:3] = 9  # 6 pixels, through both chunks of 3 rows... and columns
    found = tally(labels, 3)
    assert found.ids.tolist() == [5, 9, 70]
    assert found.sizes.tolist() == [2, 6, 3]
    assert found.first.tolist() == [6, 12, 3]
    assert renumber(labels, 3, found, found.sizes >= 3, tmp_path) == 2
    assert labels.tolist() == [
        [0, 0, 0, 1, 1, 1],
        [0, 0, 0, 0, 0, 0],
        [2, 2, 2, 0, 0, 0],
        [2, 2, 2, 0, 0, 0],
    ]


def test_a_tally_sums_weights_per_particle():
    labels = np.array([[1, 1, 0, 2]], np.uint32)
    found = tally(labels, 2, weights=np.array([[0.5, 1.5, 9.0, 4.0]]))
    assert found.means.tolist() == [1.0, 4.0]


def _dumbbell(neck_radius: int = 2, cracked: bool = False) -> np.ndarray:
    """A core map of one box whose cores the 'model' joined by a neck: balls of radius 6
    around x = 9 and x = 26, a neck of ``neck_radius`` between them; the particle voxels two
    balls of radius 8 that touch, and the neck one voxel thicker (two touching particles), or
    the whole box but its faces (one particle with a crack that thinned its core)."""
    z, y, x = np.ogrid[:17, :17, :36]
    ball = (z - 8) ** 2 + (y - 8) ** 2 + (x - 9) ** 2, (z - 8) ** 2 + (y - 8) ** 2 + (x - 26) ** 2
    neck = ((z - 8) ** 2 + (y - 8) ** 2 <= neck_radius**2) & (x > 9) & (x < 26)
    core = (ball[0] <= 36) | (ball[1] <= 36) | neck
    core_map = np.zeros((17, 17, 36), np.uint8)
    if cracked:
        core_map[1:16, 1:16, 1:35] = 1
    else:
        wider = ((z - 8) ** 2 + (y - 8) ** 2 <= (neck_radius + 1) ** 2) & (x > 9) & (x < 26)
        core_map[(ball[0] <= 64) | (ball[1] <= 64) | wider] = 1
    core_map[core] = 255
    return core_map


def test_a_core_joined_by_a_neck_is_cut_there(tmp_path):
    core_map = _dumbbell()
    assert decode_core_map(core_map, 0.7, 9, 27).max() == 1  # one seed: one particle
    labels = decode_core_map(core_map, 0.7, 9, 27, split_h_px=1.0)
    # cut across the neck: each slice across x is one particle, the first up to the neck's
    # middle (x = 17 or 18), the second beyond
    across = np.where(core_map > 0, labels, 255).reshape(-1, 36)[:, 1:35]
    firsts = across.min(axis=0)
    assert np.array_equal(firsts, labels.reshape(-1, 36)[:, 1:35].max(axis=0))
    assert set(firsts[:16].tolist()) == {1} and set(firsts[18:].tolist()) == {2}
    out = np.zeros(core_map.shape, np.uint32)
    assert decode_core_map_in_chunks(core_map, out, 8, tmp_path, 0.7, 9, 27, 2, split_h_px=1.0) == 2
    assert np.array_equal(out, labels)
    # a neck cut only where the blobs stand higher than it by more than asked
    assert decode_core_map(core_map, 0.7, 9, 27, split_h_px=5.0).max() == 1


def test_the_cores_own_neck_ratio_joins_a_waist_as_thick_as_most_of_it():
    # the smoothed distance: 2.98 at the waist, 4.69 at the balls' centres (a ratio of 0.64);
    # the particles' outline: 5 at the contact, 8 at the centres (0.63, a contact: cut)
    core_map = _dumbbell(neck_radius=4)
    assert decode_core_map(core_map, 0.7, 9, 27, split_h_px=1.0).max() == 2
    for neck_ratio, count in ((None, 2), (0.8, 2), (0.6, 1)):
        labels = decode_core_map(
            core_map, 0.7, 9, 27, split_h_px=1.0, outline_ratio=None, neck_ratio=neck_ratio
        )
        assert labels.max() == count


def test_a_neck_inside_one_whole_particle_is_a_crack_not_a_contact(tmp_path):
    # the core has the neck of two touching particles, but the particle around it is one box,
    # as thick at the neck as at the balls (a ratio of 1)
    core_map = _dumbbell(cracked=True)
    assert decode_core_map(core_map, 0.7, 9, 27, split_h_px=1.0, outline_ratio=None).max() == 2
    assert decode_core_map(core_map, 0.7, 9, 27, split_h_px=1.0).max() == 1
    out = np.zeros(core_map.shape, np.uint32)
    assert decode_core_map_in_chunks(core_map, out, 8, tmp_path, 0.7, 9, 27, 2, split_h_px=1.0) == 1


@pytest.mark.parametrize(("chunk", "halo"), [(12, 3), (32, 8)])
def test_split_cores_decode_in_chunks_to_the_particles_of_the_whole_map(chunk, halo, tmp_path):
    for seed in (0, 1):
        core_map = _core_map(seed, floor=0.58)
        whole = _in_first_order(decode_core_map(core_map, 0.7, 9, 27, split_h_px=1.0))
        assert whole.max() > decode_core_map(core_map, 0.7, 9, 27).max()  # some seeds split
        out, count = _in_chunks(core_map, chunk, halo, tmp_path / f"{seed}", split_h_px=1.0)
        assert count == whole.max()
        assert np.array_equal(out, whole)


def test_a_volume_model_splits_its_cores_unless_asked_not_to():
    assert CoreDecoding.for_volume(16.0) == CoreDecoding(0.7, 1, 4, 0.75)
    assert CoreDecoding.for_volume(16.0, split_cores=False).split_h_px is None
