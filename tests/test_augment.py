"""Augmentation keeps labels exact and in step with the image; the touching paste really touches.

Touching means 4-connected adjacency here: some pasted pixel shares an edge with a pixel of P.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import ndimage

from orescope.train.augment import AugmentConfig, augment_pair
from orescope.train.touching import Donor, collect_donors, paste_touching

CROSS = ndimage.generate_binary_structure(2, 1)


def only(**enabled: Any) -> AugmentConfig:
    """Every op off except those given."""
    off: dict[str, Any] = {
        "flip": False,
        "rot90": False,
        "elastic_p": 0.0,
        "scale_p": 0.0,
        "brightness": 0.0,
        "contrast": 0.0,
        "colour": 0.0,
        "blur_p": 0.0,
        "noise_std": 0.0,
        "touching_p": 0.0,
    }
    return AugmentConfig(**(off | enabled))


def disc(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    rows, cols = np.indices(shape)
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


def scene(height: int = 64, width: int = 64) -> np.ndarray:
    """Asymmetric particles of different sizes, so every flip or turn shows; the ids are far
    apart, so a label interpolated between two of them is a new id."""
    labels = np.zeros((height, width), dtype=np.int32)
    labels[3:9, 4:30] = 11
    labels[20:40, 5:12] = 23
    labels[disc((height, width), (height / 2, width / 2 + 6), 9)] = 37
    labels[height - 12 : height - 2, width - 20 : width - 3] = 64
    labels[12:15, width - 8 : width - 5] = 90
    return labels


def image_of(labels: np.ndarray, channels: int = 3) -> np.ndarray:
    """An image that is a known function of the labels: id / 100 in every channel."""
    return np.repeat((labels / 100).astype(np.float32)[..., None], channels, axis=2)


def id_counts(labels: np.ndarray) -> Counter[int]:
    ids, counts = np.unique(labels, return_counts=True)
    return Counter(dict(zip(ids.tolist(), counts.tolist(), strict=True)))


@pytest.mark.parametrize("shape", [(64, 64), (48, 64)])
def test_flips_and_turns_move_image_and_labels_together(shape: tuple[int, int]) -> None:
    labels = scene(*shape)
    image = image_of(labels)
    outputs = set()
    for seed in range(24):
        out_image, out_labels = augment_pair(
            image, labels, np.random.default_rng(seed), only(flip=True, rot90=True)
        )
        assert out_labels.shape == labels.shape and out_labels.dtype == np.int32
        assert out_image.shape == image.shape and out_image.dtype == np.float32
        assert id_counts(out_labels) == id_counts(labels)
        np.testing.assert_array_equal(out_image, image_of(out_labels))
        outputs.add(out_labels.tobytes())
    # 8 orientations for a square patch, 4 (no quarter turns) otherwise
    assert len(outputs) == (8 if shape[0] == shape[1] else 4)


def test_photometric_ops_leave_labels_bit_identical() -> None:
    labels = scene()
    image = image_of(labels) + 0.05
    config = only(brightness=0.3, contrast=0.3, colour=0.1, blur_p=1.0, noise_std=0.05)
    out_image, out_labels = augment_pair(image, labels, np.random.default_rng(1), config)
    assert out_labels.dtype == labels.dtype
    np.testing.assert_array_equal(out_labels, labels)
    assert out_image.dtype == np.float32 and out_image.shape == image.shape
    assert out_image.min() >= 0 and out_image.max() <= 1
    assert not np.allclose(out_image, image, atol=1e-3)


def test_cross_talk_leaks_each_channel_into_the_others_in_linear_light() -> None:
    labels = np.zeros((3, 4), dtype=np.uint32)
    image = np.zeros((3, 4, 3), dtype=np.float32)
    image[0, :, 0] = image[1, :, 1] = image[2, :, 2] = 0.8  # a red, a green and a blue row
    out, out_labels = augment_pair(image, labels, np.random.default_rng(3), only(cross_talk=0.2))
    np.testing.assert_array_equal(out_labels, labels)
    mixing = np.power(out[:, 0], 2.2) / 0.8**2.2  # row i: where channel i went
    np.testing.assert_allclose(np.diag(mixing), 1.0, atol=1e-5)
    leaked = np.clip(mixing[~np.eye(3, dtype=bool)], 0, None)
    assert leaked.max() <= 0.2 + 1e-5 and leaked.max() > 0.01
    assert (out == out[:, :1]).all()  # the same mixing for every pixel


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exposure_is_one_gain_in_linear_light_within_its_range(seed: int) -> None:
    labels = np.zeros((2, 3), dtype=np.uint32)
    image = np.full((2, 3, 3), 0.5, dtype=np.float32)
    image[1] = [0.2, 0.4, 0.6]
    out, out_labels = augment_pair(image, labels, np.random.default_rng(seed), only(exposure=0.3))
    np.testing.assert_array_equal(out_labels, labels)
    gains = np.power(out, 2.2) / np.power(image, 2.2)
    np.testing.assert_allclose(gains, gains[0, 0, 0], rtol=1e-4)  # every pixel and channel
    assert 1 / 1.3 - 1e-6 <= gains[0, 0, 0] <= 1.3 + 1e-6
    assert abs(gains[0, 0, 0] - 1) > 1e-3


def test_exposure_gains_spread_over_the_whole_range_evenly_in_log() -> None:
    image = np.full((1, 1, 3), 0.5, dtype=np.float32)
    labels = np.zeros((1, 1), dtype=np.uint32)
    rng = np.random.default_rng(5)
    logs = [
        np.log(augment_pair(image, labels, rng, only(exposure=0.5))[0][0, 0, 0] ** 2.2 / 0.5**2.2)
        for _ in range(400)
    ]
    assert max(logs) <= np.log(1.5) + 1e-5 and min(logs) >= -np.log(1.5) - 1e-5
    assert max(logs) > 0.9 * np.log(1.5) and min(logs) < -0.9 * np.log(1.5)
    assert abs(np.mean(logs)) < 0.05


@pytest.mark.parametrize(
    "config",
    [
        only(elastic_p=1.0),
        only(scale_p=1.0),
        only(scale_p=1.0, scale_range=(0.5, 0.6)),
        only(elastic_p=1.0, scale_p=1.0, elastic_alpha_px=20.0),
    ],
)
@pytest.mark.parametrize("channels", [1, 3])
def test_warps_keep_exact_ids_and_follow_the_image(config: AugmentConfig, channels: int) -> None:
    labels = scene()
    image = image_of(labels, channels)
    for seed in range(4):
        out_image, out_labels = augment_pair(image, labels, np.random.default_rng(seed), config)
        assert out_labels.shape == labels.shape and out_labels.dtype == np.int32
        assert out_image.shape == image.shape and out_image.dtype == np.float32
        assert set(np.unique(out_labels)) <= set(np.unique(labels))
        assert not np.array_equal(out_labels, labels)
        # Bilinear image and nearest labels differ only along particle edges (some 15 % of the
        # particle pixels of these small particles).
        agree = np.abs(out_image[..., 0] - out_labels / 100) < 0.005
        assert agree[out_labels > 0].mean() > 0.7


def test_warps_keep_uint32_ids_bit_for_bit() -> None:
    labels = scene().astype(np.uint32) + np.uint32(2**31)
    labels[scene() == 0] = 0
    config = only(elastic_p=1.0, scale_p=1.0)
    _, out_labels = augment_pair(image_of(scene()), labels, np.random.default_rng(0), config)
    assert out_labels.dtype == np.uint32
    assert set(np.unique(out_labels)) <= set(np.unique(labels))


def test_scale_by_two_quadruples_a_central_particle() -> None:
    labels = np.zeros((96, 96), dtype=np.int32)
    labels[disc(labels.shape, (47.5, 47.5), 10)] = 7
    config = only(scale_p=1.0, scale_range=(2.0, 2.0))
    _, out_labels = augment_pair(image_of(labels), labels, np.random.default_rng(0), config)
    ratio = np.count_nonzero(out_labels == 7) / np.count_nonzero(labels == 7)
    assert ratio == pytest.approx(4.0, rel=0.03)


def test_same_seed_same_result_other_seed_other_result() -> None:
    labels = scene()
    image = image_of(labels)
    donors = collect_donors(image, labels, np.random.default_rng(0))
    config = AugmentConfig(elastic_p=1.0, scale_p=1.0, blur_p=1.0, touching_p=1.0)

    def run(seed: int) -> tuple[np.ndarray, np.ndarray]:
        return augment_pair(image, labels, np.random.default_rng(seed), config, donors)

    first, again, other = run(3), run(3), run(4)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


def test_inputs_are_not_modified_or_returned() -> None:
    labels = scene()
    image = image_of(labels)
    before = image.copy(), labels.copy()
    out_image, out_labels = augment_pair(image, labels, np.random.default_rng(0), only())
    out_image[:] = 0
    out_labels[:] = 0
    np.testing.assert_array_equal(image, before[0])
    np.testing.assert_array_equal(labels, before[1])


@pytest.mark.parametrize(
    "bad",
    [
        {"rotate": True},
        {"elastic_p": 1.5},
        {"touching_p": -0.1},
        {"blur_p": 2},
        {"scale_range": (1.2, 0.8)},
        {"noise_std": -0.01},
    ],
)
def test_config_rejects_unknown_keys_and_bad_ranges(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        AugmentConfig(**bad)


def test_augment_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="H×W×C"):
        augment_pair(
            np.zeros((8, 8, 3)), np.zeros((8, 9), np.int32), np.random.default_rng(0), only()
        )


def test_augment_pastes_one_touching_particle_when_asked() -> None:
    labels = scene()
    image = image_of(labels)
    donor = Donor(image=np.full((5, 7, 3), 0.95, np.float32), mask=np.ones((5, 7), bool))
    _, out_labels = augment_pair(
        image, labels, np.random.default_rng(0), only(touching_p=1.0), [donor]
    )
    assert set(np.unique(out_labels)) - set(np.unique(labels)) == {91}
    assert np.count_nonzero(out_labels == 91) == 35


def lumpy_donor(rng: np.random.Generator) -> Donor:
    """An L-shaped donor with distinct pixel values, so its pixels can be recognised."""
    mask = np.zeros((9, 13), dtype=bool)
    mask[:, :4] = True
    mask[5:, :] = True
    values = rng.permutation(mask.size).reshape(mask.shape) / mask.size
    pixels = np.stack([values, 1 - values, values / 2], axis=2).astype(np.float32)
    return Donor(image=pixels, mask=mask)


def rows_sorted(pixels: np.ndarray) -> list[tuple[float, ...]]:
    return sorted(map(tuple, pixels.tolist()))


@pytest.mark.parametrize("seed", range(12))
def test_paste_touching_places_donor_against_particle(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = np.zeros((64, 64), dtype=np.int32)
    particle = disc(labels.shape, (30, 34), 8)
    labels[particle] = 4
    image = np.where(particle, 0.5, 0.1).astype(np.float32)[..., None].repeat(3, axis=2)
    donor = lumpy_donor(rng)

    out_image, out_labels = paste_touching(image, labels, [donor], rng)

    assert set(np.unique(out_labels)) == {0, 4, 5}
    pasted = out_labels == 5
    assert np.count_nonzero(pasted) == np.count_nonzero(donor.mask)
    np.testing.assert_array_equal(out_labels == 4, particle)
    assert not np.any(pasted & particle)
    assert np.any(pasted & ndimage.binary_dilation(particle, CROSS))
    assert rows_sorted(out_image[pasted]) == rows_sorted(donor.image[donor.mask])
    np.testing.assert_array_equal(out_image[~pasted], image[~pasted])


def test_paste_touching_unrotated_copies_donor_pixels_in_place() -> None:
    labels = np.zeros((40, 40), dtype=np.int32)
    labels[disc(labels.shape, (20, 20), 5)] = 1
    image = np.zeros((40, 40, 3), np.float32)
    donor = Donor(image=np.full((3, 3, 3), 0.7, np.float32), mask=np.ones((3, 3), bool))
    out_image, out_labels = paste_touching(image, labels, [donor], np.random.default_rng(2))
    rows, cols = np.nonzero(out_labels == 2)
    window = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    np.testing.assert_array_equal(out_labels[window] == 2, donor.mask)
    np.testing.assert_array_equal(out_image[window], donor.image)


def test_paste_touching_occludes_other_particles_but_never_p() -> None:
    rng = np.random.default_rng(5)
    labels = np.arange(48, dtype=np.int32)[None, :].repeat(48, axis=0) // 6 + 1  # 8 stripes
    image = image_of(labels)
    donor = lumpy_donor(rng)
    for _ in range(10):
        out_image, out_labels = paste_touching(image, labels, [donor], rng)
        new = out_labels == 9
        assert np.count_nonzero(new) == np.count_nonzero(donor.mask)
        np.testing.assert_array_equal(out_labels[~new], labels[~new])
        np.testing.assert_array_equal(out_image[~new], image[~new])
        covered = set(np.unique(labels[new]).tolist())
        touching = set(np.unique(labels[ndimage.binary_dilation(new, CROSS) & ~new]).tolist())
        assert touching - covered  # P: a neighbour of which nothing was covered


@pytest.mark.parametrize("case", ["no particle", "no donor", "donor too big"])
def test_paste_touching_returns_unchanged_copies(case: str) -> None:
    labels = np.zeros((32, 32), dtype=np.int32)
    if case != "no particle":
        labels[10:20, 10:20] = 3
    image = image_of(labels)
    size = 40 if case == "donor too big" else 4
    donors = (
        []
        if case == "no donor"
        else [Donor(image=np.ones((size, size, 3), np.float32), mask=np.ones((size, size), bool))]
    )
    out_image, out_labels = paste_touching(image, labels, donors, np.random.default_rng(0))
    assert out_image is not image and out_labels is not labels
    np.testing.assert_array_equal(out_image, image)
    np.testing.assert_array_equal(out_labels, labels)


def test_collect_donors_skips_border_cut_and_small_particles() -> None:
    labels = np.zeros((40, 40), dtype=np.int32)
    labels[0:6, 10:16] = 1  # cut by the top border
    labels[20:22, 20:22] = 2  # 4 px: too small
    labels[disc(labels.shape, (12, 28), 4)] = 30
    labels[28:35, 5:11] = 7
    image = np.random.default_rng(0).random((40, 40, 3)).astype(np.float32)

    donors = collect_donors(image, labels, np.random.default_rng(1))
    assert sorted(int(np.count_nonzero(d.mask)) for d in donors) == [42, 49]
    for donor in donors:
        assert donor.image.dtype == np.float32
        assert donor.image.shape[:2] == donor.mask.shape
        assert donor.mask[0].any() and donor.mask[-1].any()  # cropped to the bounding box
        assert donor.mask[:, 0].any() and donor.mask[:, -1].any()
    square = next(d for d in donors if d.mask.all())
    np.testing.assert_array_equal(square.image, image[28:35, 5:11])

    assert len(collect_donors(image, labels, np.random.default_rng(1), skip_border=False)) == 3
    assert len(collect_donors(image, labels, np.random.default_rng(1), max_donors=1)) == 1
    assert len(collect_donors(image, labels, np.random.default_rng(1), min_area_px=1)) == 3
