import cv2
import numpy as np
import pytest
from skimage.draw import disk

from orescope.measure import (
    default_sieves,
    fit_distribution,
    measure_particles,
    particles,
    sieve_table,
    size_distribution,
)
from orescope.measure.fits import gaudin_schuhmann, rosin_rammler, swebrec


def test_rectangle_measurements_are_exact():
    labels = np.zeros((20, 20), np.uint32)
    labels[5:10, 3:15] = 1  # 5 rows x 12 columns
    row = measure_particles(labels, mm_per_px=0.5).iloc[0]
    assert row["area_px"] == 60
    assert row["area_mm2"] == pytest.approx(15.0)
    assert row["feret_min_px"] == pytest.approx(5.0)
    assert row["feret_max_px"] == pytest.approx(np.hypot(5, 12))
    assert row["feret_max_mm"] == pytest.approx(0.5 * np.hypot(5, 12))
    assert row["inscribed_diameter_px"] == pytest.approx(5.0)
    assert row["ecd_px"] == pytest.approx(np.sqrt(4 * 60 / np.pi))
    assert row["solidity"] == pytest.approx(1.0)
    assert not row["touches_border"]


def test_disk_measurements_match_its_diameter():
    labels = np.zeros((101, 101), np.uint32)
    labels[disk((50, 50), 30)] = 7
    row = measure_particles(labels).iloc[0]
    assert row["label"] == 7
    for column in (
        "ecd_px",
        "feret_min_px",
        "feret_max_px",
        "ellipse_minor_px",
        "inscribed_diameter_px",
    ):
        assert row[column] == pytest.approx(60, abs=1.5), column  # pixelation: 59 to 61.3


def test_border_flag_and_px_only_columns():
    labels = np.zeros((10, 10), np.uint32)
    labels[0:3, 4:6] = 1
    labels[9, 9] = 2
    labels[4:6, 4:6] = 3
    table = measure_particles(labels)
    assert table["touches_border"].tolist() == [True, True, False]
    assert not any(column.endswith("_mm") for column in table.columns)


def test_empty_image_gives_empty_table():
    assert len(measure_particles(np.zeros((5, 5), np.uint32))) == 0


def test_hazen_passing_and_percentiles():
    distribution = size_distribution(np.array([4.0, 1.0, 3.0, 2.0]))
    assert distribution.passing_pct.tolist() == [12.5, 37.5, 62.5, 87.5]
    assert distribution.size_at(50) == pytest.approx(2.5)
    assert size_distribution(np.array([7.0])).size_at(50) == 7.0


def test_mass_basis_weights_large_particles():
    distribution = size_distribution(np.array([1.0, 10.0]), np.array([1.0, 999.0]))
    assert distribution.passing_pct.tolist() == pytest.approx([0.05, 50.05])


def test_sieve_table_retained_and_passing():
    table = sieve_table(np.array([1.0, 2.0, 3.0, 4.0]), None, np.array([2.5, 1.5]))
    assert table["sieve"].tolist() == [2.5, 1.5]
    assert table["passing_pct"].tolist() == [50.0, 25.0]
    assert table["retained_pct"].tolist() == [50.0, 25.0]
    assert table["particles_retained"].tolist() == [2, 1]


def test_default_sieves_span_the_sizes():
    sieves = default_sieves(np.array([3.0, 40.0]))
    assert sieves.min() <= 3.0 and sieves.max() >= 40.0
    assert np.allclose(sieves[1:] / sieves[:-1], np.sqrt(2), atol=0.01)


def _sizes_following(cdf_inverse, count=400):
    """Sizes placed exactly at the Hazen plotting positions of a known distribution."""
    return cdf_inverse((np.arange(count) + 0.5) / count)


@pytest.mark.parametrize(
    ("model", "truth", "inverse"),
    [
        (
            "rosin_rammler",
            {"x50": 12.0, "n": 1.3},
            lambda f: 12.0 * (-np.log1p(-f) / np.log(2)) ** (1 / 1.3),
        ),
        (
            "swebrec",
            {"x50": 12.0, "xmax": 80.0, "b": 2.2},
            lambda f: 80.0 / np.exp(np.log(80.0 / 12.0) * (1 / f - 1) ** (1 / 2.2)),
        ),
        ("gaudin_schuhmann", {"xmax": 50.0, "m": 0.8}, lambda f: 50.0 * f ** (1 / 0.8)),
    ],
)
def test_fits_recover_known_parameters(model, truth, inverse):
    fit = fit_distribution(size_distribution(_sizes_following(inverse)), model)
    assert fit is not None and fit.r2 > 0.9999
    for name, value in truth.items():
        assert fit.params[name] == pytest.approx(value, rel=0.02), name


def test_model_formulas_at_their_anchor_points():
    assert rosin_rammler(np.array([10.0]), 10.0, 2.0)[0] == pytest.approx(0.5)
    assert swebrec(np.array([10.0]), 10.0, 100.0, 3.0)[0] == pytest.approx(0.5)
    assert gaudin_schuhmann(np.array([100.0, 200.0]), 100.0, 0.7).tolist() == [1.0, 1.0]


def test_fit_needs_three_distinct_sizes():
    assert fit_distribution(size_distribution(np.array([1.0, 1.0, 2.0])), "rosin_rammler") is None


def test_solidity_is_area_over_the_pixel_corner_hull():
    labels = np.zeros((7, 7), np.uint32)
    labels[2:5, 2] = 1  # an L of five pixels: a column of three and a row of three
    labels[4, 2:5] = 1
    row = measure_particles(labels).iloc[0]
    # hull of the corners: the 3×3 square less the triangle cut off above the diagonal (area 2)
    assert row["solidity"] == pytest.approx(5 / 7)


@pytest.mark.parametrize("budget", [2**22, 1])
def test_feret_of_many_rectangles_at_once_is_exact_in_any_batching(monkeypatch, budget):
    # rectangles of many sizes, in an order unrelated to their hull sizes; budget 1: one a batch
    monkeypatch.setattr(particles, "_STACK_ELEMENTS", budget)
    shapes = [(5, 12), (1, 1), (30, 2), (3, 3), (17, 40), (1, 9)]
    hulls = [particles.pixel_hull(np.ones(shape, np.uint8)) for shape in shapes]
    feret_max, feret_min = particles.feret_diameters(hulls)
    np.testing.assert_allclose(feret_max, [np.hypot(*shape) for shape in shapes], atol=1e-9)
    np.testing.assert_allclose(feret_min, [min(shape) for shape in shapes], atol=1e-9)


def test_pixel_hull_and_inscribed_diameter_of_a_boolean_mask_are_those_of_its_uint8_copy():
    mask = np.zeros((9, 11), dtype=bool)
    mask[1:8, 2:6] = True
    mask[3:5, 6:10] = True  # an L: the hull is not the mask's box
    hull = particles.pixel_hull(mask)
    np.testing.assert_array_equal(hull, particles.pixel_hull(mask.astype(np.uint8)))
    # corners (1.5, 0.5), (5.5, 0.5), (9.5, 2.5), (9.5, 4.5), (5.5, 7.5), (1.5, 7.5): 28 + 18
    assert cv2.contourArea(hull) == pytest.approx(46.0)
    assert particles.inscribed_diameter(mask) == particles.inscribed_diameter(mask.view(np.uint8))
