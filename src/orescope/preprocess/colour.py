"""Colour correction of section photos (paper 003 §2): another microscope, lamp or camera
shifts colours, and colour is what tells minerals apart.

A 4×3 colour-correction matrix maps linear RGB (gamma 2.2) plus a constant onto the reference's
linear RGB. It is fitted to a few matching colours — the averaged colours of labelled regions,
or the class means of a reference image — by minimising the summed squared CIEDE2000
differences in CIELAB, starting from a white balance. The colour maths is colour-science's.

Ore minerals in reflected light are nearly grey: their colours span too little of RGB to tell
how the channels cross-talk, and a free 4×3 fit to them swings far off on images it never saw
(it mixes channels even for undistorted photos). For such colours only the channel gains, the
black level and one saturation are fitted: a uniform cross-talk, each channel leaking equally
into the others, which pulls every colour towards grey. The fitted saturation comes out too
low, since each section's class colours scatter around the reference and least squares shrinks
a slope fitted to scattered inputs (regression dilution); it is divided by the saturation the
same fit finds between the training photos themselves (:func:`reference_saturation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np
from scipy.optimize import minimize

from orescope.errors import InputError
from orescope.io.classes import UNLABELLED

GAMMA = 2.2
MIN_COLOURS = 4  # 12 unknowns, 3 equations per colour
# Smallest spread of the colours (their third singular value in linear RGB over the first)
# that determines cross-talk (random colours: ~0.3; bench/colour_correction.py prints it for
# LumenStone's class means).
MIN_SPREAD = 0.1
# Smallest reference saturation (see reference_saturation) at which saturation is fitted: below
# it, section-to-section scatter makes up most of the colours' spread around grey (LumenStone:
# 0.79; the near-colourless minerals of thin sections in plane light: 0.26).
MIN_SATURATION = 0.5


def linearise(rgb: np.ndarray) -> np.ndarray:
    """8-bit (or 0–1) RGB to linear light with the paper's gamma 2.2."""
    values = np.asarray(rgb, dtype=np.float64)
    if values.max(initial=0) > 1:
        values = values / 255
    return np.power(np.clip(values, 0, 1), GAMMA)


def colour_science() -> ModuleType:
    """The ``colour`` package, with NumPy's print options as they were: importing it switches
    them to NumPy 1.13's, which writes floats to 12 digits, so every table a run wrote after
    a colour calibration would lose digits and differ from the same run's without one."""
    options = np.get_printoptions()
    import colour

    np.set_printoptions(**options)
    return colour


def to_lab(linear: np.ndarray) -> np.ndarray:
    """Linear RGB (sRGB primaries, D65) to CIELAB.

    colour-science is imported here, not with the module: importing it loads matplotlib's
    pyplot, which photos that are never calibrated should not pay for.
    """
    colour = colour_science()
    srgb = colour.RGB_COLOURSPACES["sRGB"]
    d65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    xyz = colour.RGB_to_XYZ(linear, srgb, apply_cctf_decoding=False)
    return colour.XYZ_to_Lab(xyz, d65)


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


def colour_spread(linear: np.ndarray) -> float:
    """How far colours (N×3, linear RGB) spread in all three directions around their mean: the
    third singular value over the first (0 for colours on a line, such as greys)."""
    values = np.linalg.svd(linear - linear.mean(axis=0), compute_uv=False)
    return float(values[-1] / max(values[0], 1e-12))


def saturation(value: float) -> np.ndarray:
    """The 3×3 uniform cross-talk that scales every colour's distance from the grey of its
    channels' mean by ``value`` (below 1: towards grey)."""
    return value * np.eye(3) + (1 - value) / 3


def _restricted(values: np.ndarray) -> np.ndarray:
    """4×3 matrix of channel gains (``values[:3]``), black level (``[3:6]``) and saturation
    (``[6]``)."""
    return np.vstack([np.diag(values[:3]) @ saturation(values[6]), values[3:6]])


