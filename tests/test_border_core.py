import numpy as np
import pytest

from orescope.instances.border_core import (
    BACKGROUND,
    BORDER,
    CORE,
    decode_border_core,
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
    decoded = decode_border_core(classes, border_px=1, min_core_px=1, min_area_px=1)
    assert np.array_equal(decoded, labels)


def test_particles_cut_by_the_image_edge_keep_their_core_at_the_edge():
    labels = np.ones((8, 8), np.uint32)
    classes = encode_border_core(labels, border_px=2)
    assert (classes == CORE).all()


@pytest.mark.parametrize("border_px", [1, 2])
def test_round_trip_reproduces_a_synthetic_scene(border_px):
    scene = synthesize_scene(SceneConfig(height=256, width=256, seed=4))
    classes = encode_border_core(scene.labels, border_px)
    decoded = decode_border_core(classes, border_px, min_core_px=1, min_area_px=1)
    found = instance_metrics(scene.labels, decoded)
    assert found["n_pred"] == found["n_truth"]
    assert found["ap90"] == 1.0 and found["merger_ratio"] == 0 and found["splitter_ratio"] == 0


def test_particles_thinner_than_the_border_survive_as_their_own_instance():
    labels = np.zeros((12, 12), np.uint32)
    labels[5:7, 1:11] = 3  # two pixels thick: no core at border 2
    classes = encode_border_core(labels, border_px=2)
    assert not (classes == CORE).any()
    decoded = decode_border_core(classes, border_px=2, min_core_px=1, min_area_px=1)
    assert np.array_equal(decoded > 0, labels > 0) and decoded.max() == 1


def test_small_cores_are_dropped_and_their_pixels_join_a_neighbour_or_stand_alone():
    classes = np.full((9, 9), BORDER, np.uint8)
    classes[4, 4] = CORE  # a single-pixel core: noise when min_core_px is 4
    decoded = decode_border_core(classes, border_px=1, min_core_px=4, min_area_px=1)
    assert decoded.max() == 1 and (decoded == 1).all()


def test_border_thickness_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        encode_border_core(np.zeros((4, 4), np.uint32), border_px=0)
