import numpy as np
import pytest

from orescope.infer.guided import guided_filter, refine_bands
from orescope.infer.sliding_window import class_index, probabilities_from_bands


def _probabilities(classes: int, shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(size=(classes, *shape)).astype(np.float32)
    exp = np.exp(logits)
    return exp / exp.sum(axis=0)


def _stream(maps: np.ndarray, heights: list[int]):
    """``maps`` as bands of the given heights, each a view into one reused buffer, as the
    sliding window yields them."""
    buffer = np.empty((maps.shape[0], max(heights), maps.shape[2]), dtype=np.float32)
    top = 0
    for height in heights:
        buffer[:, :height] = maps[:, top : top + height]
        yield top, buffer[:, :height]
        top += height


@pytest.mark.parametrize("heights", [[97], [40, 3, 30, 24], [5, 5, 5, 5, 5, 5, 5, 62]])
def test_streamed_refinement_equals_filtering_the_whole_map(heights):
    maps = _probabilities(4, (97, 61))
    guide = np.random.default_rng(1).random((97, 61), dtype=np.float32)
    whole = guided_filter(guide, maps.copy(), radius=6)
    bands = refine_bands(_stream(maps, heights), lambda a, b: guide[a:b], 97, radius=6)
    np.testing.assert_allclose(probabilities_from_bands((97, 61), bands), whole, atol=2e-6)


def test_a_map_lower_than_the_window_is_held_whole_and_refined_at_its_end():
    maps = _probabilities(3, (5, 40))
    guide = np.random.default_rng(2).random((5, 40), dtype=np.float32)
    whole = guided_filter(guide, maps.copy(), radius=8)
    refined = []
    for top, band in refine_bands(_stream(maps, [2, 3]), lambda a, b: guide[a:b], 5, radius=8):
        refined.append((top, band.copy()))
    # the first band's rows wait for the last and come as a band of their own
    assert [(top, band.shape) for top, band in refined] == [(0, (3, 2, 40)), (2, (3, 3, 40))]
    np.testing.assert_allclose(np.concatenate([b for _, b in refined], axis=1), whole, atol=2e-6)


def test_a_blurred_border_moves_onto_the_image_edge_and_probabilities_still_sum_to_one():
    """A model's border 4 px right of the true edge (column 37), as a smooth ramp: the
    refined border is on the edge in every row."""
    columns = np.arange(90, dtype=np.float32)
    guide = np.where(columns < 37, 0.3, 0.6).astype(np.float32) * np.ones((50, 1), np.float32)
    right = 1 / (1 + np.exp(-(columns - 40.5) / 3))
    maps = np.stack([1 - right, right])[:, None, :].repeat(50, axis=1).astype(np.float32)
    assert (class_index(maps) == (columns >= 41)).all()
    refined = guided_filter(guide, maps, radius=8)
    assert (class_index(refined) == (columns >= 37)).all()
    np.testing.assert_allclose(refined.sum(axis=0), 1.0, atol=1e-5)


def test_a_flat_image_only_smooths():
    """Without edges the filter is a box mean of the box mean: a lone spike spreads evenly."""
    maps = np.zeros((1, 41, 41), dtype=np.float32)
    maps[0, 20, 20] = 1.0
    refined = guided_filter(np.full((41, 41), 0.5, np.float32), maps, radius=2)
    once = np.zeros((41, 41))
    once[18:23, 18:23] = 1 / 25
    twice = np.zeros((41, 41))
    for row, col in zip(*np.nonzero(once), strict=True):
        twice[row - 2 : row + 3, col - 2 : col + 3] += once[row, col] / 25
    np.testing.assert_allclose(refined[0], twice, atol=1e-6)
