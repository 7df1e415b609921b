import numpy as np
import pytest

from orescope.errors import InputError
from orescope.preprocess.colour import (
    MIN_SATURATION,
    MIN_SPREAD,
    ColourCorrection,
    class_colours,
    colour_science,
    colour_spread,
    fit_colour_correction,
    flat_field,
    linearise,
    reference_saturation,
    region_colours,
    saturation,
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
    delta_e = colour_science().delta_E
    return delta_e(to_lab(linearise(a)), to_lab(linearise(b)), method="CIE 2000")


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


GREYS = np.array(
    [[225, 225, 220], [150, 145, 140], [100, 104, 98], [60, 58, 62], [180, 170, 160]], float
)


def test_near_grey_colours_fit_only_gains_and_black_level_and_generalise_better():
    assert colour_spread(linearise(GREYS)) < MIN_SPREAD
    ratios = []
    for seed in range(5):  # noisy region means of greyish minerals, new greyish pixels
        rng = np.random.default_rng(seed)
        source = _distorted(GREYS) + rng.normal(0, 2, GREYS.shape)
        unseen = np.clip(rng.normal(130, 50, (30, 1)) + rng.normal(0, 6, (30, 3)), 20, 235)
        image = _distorted(unseen).astype(np.uint8)[:, None]
        chosen = fit_colour_correction(source, GREYS)  # no saturation bias: none fitted
        assert (chosen.matrix[:3][~np.eye(3, dtype=bool)] == 0).all()
        crossed = fit_colour_correction(source, GREYS, full=True)
        errors = [
            _delta_e(f.apply(image)[:, 0].astype(float), unseen).mean() for f in (chosen, crossed)
        ]
        ratios.append(errors[0] / errors[1])
    assert max(ratios) < 1.0 and np.mean(ratios) < 0.8


# Grey-ish minerals with faint tints, and another camera whose channels leak uniformly into
# each other under a warmer lamp: the inverse of gains, a black level and saturation 1.6.
TINTED = np.array(
    [[225, 222, 210], [150, 140, 128], [100, 106, 98], [60, 58, 66], [190, 168, 150]], float
)
_UNDO = np.vstack([np.diag([1.1, 1.3, 1.8]) @ saturation(1.6), [-0.02, -0.01, 0]])
UNIFORM_CROSS_TALK = np.vstack([np.linalg.inv(_UNDO[:3]), -_UNDO[3] @ np.linalg.inv(_UNDO[:3])])


def _through(matrix: np.ndarray, colours: np.ndarray) -> np.ndarray:
    rgb = ColourCorrection(matrix).apply(colours.astype(np.uint8)[:, None])[:, 0]
    return rgb.astype(float)


def test_a_uniform_cross_talk_is_undone_from_near_grey_colours():
    assert colour_spread(linearise(TINTED)) < MIN_SPREAD
    rng = np.random.default_rng(3)
    unseen = np.clip(rng.normal(130, 40, (40, 1)) + rng.normal(0, 10, (40, 3)), 40, 220)
    source, image = _through(UNIFORM_CROSS_TALK, TINTED), _through(UNIFORM_CROSS_TALK, unseen)
    fitted = fit_colour_correction(source, TINTED, saturation_bias=1.0)
    gains = np.diag(fitted.matrix)  # the rest of each row is one uniform cross-talk
    off = fitted.matrix[:3][~np.eye(3, dtype=bool)].reshape(3, 2) / gains[:, None]
    assert off[:, 0] == pytest.approx(off[:, 1], abs=1e-12)
    assert off[0, 0] == pytest.approx(off[1, 0], abs=1e-12) and off[0, 0] < 0  # saturation > 1
    # the exact inverse leaves 0.62 of 8-bit rounding on these pixels
    assert _delta_e(_through(fitted.matrix, image), unseen).mean() < 1.0
    for bias in (None, MIN_SATURATION / 2):
        gains_only = fit_colour_correction(source, TINTED, saturation_bias=bias)
        assert (gains_only.matrix[:3][~np.eye(3, dtype=bool)] == 0).all()
        assert _delta_e(_through(gains_only.matrix, image), unseen).mean() > 2.5


def _section_photos(scatter: float, seed: int, count: int = 10) -> list:
    """``count`` photos of the TINTED minerals (one 8×8 region each), each photo's mineral
    colours off the shared ones by ``scatter`` (8-bit) per channel."""
    rng = np.random.default_rng(seed)
    mask = np.repeat(np.arange(len(TINTED)), 64).reshape(-1, 8).astype(np.uint8)
    photos = []
    for _ in range(count):
        colours = np.clip(TINTED + rng.normal(0, scatter, TINTED.shape), 0, 255)
        photos.append((colours[mask].round().astype(np.uint8), mask))
    return photos


def test_reference_saturation_measures_how_scatter_shrinks_the_fitted_saturation():
    one_shade = _section_photos(scatter=0, seed=0)
    assert reference_saturation(one_shade) == pytest.approx(1.0, abs=0.01)
    scattered = reference_saturation(_section_photos(scatter=4, seed=0))
    assert 0.3 < scattered < 0.9
    # a distorted series of scattered sections: dividing the shrink out recovers saturation
    series = [
        (_through(UNIFORM_CROSS_TALK, photo.reshape(-1, 3)).reshape(photo.shape), mask)
        for photo, mask in _section_photos(scatter=4, seed=1, count=6)
    ]
    source, target, weights = region_colours(series, dict(enumerate(TINTED)))
    unseen = np.clip(np.random.default_rng(5).normal(130, 40, (40, 3)), 20, 235)
    image = _through(UNIFORM_CROSS_TALK, unseen)
    errors = [
        _delta_e(
            _through(
                fit_colour_correction(source, target, weights, saturation_bias=b).matrix, image
            ),
            unseen,
        ).mean()
        for b in (1.0, scattered)
    ]
    assert errors[1] < 0.7 * errors[0]


def test_weights_let_the_sure_colours_decide():
    rng = np.random.default_rng(2)
    reference = rng.integers(30, 230, (8, 3)).astype(float)
    reference[0] = (235, 235, 235)
    source = _distorted(reference)
    wrong = reference.copy()
    wrong[3] = (200, 40, 40)  # one region mislabelled: its colour matches another mineral's

    def worst_of_the_rest(weights: np.ndarray | None) -> float:
        fitted = fit_colour_correction(source, wrong, weights=weights)
        corrected = fitted.apply(source.astype(np.uint8)[:, None])[:, 0].astype(float)
        return float(np.delete(_delta_e(corrected, reference), 3).max())

    assert worst_of_the_rest(np.where(np.arange(8) == 3, 1e-3, 1.0)) < 1.0
    assert worst_of_the_rest(None) > 3.0


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
    assert sorted(found) == [0, 2]
    assert found[0][0].tolist() == [200, 100, 50] and found[0][1] == 200
    assert found[2][0].tolist() == [10, 20, 30] and found[2][1] == 160
    reference = {2: np.array([1.0, 2, 3]), 5: np.zeros(3)}
    source, target, weights = region_colours([(image, mask), (image[:15], mask[:15])], reference)
    assert source.tolist() == [[10, 20, 30]] * 2 and target.tolist() == [[1, 2, 3]] * 2
    assert weights.tolist() == [np.sqrt(160), np.sqrt(60)]


def test_flat_field_removes_vignetting():
    rows, cols = np.indices((60, 80))
    gain = 1 - 0.4 * (((rows - 30) / 30) ** 2 + ((cols - 40) / 40) ** 2) / 2
    scene = np.random.default_rng(1).integers(40, 200, (60, 80, 3)).astype(float)
    photo = np.round(scene * gain[..., None]).astype(np.uint8)
    blank = np.round(220 * gain[..., None].repeat(3, axis=2)).astype(np.uint8)
    corrected = flat_field(photo, blank).astype(float)
    relative = corrected / corrected.mean() - scene / scene.mean()
    assert np.abs(relative).max() < 0.02


def test_colour_science_leaves_numpy_s_print_options_as_they_were():
    before = np.get_printoptions()
    to_lab(np.full((2, 2, 3), 0.5))
    assert np.get_printoptions() == before
    assert str(np.float64(73.12732791431452)) == "73.12732791431452"  # not NumPy 1.13's 12 digits
