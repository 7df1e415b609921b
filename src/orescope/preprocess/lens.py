"""Radial lens distortion of microscope fields, undone before they are stitched (paper 003 §4).

Brown's radial model as OpenCV has it: a point at normalised distance r from the field's centre
(undistorted) is seen at (1 + k1 r² + k2 r⁴) times that distance; k1 < 0 is barrel distortion,
k1 > 0 pincushion. The centre is the field's centre, ((width - 1) / 2, (height - 1) / 2) in
pixel coordinates (pixel centres at integers), and distances are normalised by the field's
half-diagonal, so k1 is the fraction by which a corner is moved: k1 = -0.01 pulls the corners
of any field 1 % of the half-diagonal towards the centre, whatever its size in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

# undistorting a point has no closed form: OpenCV iterates, each step dividing the error by
# about 1 / (2 |k1| r²) (5 or more at a corner for |k1| ≤ 0.1); a fixed count keeps the result
# a smooth function of k1, which the optimisation differentiates numerically
UNDISTORT_ITERATIONS = 20


@dataclass(frozen=True)
class Lens:
    """The radial distortion ``k1``, ``k2`` of fields of ``size`` (width, height)."""

    size: tuple[int, int]
    k1: float
    k2: float = 0.0

    @property
    def camera(self) -> np.ndarray:
        """The 3 × 3 matrix from normalised coordinates to pixels."""
        width, height = self.size
        half_diagonal = np.hypot(width - 1, height - 1) / 2
        return np.array(
            [[half_diagonal, 0, (width - 1) / 2], [0, half_diagonal, (height - 1) / 2], [0, 0, 1]]
        )

    @property
    def coefficients(self) -> np.ndarray:
        """OpenCV's distortion coefficients (k1, k2, p1, p2): no tangential terms."""
        return np.array([self.k1, self.k2, 0.0, 0.0])

    def undistort_points(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) pixel positions in a distorted field, where they lie once undistorted."""
        if len(points) == 0:
            return points
        criteria = (cv2.TERM_CRITERIA_COUNT, UNDISTORT_ITERATIONS, 0.0)
        found = cv2.undistortPoints(
            points.reshape(-1, 1, 2).astype(np.float64),
            self.camera,
            self.coefficients,
            None,
            None,
            self.camera,
            criteria,
        )
        return found.reshape(-1, 2)

    def undistort(self, image: np.ndarray) -> np.ndarray:
        """A field with its distortion undone: resampled bicubically through maps made once per
        lens, its edge pixels repeated where it saw nothing (see :attr:`seen`)."""
        undone = cv2.remap(image, *self._maps, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        return undone.reshape(image.shape)

    @cached_property
    def seen(self) -> np.ndarray:
        """(H, W) float32, 1 where the undistorted field shows what the photo saw, 0 where it
        lay outside the photo (the corners, for pincushion distortion): a blending weight."""
        width, height = self.size
        ones = np.ones((height, width), np.float32)
        inside = cv2.remap(ones, *self._maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return (inside > 0.999).astype(np.float32)

    @cached_property
    def _maps(self) -> tuple[np.ndarray, np.ndarray]:
        return cv2.initUndistortRectifyMap(
            self.camera, self.coefficients, None, self.camera, self.size, cv2.CV_32FC1
        )
