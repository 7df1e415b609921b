"""Chunked segmentation of volumes: particles cut by chunk faces come back whole."""

from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pytest
import zarr

from orescope.infer.chunks import segment_in_chunks
from orescope.instances import connected_components, threshwater_instances
from orescope.io.volumes import volume_blocks
from orescope.metrics import instance_metrics
from orescope.synth import VolumeConfig, synthesize_volume


def _same_instances(truth: np.ndarray, found: np.ndarray) -> bool:
    pairs = np.unique(np.stack([truth.ravel(), found.ravel()]), axis=1)
    return pairs.shape[1] == len(np.unique(truth)) == len(np.unique(found))


def _stitched(volume: np.ndarray, segment, chunk: int, halo: int, mapper=map) -> np.ndarray:
    out = zarr.zeros(volume.shape, chunks=(chunk,) * 3, dtype="u4")
    count = segment_in_chunks(volume, segment, out, chunk, halo, map=mapper)
    labels = out[:]
    assert count == labels.max() and np.array_equal(np.unique(labels)[1:], np.arange(1, count + 1))
    return labels


def test_the_cores_tile_the_volume_once():
    cover = np.zeros((23, 17, 9), int)
    for core in volume_blocks(cover.shape, 8):
        cover[core] += 1
    assert (cover == 1).all() and len(volume_blocks(cover.shape, 8)) == 3 * 3 * 2


@pytest.mark.parametrize("chunk", [12, 16, 40])
def test_particles_apart_come_back_whole_whatever_the_chunk(chunk):
    truth = synthesize_volume(
        VolumeConfig(shape=(40, 40, 40), x50_mm=0.1, touching=0.0, seed=2)
    ).labels
    # the segmenter finds each particle as a connected piece of what it is shown
    found = _stitched(
        (truth > 0).astype(np.uint8), partial(connected_components, min_area_px=1), chunk, halo=3
    )
    assert _same_instances(truth, found)


def test_touching_particles_across_a_face_stay_apart_and_workers_change_nothing():
    scan = synthesize_volume(VolumeConfig(shape=(48, 48, 48), x50_mm=0.12, touching=0.8, seed=5))
    segment = partial(threshwater_instances, volume=True, min_area_px=8)
    alone = _stitched(scan.image, segment, chunk=24, halo=8)
    with ThreadPoolExecutor(2) as pool:
        together = _stitched(scan.image, segment, chunk=24, halo=8, mapper=pool.map)
    assert np.array_equal(alone, together)
    whole = segment(scan.image)
    # against the same segmenter on the whole volume: every particle found whole is found
    # once, joined from its pieces (ThreshWater's threshold and seeds depend on the block it
    # sees, so outlines differ by a voxel here and there)
    scores = instance_metrics(whole, alone)
    assert scores["ap50"] == 1.0 and scores["n_mergers"] == scores["n_splitters"] == 0


def test_a_particle_filling_whole_cores_comes_back_as_one():
    volume = np.zeros((20, 20, 20), np.uint8)
    volume[:, :, :15] = 1  # the cores along x = 0..9 hold no background at all
    found = _stitched(volume, partial(connected_components, min_area_px=1), chunk=10, halo=2)
    assert np.array_equal(found, volume)


def test_every_block_keeps_its_full_size_where_the_volume_allows():
    from orescope.infer.chunks import context_slice

    # a thin last core (96..100 of 100) gets context from inside, not a thin block
    assert context_slice(slice(96, 100), 100, 32, 8) == slice(52, 100)
    assert context_slice(slice(0, 32), 100, 32, 8) == slice(0, 48)
    assert context_slice(slice(32, 64), 100, 32, 8) == slice(24, 72)
    assert context_slice(slice(0, 20), 20, 32, 8) == slice(0, 20)  # the volume is smaller
