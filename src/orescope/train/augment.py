"""Training-time augmentation of an image patch or volume together with its instance labels.

It runs on instance labels, before they become training targets, so every geometric op moves
image and labels identically and labels are only ever resampled nearest-neighbour: ids stay
exact, no blend of two ids appears along a boundary. The same code serves 2D patches (H×W) and
micro-CT volumes (D×H×W); 2D uses OpenCV, 3D the equivalent scipy.ndimage operations.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from pydantic import BaseModel, Field, model_validator
from scipy import ndimage

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

    def geometric(self) -> AugmentConfig:
        """The same moves without the photometric changes: for an input and a target image
        that must stay each other's exact pair (restoration)."""
        still = {"brightness": 0, "contrast": 0, "colour": 0, "cross_talk": 0, "exposure": 0}
        return self.model_copy(update=still | {"blur_p": 0, "noise_std": 0, "touching_p": 0})

    @model_validator(mode="after")
    def _scale_range_valid(self) -> AugmentConfig:
        low, high = self.scale_range
        if not 0.1 <= low <= high <= 10:
            raise ValueError(f"scale_range {self.scale_range} is not 0.1 <= low <= high <= 10")
        return self


def _smooth(array: np.ndarray, sigma: float, spatial: int) -> np.ndarray:
    """Gaussian blur over the first ``spatial`` axes with mirrored edges, never across channels.

    cv2 in 2D, so 2D results stay those of earlier versions; scipy in 3D, which cv2 cannot do.
    """
    if spatial == 2:
        blurred = cv2.GaussianBlur(array, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
        return blurred.reshape(array.shape)
    sigmas = [sigma] * spatial + [0.0] * (array.ndim - spatial)
    return ndimage.gaussian_filter(array, sigmas, mode="mirror")


def _resample(array: np.ndarray, coords: np.ndarray, nearest: bool) -> np.ndarray:
    """Samples ``array`` at ``coords`` (one float32 map per spatial axis), mirrored at the edges.

    Keeps a trailing channel axis when ``array`` has one more axis than there are maps. Mirrored
    edges are cv2's BORDER_REFLECT_101, scipy's mode "mirror".
    """
    if len(coords) == 2:
        interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
        if array.dtype == np.uint32:  # cv2 has no uint32; nearest copies int32 bits as well
            return _resample(array.view(np.int32), coords, nearest).view(np.uint32)
        out = cv2.remap(
            array, coords[1], coords[0], interpolation, borderMode=cv2.BORDER_REFLECT_101
        )
        return out.reshape(array.shape)
    order = 0 if nearest else 1
    if array.ndim == len(coords):
        return ndimage.map_coordinates(array, coords, order=order, mode="mirror")
    channels = [
        ndimage.map_coordinates(array[..., channel], coords, order=order, mode="mirror")
        for channel in range(array.shape[-1])
    ]
    return np.stack(channels, axis=-1)


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
    spatial = labels.ndim
    coords = np.indices(labels.shape, dtype=np.float32)
    if scale:
        low, high = config.scale_range
        factor = np.exp(rng.uniform(np.log(low), np.log(high)))
        for axis, size in enumerate(labels.shape):
            centre = (size - 1) / 2
            coords[axis] = (coords[axis] - centre) / factor + centre
    if elastic:
        noise = rng.standard_normal((spatial, *labels.shape), dtype=np.float32)
        field = np.stack(
            [_smooth(component, config.elastic_sigma_px, spatial) for component in noise]
        )
        field *= config.elastic_alpha_px / np.abs(field).max()
        coords += field
    return _resample(image, coords, nearest=False), _resample(labels, coords, nearest=True)


def _photometric(image: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """Exposure, colour, contrast, brightness, blur and noise: lighting and camera vary,
    particles do not."""
    if config.exposure > 0:
        image = _exposure(image, rng, config.exposure)
    if config.cross_talk > 0 and image.shape[-1] == 3:
        image = _cross_talk(image, rng, config.cross_talk)
    if config.colour > 0 and image.shape[-1] > 1:
        gains = rng.uniform(1 - config.colour, 1 + config.colour, image.shape[-1])
        image = image * np.asarray(gains, dtype=np.float32)
    if config.contrast > 0:
        mean = image.mean()
        image = (image - mean) * rng.uniform(1 - config.contrast, 1 + config.contrast) + mean
    if config.brightness > 0:
        image = image + rng.uniform(-config.brightness, config.brightness)
    if config.blur_sigma_px > 0 and rng.random() < config.blur_p:
        sigma = config.blur_sigma_px * (1 - rng.random())  # in (0, max]: cv2 reads 0 as "auto"
        image = _smooth(image, sigma, image.ndim - 1)
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
    """A randomly augmented copy of an image in [0, 1] and its instance labels.

    The image is H×W×C over H×W labels, or D×H×W×C over D×H×W labels (a micro-CT volume).
    Touching-particle paste first, so that the pasted pair is turned and deformed like the rest;
    then flips and 90° turns, scale and elastic deformation, then photometric changes, which
    leave labels alone. A cubic volume is isotropic, so its three axes are also permuted.
    Same shapes and dtypes out; the same ``rng`` state gives the same result.
    """
    spatial = labels.ndim
    if spatial not in (2, 3) or image.ndim != spatial + 1 or image.shape[:-1] != labels.shape:
        raise ValueError(f"image {image.shape} is not H×W×C or D×H×W×C over labels {labels.shape}")
    out_image, out_labels = image, labels
    if donors and rng.random() < config.touching_p:
        out_image, out_labels = paste_touching(out_image, out_labels, donors, rng)
    if config.flip:
        for axis in reversed(range(spatial)):  # last axis first, as 2D always did
            if rng.random() < 0.5:
                out_image, out_labels = np.flip(out_image, axis), np.flip(out_labels, axis)
    if config.rot90:
        turns = int(rng.integers(4))
        if labels.shape[-2] != labels.shape[-1]:
            turns -= turns % 2  # a quarter turn would change a non-square patch's shape
        plane = (spatial - 2, spatial - 1)
        out_image = np.rot90(out_image, turns, axes=plane)
        out_labels = np.rot90(out_labels, turns, axes=plane)
        if spatial == 3 and len(set(labels.shape)) == 1:
            order = tuple(int(axis) for axis in rng.permutation(3))
            out_image, out_labels = out_image.transpose(*order, 3), out_labels.transpose(order)
    # Copies, never views: the caller's arrays must survive whatever is done with the result.
    out_image = np.array(out_image, dtype=np.float32, order="C")
    out_labels = np.array(out_labels, order="C")
    out_image, out_labels = _warp(out_image, out_labels, rng, config)
    out_image = np.clip(_photometric(out_image, rng, config), 0, 1)
    return out_image.astype(image.dtype, copy=False), out_labels.astype(labels.dtype, copy=False)
