"""Registering one photo of a field of view onto another (XPL onto PPL), as paper 003 §3 does:
SIFT keypoints, ratio-tested matches and an affine transform fitted by RANSAC."""

from __future__ import annotations

import cv2
import numpy as np

from orescope.errors import InputError

DETECT_SIDE = 1600  # px: keypoints are found on copies no larger than this, for speed
MIN_INLIERS = 12
# A section photo has ~40000 keypoints: brute-force matching took minutes a pair, FLANN's
# k-d trees take seconds (the ratio test needs every keypoint: keeping only the strongest
# 4000 left too few matches on some thin sections)
FLANN_KDTREE: dict[str, bool | int | float | str] = {"algorithm": 1, "trees": 4}
FLANN_SEARCH: dict[str, bool | int | float | str] = {"checks": 256}


def _edges(image: np.ndarray, scale: float) -> np.ndarray:
    """Gradient magnitude of a gray copy, stretched to uint8: crossed polars change colours and
    flip contrast grain by grain, but grain boundaries stay where they are."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2GRAY)
    gray = gray.astype(np.float32)
    if scale != 1:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    gray = cv2.GaussianBlur(gray, (0, 0), 1.0)
    magnitude = cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    top = max(float(np.percentile(magnitude, 99)), 1e-6)  # a dark frame's edge must not rule
    return np.clip(magnitude * (255 / top), 0, 255).astype(np.uint8)


def estimate_affine(reference: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """2×3 matrix mapping ``moving`` pixel coordinates (x, y) onto ``reference``'s.

    Keypoints are matched on gradient magnitude (see ``_edges``). Raises
    :class:`InputError` when too few matches agree.
    """
    scale = min(1.0, DETECT_SIDE / max(*reference.shape[:2], *moving.shape[:2]))
    sift = cv2.SIFT_create()  # type: ignore[attr-defined]
    found_ref = sift.detectAndCompute(_edges(reference, scale), None)
    found_mov = sift.detectAndCompute(_edges(moving, scale), None)
    # OpenCV 4 returns no descriptors for a featureless image, OpenCV 5 an empty uint8 array
    if min(len(found_ref[0]), len(found_mov[0])) < 2:
        raise InputError(None, "no keypoints to align the images by")
    cv2.setRNGSeed(0)
    matcher = cv2.FlannBasedMatcher(FLANN_KDTREE, FLANN_SEARCH)
    pairs = matcher.knnMatch(found_mov[1].astype(np.float32), found_ref[1].astype(np.float32), k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
    if len(good) < MIN_INLIERS:
        raise InputError(None, f"the images cannot be aligned ({len(good)} keypoint matches)")
    source = np.array([found_mov[0][m.queryIdx].pt for m in good], dtype=np.float32) / scale
    target = np.array([found_ref[0][m.trainIdx].pt for m in good], dtype=np.float32) / scale
    cv2.setRNGSeed(
        0
    )  # FLANN's trees and RANSAC draw from OpenCV's generator: same input, same answer
    matrix, inliers = cv2.estimateAffine2D(
        source, target, method=cv2.RANSAC, ransacReprojThreshold=3.0 / scale
    )
    if matrix is None or int(inliers.sum()) < MIN_INLIERS:
        count = 0 if inliers is None else int(inliers.sum())
        raise InputError(None, f"the images cannot be aligned ({count} consistent matches)")
    return matrix


def align_to(reference: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """``moving`` resampled onto ``reference``'s pixel grid (same height and width); areas it
    does not cover are mirrored in from its edge so the network sees no black frame."""
    matrix = estimate_affine(reference, moving)
    height, width = reference.shape[:2]
    return cv2.warpAffine(
        moving, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
