"""Colour correction of section photos (paper 003 §2): another microscope, lamp or camera
shifts colours, and colour is what tells minerals apart.

A 4×3 colour-correction matrix maps linear RGB (gamma 2.2) plus a constant onto the reference's
linear RGB. It is fitted to a few matching colours — the averaged colours of labelled regions,
or the class means of a reference image — by minimising the summed squared CIEDE2000
differences in CIELAB, starting from a white balance. The colour maths is colour-science's.
"""

from __future__ import annotations

from dataclasses import dataclass

import colour
import numpy as np
from scipy.optimize import minimize

from orescope.errors import InputError

GAMMA = 2.2
MIN_COLOURS = 4  # 12 unknowns, 3 equations per colour
# Pull towards the white balance, in squared CIEDE2000 per squared matrix entry: mineral colours
# are nearly grey and few, so a free 4x3 fit to them can swing far off for images it never saw.
PRIOR_WEIGHT = 5.0
_SRGB = colour.RGB_COLOURSPACES["sRGB"]
_D65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]


def linearise(rgb: np.ndarray) -> np.ndarray:
    """8-bit (or 0–1) RGB to linear light with the paper's gamma 2.2."""
    values = np.asarray(rgb, dtype=np.float64)
    if values.max(initial=0) > 1:
        values = values / 255
    return np.power(np.clip(values, 0, 1), GAMMA)


def to_lab(linear: np.ndarray) -> np.ndarray:
    """Linear RGB (sRGB primaries, D65) to CIELAB."""
    xyz = colour.RGB_to_XYZ(linear, _SRGB, apply_cctf_decoding=False)
    return colour.XYZ_to_Lab(xyz, _D65)


def _homogeneous(linear: np.ndarray) -> np.ndarray:
    return np.concatenate([linear, np.ones((*linear.shape[:-1], 1))], axis=-1)


@dataclass(frozen=True)
class ColourCorrection:
    """``matrix`` (4×3) takes [r, g, b, 1] in linear light to the reference's linear RGB."""

    matrix: np.ndarray

    def apply(self, image: np.ndarray, band_rows: int = 512) -> np.ndarray:
        """The corrected uint8 RGB image, a band of rows at a time (panoramas stay bounded)."""
        table = np.power(np.arange(256) / 255, GAMMA)  # uint8 -> linear, by lookup
        out = np.empty(image.shape[:2] + (3,), dtype=np.uint8)
        for top in range(0, image.shape[0], band_rows):
            linear = table[image[top : top + band_rows, :, :3]]
            mapped = _homogeneous(linear) @ self.matrix
            encoded = np.power(np.clip(mapped, 0, 1), 1 / GAMMA)
            out[top : top + band_rows] = np.round(encoded * 255).astype(np.uint8)
        return out


def white_balance(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The starting matrix: per-channel gains that match the brightest source colour (the
    'white') to its reference, in linear light."""
    brightest = int(np.argmax(source.sum(axis=1)))
    gains = reference[brightest] / np.maximum(source[brightest], 1e-6)
    return np.vstack([np.diag(gains), np.zeros((1, 3))])


def fit_colour_correction(
    source: np.ndarray, reference: np.ndarray, prior_weight: float = PRIOR_WEIGHT
) -> ColourCorrection:
    """The matrix that brings ``source`` colours (N×3 RGB, 8-bit or 0–1) closest, in
    CIEDE2000, to the matching ``reference`` colours, kept near the white balance it starts
    from by ``prior_weight`` (0: the paper's unconstrained fit)."""
    source_linear, reference_linear = linearise(source), linearise(reference)
    if len(source_linear) < MIN_COLOURS or source_linear.shape != reference_linear.shape:
        raise InputError(
            None,
            f"colour correction needs at least {MIN_COLOURS} matching colours "
            f"(got {len(source_linear)} and {len(reference_linear)})",
        )
    target = to_lab(reference_linear)
    inputs = _homogeneous(source_linear)

    def loss(flat: np.ndarray) -> float:
        mapped = np.clip(inputs @ flat.reshape(4, 3), 1e-6, None)
        error = np.sum(colour.delta_E(to_lab(mapped), target, method="CIE 2000") ** 2)
        return float(error + prior_weight * np.sum((flat - start) ** 2))

    start = white_balance(source_linear, reference_linear).ravel()
    found = minimize(loss, start, method="Powell", options={"maxiter": 20_000, "xtol": 1e-6})
    return ColourCorrection(found.x.reshape(4, 3))


def class_colours(
    image: np.ndarray, mask: np.ndarray, min_pixels: int = 50
) -> dict[int, np.ndarray]:
    """Mean RGB of every class with at least ``min_pixels`` pixels in ``mask`` (a partial
    labelling works: pixels of classes you did not label are just not used)."""
    found = {}
    for index in np.unique(mask):
        where = mask == index
        if np.count_nonzero(where) >= min_pixels:
            found[int(index)] = image[..., :3][where].astype(np.float64).mean(axis=0)
    return found


def mean_class_colours(images: list[tuple[np.ndarray, np.ndarray]]) -> dict[int, np.ndarray]:
    """Per class, the mean over (image, mask) pairs of each image's class mean: the reference
    colours of a training set, kept on a model's card."""
    found: dict[int, list[np.ndarray]] = {}
    for image, mask in images:
        for index, rgb in class_colours(image, mask).items():
            found.setdefault(index, []).append(rgb)
    return {index: np.mean(values, axis=0) for index, values in found.items()}


def matching_colours(
    source: dict[int, np.ndarray], reference: dict[int, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The colours of the classes both have, in the same order."""
    shared = sorted(set(source) & set(reference))
    pick = [source[i] for i in shared], [reference[i] for i in shared]
    return np.reshape(pick[0], (-1, 3)), np.reshape(pick[1], (-1, 3))


def region_colours(
    photos: list[tuple[np.ndarray, np.ndarray]], reference: dict[int, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Matching colours pooled over several labelled photos of a series, one pair per class and
    photo: more colours from more photos average out how one section differs from the
    reference, which a single photo's few, similar colours cannot."""
    pairs = [matching_colours(class_colours(image, mask), reference) for image, mask in photos]
    return np.concatenate([s for s, _ in pairs]), np.concatenate([r for _, r in pairs])


def flat_field(image: np.ndarray, blank: np.ndarray) -> np.ndarray:
    """Uneven illumination removed: each channel divided by the blank field (a photo of an
    empty, uniform field under the same light) relative to the blank's mean."""
    if blank.shape[:2] != image.shape[:2]:
        raise InputError(None, f"blank field {blank.shape[:2]} and image {image.shape[:2]} differ")
    gain = blank.astype(np.float64)
    gain = np.maximum(gain, 1) / np.maximum(gain, 1).mean(axis=(0, 1))
    corrected = image.astype(np.float64) / gain
    return np.clip(np.round(corrected), 0, 255).astype(np.uint8)
