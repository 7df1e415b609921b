"""Augmentation of D×H×W×C volumes (micro-CT): the 2D guarantees hold in 3D as well.

Geometric ops move image and labels together and keep ids exact; the touching paste leaves the
pasted particle face-adjacent (6-connected) to the chosen one, without overlapping it.
"""

from __future__ import annotations

from collections import Counter
from itertools import permutations, product
from typing import Any

import numpy as np
import pytest
from scipy import ndimage
from test_augment import only  # every op off except those given, as for images

from orescope.train.augment import AugmentConfig, augment_pair
from orescope.train.touching import Donor, collect_donors, paste_touching

FACES = ndimage.generate_binary_structure(3, 1)
CUBE = np.ones((3, 3, 3), dtype=bool)


def ball(shape: tuple[int, ...], centre: tuple[float, ...], radius: float) -> np.ndarray:
    grid = np.indices(shape)
    return sum((axis - c) ** 2 for axis, c in zip(grid, centre, strict=True)) <= radius**2


def volume(shape: tuple[int, int, int] = (16, 16, 16)) -> np.ndarray:
    """Particles of different sizes in different corners, so every flip, turn or permutation of
    the axes shows; the ids are far apart, so a blend of two ids would be a new id."""
    depth, height, width = shape
    labels = np.zeros(shape, dtype=np.int32)
    labels[1:3, 2:9, 1:4] = 11
    labels[ball(shape, (depth / 2, height / 2 + 1, width / 2 - 2), 3)] = 23
    labels[depth - 5 : depth - 1, 1:3, width - 6 : width - 1] = 37
    labels[2:8, height - 3 : height - 1, width - 2 : width - 1] = 64
    return labels


def image_of(labels: np.ndarray, channels: int = 3) -> np.ndarray:
    """An image that is a known function of the labels: id / 100 in every channel."""
    return np.repeat((labels / 100).astype(np.float32)[..., None], channels, axis=-1)


def id_counts(labels: np.ndarray) -> Counter[int]:
    ids, counts = np.unique(labels, return_counts=True)
    return Counter(dict(zip(ids.tolist(), counts.tolist(), strict=True)))


def symmetries(labels: np.ndarray) -> set[bytes]:
    """Every axis permutation and flip of ``labels`` that keeps its shape."""
    out = set()
    for order in permutations(range(3)):
        turned = labels.transpose(order)
        if turned.shape != labels.shape:
            continue
        for flips in product([False, True], repeat=3):
            axes = tuple(axis for axis, flip in enumerate(flips) if flip)
            out.add(np.ascontiguousarray(np.flip(turned, axes)).tobytes())
    return out


@pytest.mark.parametrize(
    ("shape", "orientations"), [((16, 16, 16), 48), ((12, 16, 16), 16), ((12, 14, 16), 8)]
)
def test_flips_turns_and_permutations_move_image_and_labels_together(
    shape: tuple[int, int, int], orientations: int
) -> None:
    labels = volume(shape)
    image = image_of(labels)
    allowed = symmetries(labels)
    assert len(allowed) == orientations
    outputs = set()
    for seed in range(500):
        out_image, out_labels = augment_pair(
            image, labels, np.random.default_rng(seed), only(flip=True, rot90=True)
        )
        assert out_labels.shape == labels.shape and out_labels.dtype == np.int32
        assert out_image.shape == image.shape and out_image.dtype == np.float32
        np.testing.assert_array_equal(out_image, image_of(out_labels))
        outputs.add(out_labels.tobytes())
    # The whole symmetry group of the box, cube (48), square prism (16) or cuboid (8), and
    # nothing else: quarter turns only where H = W, permutations only for a cube.
    assert outputs == allowed


@pytest.mark.parametrize("dtype", [np.int32, np.uint32])
@pytest.mark.parametrize("channels", [1, 2])
def test_geometric_ops_keep_exact_ids_and_image_equal_to_mask(
    dtype: type[np.integer[Any]], channels: int
) -> None:
    labels = volume().astype(dtype)
    labels[labels == 64] = np.iinfo(dtype).max  # ids must survive bit for bit
    image = np.repeat((labels > 0).astype(np.float32)[..., None], channels, axis=-1)
    for seed in range(4):
        out_image, out_labels = augment_pair(
            image, labels, np.random.default_rng(seed), only(flip=True, rot90=True)
        )
        assert out_labels.dtype == dtype and out_image.dtype == np.float32
        assert out_image.shape == image.shape
        assert id_counts(out_labels) == id_counts(labels)
        np.testing.assert_array_equal(
            out_image, np.repeat((out_labels > 0)[..., None], channels, -1)
        )


