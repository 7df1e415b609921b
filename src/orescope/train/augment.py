"""Training-time augmentation of an image patch together with its instance labels.

It runs on instance labels, before they become training targets, so every geometric op moves
image and labels identically and labels are only ever resampled nearest-neighbour: ids stay
exact, no blend of two ids appears along a boundary.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from pydantic import BaseModel, Field, model_validator

from orescope.preprocess.colour import GAMMA
from orescope.train.touching import Donor, paste_touching


class AugmentConfig(BaseModel, extra="forbid"):
    """Which augmentations run and how strong they are at most; probabilities are per patch."""

    flip: bool = True
    rot90: bool = True
    elastic_p: float = Field(0.2, ge=0, le=1)
    elastic_alpha_px: float = Field(12.0, ge=0, le=256, description="largest displacement")
    elastic_sigma_px: float = Field(6.0, gt=0, le=256, description="smoothness of the field")
    scale_p: float = Field(0.5, ge=0, le=1)
    scale_range: tuple[float, float] = (0.75, 1.33)
    brightness: float = Field(0.2, ge=0, le=1, description="largest additive shift")
    contrast: float = Field(0.2, ge=0, lt=1, description="largest relative gain change")
    colour: float = Field(0.05, ge=0, lt=1, description="largest per-channel gain change")
    cross_talk: float = Field(
        0.0, ge=0, lt=0.5, description="largest share of a channel leaked into another"
    )
    exposure: float = Field(
        0.0, ge=0, le=1, description="largest relative change of the light, in linear light"
    )
    blur_p: float = Field(0.2, ge=0, le=1)
    blur_sigma_px: float = Field(1.5, ge=0, le=32, description="largest Gaussian blur sigma")
    noise_std: float = Field(0.03, ge=0, le=1, description="largest Gaussian noise std")
    touching_p: float = Field(0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _scale_range_valid(self) -> AugmentConfig:
        low, high = self.scale_range
        if not 0.1 <= low <= high <= 10:
            raise ValueError(f"scale_range {self.scale_range} is not 0.1 <= low <= high <= 10")
        return self


def _remap(array: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, nearest: bool) -> np.ndarray:
    """Samples ``array`` at (map_y, map_x), mirrored at the edges; keeps a trailing channel."""
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    out = cv2.remap(array, map_x, map_y, interpolation, borderMode=cv2.BORDER_REFLECT_101)
    return out.reshape(array.shape)


def _warp(
    image: np.ndarray, labels: np.ndarray, rng: np.random.Generator, config: AugmentConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Scale and elastic deformation as one resampling, so the image is interpolated only once.

    Scaling about the centre with mirrored edges is the same as resizing and then centre-cropping
    or reflect-padding back to the original shape.
    """
    elastic = config.elastic_alpha_px > 0 and rng.random() < config.elastic_p
    scale = rng.random() < config.scale_p
    if not (elastic or scale):
        return image, labels
    height, width = labels.shape
    map_y, map_x = np.indices((height, width), dtype=np.float32)
    if scale:
        low, high = config.scale_range
        factor = np.exp(rng.uniform(np.log(low), np.log(high)))
        centre_y, centre_x = (height - 1) / 2, (width - 1) / 2
        map_y = ((map_y - centre_y) / factor + centre_y).astype(np.float32)
        map_x = ((map_x - centre_x) / factor + centre_x).astype(np.float32)
    if elastic:
        noise = rng.standard_normal((2, height, width), dtype=np.float32)
        field = np.stack(
            [
                cv2.GaussianBlur(
                    component, (0, 0), config.elastic_sigma_px, borderType=cv2.BORDER_REFLECT_101
                )
                for component in noise
            ]
        )
        field *= config.elastic_alpha_px / np.abs(field).max()
        map_y += field[0]
        map_x += field[1]
    if labels.dtype == np.uint32:  # cv2 has no uint32; nearest neighbour copies int32 bits as well
        warped = _remap(labels.view(np.int32), map_x, map_y, nearest=True).view(np.uint32)
    else:
        warped = _remap(labels, map_x, map_y, nearest=True)
    return _remap(image, map_x, map_y, nearest=False), warped


