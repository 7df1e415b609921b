import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orescope.instances.border_core import (
    BACKGROUND,
    BORDER,
    CORE,
    core_map,
    decode_border_core,
    decode_core_map,
    encode_border_core,
)
from orescope.metrics.instance import instance_metrics
from orescope.synth import SceneConfig, synthesize_scene


def test_encoding_of_a_square_has_a_border_of_the_given_thickness():
    labels = np.zeros((12, 12), np.uint32)
    labels[2:10, 2:10] = 7
    classes = encode_border_core(labels, border_px=2)
    assert (classes[labels == 0] == BACKGROUND).all()
    expected_core = np.zeros_like(labels, dtype=bool)
    expected_core[4:8, 4:8] = True
    assert np.array_equal(classes == CORE, expected_core)
    assert (classes[(labels > 0) & ~expected_core] == BORDER).all()


def test_touching_particles_get_separate_cores():
    labels = np.zeros((10, 20), np.uint32)
    labels[1:9, 1:10] = 1
    labels[1:9, 10:19] = 2
    classes = encode_border_core(labels, border_px=1)
    # the shared edge is border on both sides: columns 9 and 10
    assert (classes[2:8, 9] == BORDER).all() and (classes[2:8, 10] == BORDER).all()
    decoded = decode_border_core(classes, min_core_px=1, min_area_px=1)
    assert np.array_equal(decoded, labels)


def test_particles_cut_by_the_image_edge_keep_their_core_at_the_edge():
    labels = np.ones((8, 8), np.uint32)
    classes = encode_border_core(labels, border_px=2)
    assert (classes == CORE).all()


@pytest.mark.parametrize("border_px", [1, 2])
def test_round_trip_reproduces_a_synthetic_scene(border_px):
    scene = synthesize_scene(SceneConfig(height=256, width=256, seed=4))
    classes = encode_border_core(scene.labels, border_px)
    decoded = decode_border_core(classes, min_core_px=1, min_area_px=1)
    found = instance_metrics(scene.labels, decoded)
    assert found["n_pred"] == found["n_truth"]
    assert found["ap90"] == 1.0 and found["merger_ratio"] == 0 and found["splitter_ratio"] == 0


def test_particles_thinner_than_the_border_survive_as_their_own_instance():
    labels = np.zeros((12, 12), np.uint32)
    labels[5:7, 1:11] = 3  # two pixels thick: no core at border 2
    classes = encode_border_core(labels, border_px=2)
    assert not (classes == CORE).any()
    decoded = decode_border_core(classes, min_core_px=1, min_area_px=1)
    assert np.array_equal(decoded > 0, labels > 0) and decoded.max() == 1


def test_small_cores_are_dropped_and_their_pixels_join_a_neighbour_or_stand_alone():
    classes = np.full((9, 9), BORDER, np.uint8)
    classes[4, 4] = CORE  # a single-pixel core: noise when min_core_px is 4
    decoded = decode_border_core(classes, min_core_px=4, min_area_px=1)
    assert decoded.max() == 1 and (decoded == 1).all()


def test_border_thickness_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        encode_border_core(np.zeros((4, 4), np.uint32), border_px=0)


def test_core_map_codes_background_and_core_probability():
    probabilities = np.zeros((3, 1, 3), np.float32)
    probabilities[:, 0, 0] = (0.9, 0.05, 0.05)  # background
    probabilities[:, 0, 1] = (0.1, 0.9, 0.0)  # confident core
    probabilities[:, 0, 2] = (0.2, 0.0, 0.8)  # border
    assert core_map(probabilities).tolist() == [[0, 1 + round(254 * 0.9), 1]]


def _two_touching_squares(neck_core: float) -> np.ndarray:
    """Core map of two 8×8 squares side by side whose shared columns have P(core) =
    ``neck_core``, with confident cores either side and a one-pixel border all round."""
    probabilities = np.zeros((3, 10, 18), np.float32)
    probabilities[BACKGROUND] = 1
    probabilities[:, 1:9, 1:17] = np.array([0, 0, 1])[:, None, None]  # border
    probabilities[:, 2:8, 2:16] = np.array([0, 1, 0])[:, None, None]  # core
    probabilities[:, 2:8, 8:10] = np.array([0, neck_core, 1 - neck_core])[:, None, None]
    return core_map(probabilities)