@pytest.mark.parametrize(
    "config",
    [
        only(elastic_p=1.0, elastic_alpha_px=3.0, elastic_sigma_px=3.0),
        only(scale_p=1.0),
        only(elastic_p=1.0, scale_p=1.0, elastic_alpha_px=3.0, elastic_sigma_px=3.0),
    ],
)
def test_warps_keep_exact_ids_and_follow_the_image(config: AugmentConfig) -> None:
    ids = np.zeros((24, 24, 24), dtype=np.uint32)
    ids[ball(ids.shape, (11, 12, 13), 6)] = 30
    ids[2:8, 3:20, 15:21] = 60
    labels = ids * np.uint32(2**25)  # up to 2**31: ids must survive bit for bit
    image = image_of(ids, channels=2)
    for seed in range(3):
        out_image, out_labels = augment_pair(image, labels, np.random.default_rng(seed), config)
        assert out_labels.shape == labels.shape and out_labels.dtype == np.uint32
        assert out_image.shape == image.shape and out_image.dtype == np.float32
        assert set(np.unique(out_labels)) <= set(np.unique(labels))
        assert not np.array_equal(out_labels, labels)
        np.testing.assert_array_equal(out_image[..., 0], out_image[..., 1])
        # Trilinear image and nearest labels differ only along particle surfaces: they agree
        # wherever all 26 neighbours and theirs are of the same particle.
        agree = np.abs(out_image[..., 0] - out_labels / 2**25 / 100) < 0.005
        inside = np.zeros(labels.shape, dtype=bool)
        for particle in np.unique(labels):
            inside |= ndimage.binary_erosion(out_labels == particle, CUBE, iterations=2)
        assert agree[inside].all() and inside.any()


def test_scale_by_two_multiplies_a_central_ball_by_eight() -> None:
    labels = np.zeros((32, 32, 32), dtype=np.int32)
    labels[ball(labels.shape, (15.5, 15.5, 15.5), 5)] = 7
    config = only(scale_p=1.0, scale_range=(2.0, 2.0))
    _, out_labels = augment_pair(image_of(labels, 1), labels, np.random.default_rng(0), config)
    ratio = np.count_nonzero(out_labels == 7) / np.count_nonzero(labels == 7)
    assert ratio == pytest.approx(8.0, rel=0.05)


def test_blur_spreads_equally_along_every_spatial_axis_and_never_across_channels() -> None:
    labels = np.zeros((15, 15, 15), dtype=np.int32)
    image = np.zeros((15, 15, 15, 2), dtype=np.float32)
    image[7, 7, 7, 0] = 1.0
    out, out_labels = augment_pair(image, labels, np.random.default_rng(0), only(blur_p=1.0))
    np.testing.assert_array_equal(out_labels, labels)
    np.testing.assert_array_equal(out[..., 1], 0)
    blurred = out[..., 0]
    assert blurred.sum() == pytest.approx(1.0, rel=1e-4)
    assert blurred[7, 7, 7] < 1.0
    line = blurred[7, 7, :]
    np.testing.assert_allclose(blurred[:, 7, 7], line, rtol=1e-5)
    np.testing.assert_allclose(blurred[7, :, 7], line, rtol=1e-5)
    np.testing.assert_allclose(line, line[::-1], rtol=1e-5)


def test_photometric_ops_leave_labels_alone_and_colour_is_one_gain_per_channel() -> None:
    labels = volume()
    image = np.full((*labels.shape, 3), 0.5, dtype=np.float32)
    out, out_labels = augment_pair(image, labels, np.random.default_rng(2), only(colour=0.1))
    np.testing.assert_array_equal(out_labels, labels)
    gains = out / 0.5
    np.testing.assert_array_equal(gains, np.broadcast_to(gains[0, 0, 0], gains.shape))
    assert np.all(np.abs(gains - 1) <= 0.1 + 1e-6) and len(np.unique(gains)) == 3
    config = only(brightness=0.3, contrast=0.3, blur_p=1.0, noise_std=0.05, cross_talk=0.2)
    out, out_labels = augment_pair(image_of(labels), labels, np.random.default_rng(1), config)
    np.testing.assert_array_equal(out_labels, labels)
    assert out.shape == (*labels.shape, 3) and out.min() >= 0 and out.max() <= 1