def _fit(
    source: np.ndarray,
    reference: np.ndarray,
    weights: np.ndarray | None,
    full: bool | None,
    held_saturation: float | None = None,
) -> tuple[np.ndarray, bool]:
    """Fitted parameters (the 12 matrix entries, or the 7 of :func:`_restricted`, saturation
    held at ``held_saturation`` if given) and whether they are the full matrix."""
    source_linear, reference_linear = linearise(source), linearise(reference)
    if len(source_linear) < MIN_COLOURS or source_linear.shape != reference_linear.shape:
        raise InputError(
            None,
            f"colour correction needs at least {MIN_COLOURS} matching colours "
            f"(got {len(source_linear)} and {len(reference_linear)})",
        )
    if full is None:
        full = colour_spread(source_linear) >= MIN_SPREAD
    weights = np.ones(len(source_linear)) if weights is None else np.asarray(weights, float)
    target = to_lab(reference_linear)
    inputs = _homogeneous(source_linear)
    balance = white_balance(source_linear, reference_linear)
    free = np.ones(12 if full else 7, bool)
    free[6] = full or held_saturation is None
    held = 1.0 if held_saturation is None else held_saturation
    start = balance.ravel() if full else np.concatenate([np.diag(balance), np.zeros(3), [held]])

    def matrix(values: np.ndarray) -> np.ndarray:
        every = start.copy()
        every[free] = values
        return every.reshape(4, 3) if full else _restricted(every)

    delta_E = colour_science().delta_E

    def loss(values: np.ndarray) -> float:
        mapped = np.clip(inputs @ matrix(values), 1e-6, None)
        error = delta_E(to_lab(mapped), target, method="CIE 2000")
        return float(np.sum(weights * error**2))

    found = minimize(loss, start[free], method="Powell", options={"maxiter": 20_000, "xtol": 1e-6})
    every = start.copy()
    every[free] = found.x
    return every, full


def fit_colour_correction(
    source: np.ndarray,
    reference: np.ndarray,
    weights: np.ndarray | None = None,
    full: bool | None = None,
    saturation_bias: float | None = None,
) -> ColourCorrection:
    """The matrix that brings ``source`` colours (N×3 RGB, 8-bit or 0–1) closest, in
    CIEDE2000, to the matching ``reference`` colours, each colour's squared difference weighted
    by ``weights`` (default equal). ``full``: fit all 12 entries, or only gains, black level
    and saturation; by default all only when the colours spread enough to fix them
    (:data:`MIN_SPREAD`). The restricted fit's saturation is divided by ``saturation_bias``
    (a model card's ``reference_saturation``) and the rest fitted again for it; without a bias,
    or one below :data:`MIN_SATURATION`, saturation is held at 1."""
    if saturation_bias is None or saturation_bias < MIN_SATURATION:
        values, full = _fit(source, reference, weights, full, held_saturation=1.0)
    else:
        values, full = _fit(source, reference, weights, full)
        if not full and saturation_bias != 1.0:  # the gains again, for the true saturation
            values, _ = _fit(source, reference, weights, False, values[6] / saturation_bias)
    return ColourCorrection(values.reshape(4, 3) if full else _restricted(values))


def reference_saturation(
    photos: list[tuple[np.ndarray, np.ndarray]], group: int = 6, rounds: int = 16, seed: int = 0
) -> float | None:
    """The saturation the restricted fit finds, on average over ``rounds`` random groups of
    ``group`` training ``(photo, mask)`` pairs, between a group's class colours and the class
    means of the other photos: how much section-to-section scatter shrinks it (None for fewer
    than two photos or too few colours)."""
    colours = [class_colours(image, mask) for image, mask in photos]
    size = min(group, len(colours) - 1)
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(rounds if size > 0 else 0):
        order = rng.permutation(len(colours))
        others = _mean_colours([colours[i] for i in order[size:]])
        pairs = _matching([colours[i] for i in order[:size]], others)
        if len(pairs[0]) >= MIN_COLOURS:
            found.append(_fit(*pairs, full=False)[0][6])
    return float(np.mean(found)) if found else None


