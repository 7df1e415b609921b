"""Wet-ore restoration, the classical way (paper 004's comparison): find the specular
highlights and paint them over from their surroundings with OpenCV's inpainting.

A highlight is where water mirrors the light: brighter than anything near it, near white and
nearly colourless. It is found as the bright pixels far brighter than their neighbourhood's
median and of low saturation, grown by a pixel to take their halo, and filled by Telea's fast
marching method. Darkening and films are left as they are: that is what a learned
restoration adds.
"""

from __future__ import annotations

import cv2
import numpy as np

from orescope.io.images import to_uint8_rgb

HIGHLIGHT_RISE = 40  # grey levels above the neighbourhood's median that make a highlight
HIGHLIGHT_SATURATION = 0.25  # at most this saturated (HSV): mirrored light has no colour
HIGHLIGHT_VALUE = 200  # and at least this bright (of 255): a glint, not a pale stone


def highlight_mask(image: np.ndarray, neighbourhood_px: int = 15) -> np.ndarray:
    """Boolean mask of the specular highlights of an image (grey or RGB, uint8 or uint16).

    Examples
    --------
    >>> image = np.full((20, 20, 3), (90, 60, 40), np.uint8)
    >>> image[9:11, 9:11] = 250  # a white glint on brown ore
    >>> highlight_mask(image)[8:12, 8:12].astype(int)
    array([[1, 1, 1, 1],
           [1, 1, 1, 1],
           [1, 1, 1, 1],
           [1, 1, 1, 1]])
    >>> int(highlight_mask(image).sum())  # the glint grown by a pixel, nothing else
    16
    """
    hsv = cv2.cvtColor(to_uint8_rgb(image), cv2.COLOR_RGB2HSV)
    value = hsv[..., 2]
    side = neighbourhood_px | 1  # medianBlur takes odd sides
    rise = value.astype(np.int16) - cv2.medianBlur(value, side).astype(np.int16)
    colourless = hsv[..., 1] <= HIGHLIGHT_SATURATION * 255
    glint = (rise >= HIGHLIGHT_RISE) & colourless & (value >= HIGHLIGHT_VALUE)
    mask = glint.astype(np.uint8)
    return cv2.dilate(mask, np.ones((3, 3), np.uint8)).astype(bool)


def inpaint_highlights(image: np.ndarray, radius_px: int = 5) -> np.ndarray:
    """``image`` (uint8 RGB out) with its :func:`highlight_mask` painted over from around it
    (Telea's method, ``radius_px`` of neighbourhood)."""
    rgb = to_uint8_rgb(image)
    mask = highlight_mask(rgb).astype(np.uint8)
    if not mask.any():
        return rgb
    return cv2.inpaint(rgb, mask, radius_px, cv2.INPAINT_TELEA)