def test_same_seed_same_result_other_seed_other_result() -> None:
    labels = volume()
    image = image_of(labels)
    donors = collect_donors(image, labels, np.random.default_rng(0), min_area_px=4)
    assert donors
    config = AugmentConfig(elastic_p=1.0, scale_p=1.0, blur_p=1.0, touching_p=1.0)

    def run(seed: int) -> tuple[np.ndarray, np.ndarray]:
        return augment_pair(image, labels, np.random.default_rng(seed), config, donors)

    first, again, other = run(3), run(3), run(4)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])
    assert first[1].max() == labels.max() + 1  # the pasted particle, turned and warped along


@pytest.mark.parametrize(
    ("image_shape", "labels_shape"),
    [((8, 8, 8), (8, 8, 8)), ((8, 8, 8, 3), (8, 8, 9)), ((2, 4, 4, 4, 1), (2, 4, 4, 4))],
)
def test_augment_rejects_mismatched_volumes(
    image_shape: tuple[int, ...], labels_shape: tuple[int, ...]
) -> None:
    with pytest.raises(ValueError, match="D×H×W×C"):
        augment_pair(
            np.zeros(image_shape, np.float32),
            np.zeros(labels_shape, np.int32),
            np.random.default_rng(0),
            only(),
        )


def lumpy_donor(rng: np.random.Generator) -> Donor:
    """A 3D L with a foot along the last axis and distinct voxel values, so that each of its 8
    turns and flips and each of its voxels can be recognised."""
    mask = np.zeros((3, 5, 7), dtype=bool)
    mask[:, :, :2] = True
    mask[:, 3:, :] = True
    mask[0, :, :] = False
    mask[0, 3:, :2] = True
    values = rng.permutation(mask.size).reshape(mask.shape) / mask.size
    return Donor(image=np.stack([values, 1 - values], axis=-1).astype(np.float32), mask=mask)


def donor_poses(donor: Donor) -> list[tuple[np.ndarray, np.ndarray]]:
    """The donor's 8 allowed poses: quarter turns in the last two axes, then a flip of the last."""
    poses = []
    for turns, flip in product(range(4), [False, True]):
        image = np.rot90(donor.image, turns, axes=(1, 2))
        mask = np.rot90(donor.mask, turns, axes=(1, 2))
        if flip:
            image, mask = image[:, :, ::-1], mask[:, :, ::-1]
        poses.append((image, mask))
    return poses


