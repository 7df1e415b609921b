import colour
import numpy as np
import pytest

from orescope.errors import InputError
from orescope.preprocess.colour import (
    PRIOR_WEIGHT,
    ColourCorrection,
    class_colours,
    fit_colour_correction,
    flat_field,
    linearise,
    matching_colours,
    to_lab,
    white_balance,
)

DISTORTION = np.array(
    [[0.80, 0.05, 0.00], [0.10, 0.90, 0.05], [0.00, 0.10, 0.70], [0.02, 0.01, 0.03]]
)


def _distorted(reference: np.ndarray) -> np.ndarray:
    """Another lamp and camera: an affine map in linear light, back to 8 bits."""
    linear = np.hstack([linearise(reference), np.ones((len(reference), 1))]) @ DISTORTION
    return np.round(np.power(np.clip(linear, 0, 1), 1 / 2.2) * 255)


def _delta_e(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return colour.delta_E(to_lab(linearise(a)), to_lab(linearise(b)), method="CIE 2000")


def test_the_fitted_matrix_undoes_a_colour_distortion_far_better_than_white_balance():
    rng = np.random.default_rng(0)
    reference = rng.integers(30, 230, (8, 3)).astype(float)
    reference[0] = (235, 235, 235)  # the white
    source = _distorted(reference)
    correction = fit_colour_correction(source, reference)
    image = np.repeat(source.astype(np.uint8)[:, None, :], 5, axis=1)  # 8x5 patches
    corrected = correction.apply(image)[:, 0].astype(float)
    assert _delta_e(corrected, reference).max() < 1.0
    balanced = ColourCorrection(white_balance(linearise(source), linearise(reference)))
    assert _delta_e(balanced.apply(image)[:, 0].astype(float), reference).mean() > 3.0


def test_the_white_balance_prior_generalises_better_from_few_noisy_greyish_colours():
    rng = np.random.default_rng(1)
    greys = np.array([[225, 225, 220], [150, 145, 140], [100, 104, 98], [60, 58, 62]], float)
    greys = np.vstack([greys, [[180, 170, 160]]])
    source = _distorted(greys) + rng.normal(0, 2, greys.shape)  # region means are noisy
    unseen = rng.integers(30, 230, (30, 3)).astype(float)
    image = _distorted(unseen).astype(np.uint8)[:, None]

    def error(prior_weight: float) -> float:
        fitted = fit_colour_correction(source, greys, prior_weight=prior_weight)
        return float(_delta_e(fitted.apply(image)[:, 0].astype(float), unseen).mean())

    assert error(PRIOR_WEIGHT) < 0.95 * error(0.0)


def test_too_few_colours_are_refused():
    with pytest.raises(InputError, match="at least 4"):
        fit_colour_correction(np.ones((3, 3)), np.ones((3, 3)))


def test_class_colours_average_labelled_regions_and_match_by_class():
    image = np.zeros((20, 20, 3), dtype=np.uint8)
    image[:10] = (200, 100, 50)
    image[10:] = (10, 20, 30)
    mask = np.zeros((20, 20), dtype=np.uint8)
    mask[10:] = 2
    mask[10:12] = 7  # 40 pixels: too few to trust
    found = class_colours(image, mask, min_pixels=50)
    assert sorted(found) == [0, 2] and found[0].tolist() == [200, 100, 50]
    source, reference = matching_colours(found, {2: np.array([1.0, 2, 3]), 5: np.zeros(3)})
    assert source.tolist() == [[10, 20, 30]] and reference.tolist() == [[1, 2, 3]]


def test_flat_field_removes_vignetting():
    rows, cols = np.indices((60, 80))
    gain = 1 - 0.4 * (((rows - 30) / 30) ** 2 + ((cols - 40) / 40) ** 2) / 2
    scene = np.random.default_rng(1).integers(40, 200, (60, 80, 3)).astype(float)
    photo = np.round(scene * gain[..., None]).astype(np.uint8)
    blank = np.round(220 * gain[..., None].repeat(3, axis=2)).astype(np.uint8)
    corrected = flat_field(photo, blank).astype(float)
    relative = corrected / corrected.mean() - scene / scene.mean()
    assert np.abs(relative).max() < 0.02