def test_a_confident_seed_threshold_splits_particles_joined_by_a_doubtful_neck():
    particle_map = _two_touching_squares(neck_core=0.6)
    split = decode_core_map(particle_map, core_threshold=0.8, min_core_px=4, min_area_px=1)
    joined = decode_core_map(particle_map, core_threshold=0.5, min_core_px=4, min_area_px=1)
    assert split.max() == 2 and joined.max() == 1
    # every particle pixel joins its nearest seed: the left half to one, the right to the other
    assert (split[1:9, 1:9] == split[5, 3]).all() and (split[1:9, 9:17] == split[5, 14]).all()
    assert np.array_equal(split > 0, particle_map > 0)


def test_seeds_smaller_than_min_core_px_do_not_make_particles():
    particle_map = _two_touching_squares(neck_core=0.6)
    particle_map[2:8, 2:8] = 1  # the left square loses its core...
    particle_map[2:4, 2:4] = 255  # ...but for a 2×2 speck of confident core
    decoded = decode_core_map(particle_map, core_threshold=0.8, min_core_px=6, min_area_px=1)
    assert decoded.max() == 1 and np.array_equal(decoded > 0, particle_map > 0)


def test_a_box_in_a_volume_has_a_border_of_the_given_thickness():
    labels = np.zeros((12, 12, 12), np.uint32)
    labels[2:10, 2:10, 2:10] = 5
    classes = encode_border_core(labels, border_px=2)
    expected_core = np.zeros(labels.shape, dtype=bool)
    expected_core[4:8, 4:8, 4:8] = True
    assert np.array_equal(classes == CORE, expected_core)
    assert (classes[(labels > 0) & ~expected_core] == BORDER).all()
    assert (classes[labels == 0] == BACKGROUND).all()


def _boxes(draws: list[tuple[int, ...]], shape: int, gap: int) -> np.ndarray:
    """Boxes placed in draw order, each kept only if it lies inside the volume and at least
    ``gap`` voxels from those before it (0: they may touch)."""
    labels = np.zeros((shape,) * 3, np.uint32)
    for z, y, x, depth, height, width in draws:
        box = (slice(z, z + depth), slice(y, y + height), slice(x, x + width))
        reach = tuple(slice(max(0, s.start - gap), s.stop + gap) for s in box)
        if max(z + depth, y + height, x + width) <= shape and not labels[reach].any():
            labels[box] = labels.max() + 1
    return labels


def _same_instances(truth: np.ndarray, found: np.ndarray) -> bool:
    """Whether the two label volumes hold the same instances, whatever their ids."""
    pairs = np.unique(np.stack([truth.ravel(), found.ravel()]), axis=1)
    return pairs.shape[1] == len(np.unique(truth)) == len(np.unique(found)) and bool(
        ((pairs[0] == 0) == (pairs[1] == 0)).all()
    )


def _draws(smallest: int):
    side = st.integers(smallest, smallest + 6)
    corner = st.integers(0, 20)
    return st.lists(st.tuples(corner, corner, corner, side, side, side), max_size=8)


@settings(max_examples=40, deadline=None)
@given(draws=_draws(smallest=3))
def test_touching_boxes_decode_exactly_at_a_border_of_one_voxel(draws):
    # every voxel lies within √3 of its own core and at least 2 from any other core
    labels = _boxes(draws, shape=24, gap=0)
    classes = encode_border_core(labels, border_px=1)
    assert _same_instances(labels, decode_border_core(classes, min_core_px=1, min_area_px=1))


@settings(max_examples=40, deadline=None)
@given(draws=_draws(smallest=5))
def test_boxes_apart_decode_exactly_at_a_border_of_two_voxels(draws):
    labels = _boxes(draws, shape=24, gap=1)
    classes = encode_border_core(labels, border_px=2)
    assert _same_instances(labels, decode_border_core(classes, min_core_px=1, min_area_px=1))


@settings(max_examples=40, deadline=None)
@given(draws=_draws(smallest=8))
def test_touching_boxes_keep_nearly_all_their_voxels_at_a_border_of_two(draws):
    # a corner voxel of a face lies 2·√3 from its own core and 3 from its neighbour's: at most
    # 12 voxels a touching face go astray, under 20 % of the smallest box
    labels = _boxes(draws, shape=24, gap=0)
    decoded = decode_border_core(encode_border_core(labels, 2), min_core_px=1, min_area_px=1)
    assert len(np.unique(decoded)) == len(np.unique(labels))
    majorities = set()
    for index in range(1, int(labels.max()) + 1):
        ids, counts = np.unique(decoded[labels == index], return_counts=True)
        assert counts.max() >= 0.8 * counts.sum() and ids[counts.argmax()] > 0
        majorities.add(int(ids[counts.argmax()]))
    assert len(majorities) == labels.max()