def crop(array: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``array`` cropped to the bounding box of ``where``."""
    return array[ndimage.find_objects(where.astype(np.int32))[0]]


@pytest.mark.parametrize("seed", range(10))
def test_paste_touching_places_donor_face_to_face_with_the_particle(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = np.zeros((28, 28, 28), dtype=np.int32)
    particle = ball(labels.shape, (13, 15, 14), 5)
    labels[particle] = 4
    image = np.where(particle, 0.5, 0.1).astype(np.float32)[..., None].repeat(2, axis=-1)
    donor = lumpy_donor(rng)

    out_image, out_labels = paste_touching(image, labels, [donor], rng)

    assert set(np.unique(out_labels)) == {0, 4, 5}
    pasted = out_labels == 5
    assert np.count_nonzero(pasted) == np.count_nonzero(donor.mask)  # all of it, inside
    np.testing.assert_array_equal(out_labels == 4, particle)
    assert not np.any(pasted & particle)
    assert np.any(pasted & ndimage.binary_dilation(particle, FACES))
    assert ndimage.label(pasted, FACES)[1] == 1
    pasted_mask, pasted_image = crop(pasted, pasted), crop(out_image, pasted)
    assert any(
        np.array_equal(pasted_mask, mask) and np.array_equal(pasted_image[mask], values[mask])
        for values, mask in donor_poses(donor)
    )
    np.testing.assert_array_equal(out_image[~pasted], image[~pasted])


def test_paste_touching_never_leaves_a_box_edge_or_corner_contact_only() -> None:
    """A box slid out of a box along a random direction often leaves it across an edge or a
    corner, in a step along several axes at once: contact must still be through a face."""
    labels = np.zeros((24, 24, 24), dtype=np.int32)
    labels[9:15, 9:15, 9:15] = 1
    target = labels == 1
    image = np.zeros((24, 24, 24, 1), np.float32)
    donor = Donor(image=np.ones((4, 4, 4, 1), np.float32), mask=np.ones((4, 4, 4), bool))
    rng = np.random.default_rng(7)
    for _ in range(40):
        _, out_labels = paste_touching(image, labels, [donor], rng)
        pasted = out_labels == 2
        assert np.count_nonzero(pasted) == 64
        assert not np.any(pasted & target)
        assert np.any(pasted & ndimage.binary_dilation(target, FACES))


def test_paste_touching_occludes_other_particles_but_never_p() -> None:
    labels = (np.arange(24)[None, None, :] // 4 + 1).repeat(24, 0).repeat(24, 1).astype(np.int32)
    image = image_of(labels, 2)
    donor = lumpy_donor(np.random.default_rng(0))
    rng = np.random.default_rng(5)
    for _ in range(6):
        out_image, out_labels = paste_touching(image, labels, [donor], rng)
        new = out_labels == 7
        assert np.count_nonzero(new) == np.count_nonzero(donor.mask)
        np.testing.assert_array_equal(out_labels[~new], labels[~new])
        np.testing.assert_array_equal(out_image[~new], image[~new])
        covered = set(np.unique(labels[new]).tolist())
        touching = set(np.unique(labels[ndimage.binary_dilation(new, FACES) & ~new]).tolist())
        assert touching - covered  # P: a neighbour of which nothing was covered


def test_paste_touching_leaves_copies_unchanged_when_the_donor_cannot_fit() -> None:
    labels = np.zeros((10, 10, 10), dtype=np.int32)
    labels[3:7, 3:7, 3:7] = 2
    image = image_of(labels, 1)
    donor = Donor(image=np.ones((9, 9, 9, 1), np.float32), mask=np.ones((9, 9, 9), bool))
    out_image, out_labels = paste_touching(image, labels, [donor], np.random.default_rng(0))
    assert out_image is not image and out_labels is not labels
    np.testing.assert_array_equal(out_image, image)
    np.testing.assert_array_equal(out_labels, labels)


def test_paste_touching_rejects_a_donor_of_other_dimensionality() -> None:
    labels = np.zeros((10, 10, 10), dtype=np.int32)
    labels[3:7, 3:7, 3:7] = 2
    flat = Donor(image=np.ones((3, 3, 1), np.float32), mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="does not fit"):
        paste_touching(image_of(labels, 1), labels, [flat], np.random.default_rng(0))


def test_collect_donors_skips_particles_cut_by_any_face_and_small_ones() -> None:
    shape = (20, 22, 24)
    labels = np.zeros(shape, dtype=np.int32)
    for axis in range(3):  # one particle against the lower and one against the upper face
        low, high = [slice(8, 11)] * 3, [slice(8, 11)] * 3
        low[axis], high[axis] = slice(0, 3), slice(shape[axis] - 3, shape[axis])
        labels[tuple(low)], labels[tuple(high)] = 10 + axis, 20 + axis
    labels[4:5, 4:6, 4:6] = 2  # 4 voxels: too small
    labels[ball(shape, (12, 6, 17), 2.5)] = 30
    labels[13:16, 14:18, 3:8] = 7
    image = np.random.default_rng(0).random((*shape, 2)).astype(np.float32)

    donors = collect_donors(image, labels, np.random.default_rng(1))
    sizes = sorted(int(np.count_nonzero(d.mask)) for d in donors)
    assert sizes == sorted([int(np.count_nonzero(labels == 30)), 60])
    for donor in donors:
        assert donor.image.dtype == np.float32 and donor.image.shape[:-1] == donor.mask.shape
        for axis in range(3):  # cropped to the bounding box
            assert np.take(donor.mask, 0, axis).any() and np.take(donor.mask, -1, axis).any()
    block = next(d for d in donors if d.mask.all())
    np.testing.assert_array_equal(block.image, image[13:16, 14:18, 3:8])

    assert len(collect_donors(image, labels, np.random.default_rng(1), skip_border=False)) == 8
    assert len(collect_donors(image, labels, np.random.default_rng(1), min_area_px=1)) == 3


@pytest.mark.parametrize(
    ("image_shape", "mask_shape"),
    [
        ((4, 5, 6, 2), (4, 5, 7)),
        ((4, 5, 6), (4, 5, 6)),
        ((5, 2), (5,)),
        ((2, 3, 4, 5, 1), (2, 3, 4, 5)),
    ],
)
def test_donor_rejects_mismatched_shapes(
    image_shape: tuple[int, ...], mask_shape: tuple[int, ...]
) -> None:
    with pytest.raises(ValueError, match="do not match"):
        Donor(image=np.zeros(image_shape, np.float32), mask=np.ones(mask_shape, bool))
