"""The learned-distance representation: encoding is each pixel's distance level to its own
particle's edge, and a perfect prediction of it decodes back to the particles."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orescope.instances.distance import (
    CLASS_NAMES,
    decode_distance_map,
    distance_map,
    edge_distance,
    encode_distance_levels,
)
from orescope.metrics import instance_metrics


def _perfect_probabilities(labels: np.ndarray) -> np.ndarray:
    levels = encode_distance_levels(labels)
    return np.moveaxis(np.eye(len(CLASS_NAMES), dtype=np.float32)[levels], -1, 0)


def test_distance_is_measured_to_the_neighbour_as_to_the_background():
    labels = np.zeros((12, 20), np.int32)
    labels[1:11, 1:10], labels[1:11, 10:19] = 1, 2
    assert edge_distance(labels)[5].tolist() == [0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 1, 2, 3, 4, 5, 4] + [
        3,
        2,
        1,
        0,
    ]


def test_the_array_edge_is_not_a_particle_edge_and_unlabelled_ground_is():
    labels = np.ones((8, 8), np.int32)
    assert (edge_distance(labels) >= 8).all()  # the particle goes on past the patch
    labels[:, :2] = -1  # a sparse annotation says nothing here
    assert edge_distance(labels)[0, 2:5].tolist() == [1, 2, 3]
    assert encode_distance_levels(labels)[0, :4].tolist() == [0, 0, 1, 2]


def test_the_map_keeps_the_expected_distance_in_one_byte():
    probabilities = np.zeros((len(CLASS_NAMES), 1, 3), np.float32)
    probabilities[0, 0, 0] = 0.6  # background wins
    probabilities[1, 0, 0] = 0.4
    probabilities[[1, 2], 0, 1] = 0.5  # levels 1 and 2: expected 2.0 px
    probabilities[8, 0, 2] = 1.0  # the top level: 17 px and more
    assert distance_map(probabilities).tolist() == [[0, 1 + round(254 * 2 / 17), 255]]


def test_two_touching_squares_decode_as_two():
    labels = np.zeros((40, 60), np.int32)
    labels[5:35, 5:30], labels[5:35, 30:55] = 1, 2
    decoded = decode_distance_map(distance_map(_perfect_probabilities(labels)))
    assert decoded.dtype == np.uint32 and int(decoded.max()) == 2
    scores = instance_metrics(labels, decoded)
    assert scores["ap50"] == 1.0 and scores["merger_ratio"] == 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(8, 88), st.integers(8, 88), st.integers(4, 9)), max_size=6))
def test_a_perfect_prediction_of_apart_discs_decodes_back_to_them(discs):
    """Discs that do not touch come back one for one (the documented limit: a particle thinner
    than the seed height still comes back, as an unseeded region of its own)."""
    labels = np.zeros((96, 96), np.int32)
    rows, cols = np.mgrid[:96, :96]
    for row, col, radius in discs:
        disc = (rows - row) ** 2 + (cols - col) ** 2 <= radius**2
        grown = (rows - row) ** 2 + (cols - col) ** 2 <= (radius + 2) ** 2
        if not labels[grown].any():
            labels[disc] = labels.max() + 1
    decoded = decode_distance_map(distance_map(_perfect_probabilities(labels)))
    count = int(labels.max())
    assert int(decoded.max()) == count
    if count:
        assert instance_metrics(labels, decoded)["ap50"] == pytest.approx(1.0)