def _photometric(image: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """Exposure, colour, contrast, brightness, blur and noise: lighting and camera vary,
    particles do not."""
    if config.exposure > 0:
        image = _exposure(image, rng, config.exposure)
    if config.cross_talk > 0 and image.shape[2] == 3:
        image = _cross_talk(image, rng, config.cross_talk)
    if config.colour > 0 and image.shape[2] > 1:
        gains = rng.uniform(1 - config.colour, 1 + config.colour, image.shape[2])
        image = image * np.asarray(gains, dtype=np.float32)
    if config.contrast > 0:
        mean = image.mean()
        image = (image - mean) * rng.uniform(1 - config.contrast, 1 + config.contrast) + mean
    if config.brightness > 0:
        image = image + rng.uniform(-config.brightness, config.brightness)
    if config.blur_sigma_px > 0 and rng.random() < config.blur_p:
        sigma = config.blur_sigma_px * (1 - rng.random())  # in (0, max]: cv2 reads 0 as "auto"
        blurred = cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
        image = blurred.reshape(image.shape)
    if config.noise_std > 0:
        std = rng.uniform(0, config.noise_std)
        image = image + std * rng.standard_normal(image.shape, dtype=np.float32)
    return image


def _exposure(image: np.ndarray, rng: np.random.Generator, largest: float) -> np.ndarray:
    """One gain for every channel in linear light, between 1 / (1 + largest) and 1 + largest
    (log-uniform): a dimmer or brighter lamp, a shorter or longer exposure. A mineral's
    reflectance then reads differently from photo to photo, as it does between microscopes."""
    gain = np.float32(np.exp(rng.uniform(-np.log1p(largest), np.log1p(largest))))
    linear = np.power(np.clip(image, 0, 1), GAMMA) * gain
    return np.power(np.clip(linear, 0, 1), 1 / GAMMA).astype(np.float32)


def _cross_talk(image: np.ndarray, rng: np.random.Generator, largest: float) -> np.ndarray:
    """Channels mixed in linear light (the colour correction's gamma), as another camera's
    filters mix them: the part of a colour change that a calibration from nearly grey minerals
    cannot see."""
    mixing = np.eye(3) + rng.uniform(-largest, largest, (3, 3)) * (1 - np.eye(3))
    linear = np.power(np.clip(image, 0, 1), GAMMA) @ mixing.astype(np.float32)
    return np.power(np.clip(linear, 0, 1), 1 / GAMMA).astype(np.float32)


def augment_pair(
    image: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    config: AugmentConfig,
    donors: Sequence[Donor] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """A randomly augmented copy of an H×W×C image in [0, 1] and its H×W instance labels.

    Touching-particle paste first, so that the pasted pair is turned and deformed like the rest;
    then flips and 90° turns, scale and elastic deformation, then photometric changes, which
    leave labels alone.
    Same shapes and dtypes out; the same ``rng`` state gives the same result.
    """
    if image.ndim != 3 or image.shape[:2] != labels.shape:
        raise ValueError(f"image {image.shape} is not H×W×C over labels {labels.shape}")
    out_image, out_labels = image, labels
    if donors and rng.random() < config.touching_p:
        out_image, out_labels = paste_touching(out_image, out_labels, donors, rng)
    if config.flip:
        if rng.random() < 0.5:
            out_image, out_labels = out_image[:, ::-1], out_labels[:, ::-1]
        if rng.random() < 0.5:
            out_image, out_labels = out_image[::-1], out_labels[::-1]
    if config.rot90:
        turns = int(rng.integers(4))
        if labels.shape[0] != labels.shape[1]:
            turns -= turns % 2  # a quarter turn would change a non-square patch's shape
        out_image, out_labels = np.rot90(out_image, turns), np.rot90(out_labels, turns)
    # Copies, never views: the caller's arrays must survive whatever is done with the result.
    out_image = np.array(out_image, dtype=np.float32, order="C")
    out_labels = np.array(out_labels, order="C")
    out_image, out_labels = _warp(out_image, out_labels, rng, config)
    out_image = np.clip(_photometric(out_image, rng, config), 0, 1)
    return out_image.astype(image.dtype, copy=False), out_labels.astype(labels.dtype, copy=False)