# A model card's colour reference: class-mean RGB of the training photos and their saturation.
ColourReference = tuple[dict[int, tuple[float, float, float]], float | None]


def colour_reference(photos: list[tuple[np.ndarray, np.ndarray]]) -> ColourReference:
    """What a card keeps for colour calibration of ``(photo, mask)`` training pairs: the class
    means (:func:`mean_class_colours`, as plain floats) and :func:`reference_saturation`."""
    found = mean_class_colours(photos)
    colours = {index: (float(r), float(g), float(b)) for index, (r, g, b) in found.items()}
    return colours, reference_saturation(photos)


def class_colours(
    image: np.ndarray, mask: np.ndarray, min_pixels: int = 50
) -> dict[int, tuple[np.ndarray, int]]:
    """Mean RGB and pixel count of every class with at least ``min_pixels`` pixels in
    ``mask`` (a partial labelling works: pixels of classes you did not label, and those marked
    :data:`~orescope.io.classes.UNLABELLED`, are not used)."""
    found = {}
    for index, pixels in zip(*np.unique(mask, return_counts=True), strict=True):
        if pixels >= min_pixels and index != UNLABELLED:
            rgb = image[..., :3][mask == index].astype(np.float64).mean(axis=0)
            found[int(index)] = (rgb, int(pixels))
    return found


def mean_class_colours(images: list[tuple[np.ndarray, np.ndarray]]) -> dict[int, np.ndarray]:
    """Per class, the mean over (image, mask) pairs of each image's class mean: the reference
    colours of a training set, kept on a model's card."""
    return _mean_colours([class_colours(image, mask) for image, mask in images])


def _mean_colours(colours: list[dict[int, tuple[np.ndarray, int]]]) -> dict[int, np.ndarray]:
    found: dict[int, list[np.ndarray]] = {}
    for photo in colours:
        for index, (rgb, _) in photo.items():
            found.setdefault(index, []).append(rgb)
    return {index: np.mean(values, axis=0) for index, values in found.items()}


def region_colours(
    photos: list[tuple[np.ndarray, np.ndarray]], reference: dict[int, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matching colours (source, reference) pooled over several labelled photos of a series, one
    pair per class and photo, and their weights: more colours from more photos average out how
    one section differs from the reference, which a single photo's few, similar colours cannot.
    A region's weight is the square root of its pixels: its mean is surer the larger it is,
    but a large region of one section differs from the reference as much as a small one."""
    return _matching([class_colours(image, mask) for image, mask in photos], reference)


def _matching(
    colours: list[dict[int, tuple[np.ndarray, int]]], reference: dict[int, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    source, target, weights = [], [], []
    for photo in colours:
        for index, (rgb, pixels) in sorted(photo.items()):
            if index in reference:
                source.append(rgb)
                target.append(reference[index])
                weights.append(np.sqrt(pixels))
    return np.reshape(source, (-1, 3)), np.reshape(target, (-1, 3)), np.asarray(weights)


def flat_field(image: np.ndarray, blank: np.ndarray) -> np.ndarray:
    """Uneven illumination removed: each channel divided by the blank field (a photo of an
    empty, uniform field under the same light) relative to the blank's mean."""
    if blank.shape[:2] != image.shape[:2]:
        raise InputError(None, f"blank field {blank.shape[:2]} and image {image.shape[:2]} differ")
    gain = blank.astype(np.float64)
    gain = np.maximum(gain, 1) / np.maximum(gain, 1).mean(axis=(0, 1))
    corrected = image.astype(np.float64) / gain
    return np.clip(np.round(corrected), 0, 255).astype(np.uint8)
