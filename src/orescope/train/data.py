"""Training images in memory at the trained particle size, and random patches drawn from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from orescope.infer.particles import channel_stats
from orescope.instances.border_core import encode_border_core
from orescope.io.datasets import load_gravel
from orescope.preprocess.resample import median_diameter_px, resize_image, resize_labels
from orescope.synth.particles import SceneConfig, synthesize_scene
from orescope.train.augment import AugmentConfig, augment_pair
from orescope.train.config import DataSource
from orescope.train.touching import Donor, collect_donors


@dataclass(frozen=True)
class LabelledImage:
    """A uint8 RGB image, its int32 instance labels and the statistics its tiles are normalised
    with (the whole image's, as at inference)."""

    name: str
    image: np.ndarray
    labels: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def _synth_scenes(source: DataSource) -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(source.seed)
    scenes = []
    for index in range(source.count):
        drawn = {key: float(rng.uniform(*bounds)) for key, bounds in source.vary.items()}
        fields = {**source.scene, **drawn, "seed": source.seed + index}
        config = SceneConfig.model_validate(fields)
        scene = synthesize_scene(config)
        scenes.append((f"synth_{source.seed + index}", scene.image, scene.labels))
    return scenes


def _folder_images(source: DataSource) -> list[tuple[str, np.ndarray, np.ndarray]]:
    assert source.path is not None
    samples = load_gravel(source.path)
    if source.stems is not None:
        samples = [s for s in samples if s.stem in source.stems]
    samples = [s for s in samples if s.stem not in source.exclude]
    return [(s.stem, s.read_image(), s.read_labels()) for s in samples]


def load_source(source: DataSource, particle_px: float | None) -> list[LabelledImage]:
    """The source's images, each resampled so its median particle ECD is ``particle_px``."""
    raw = _synth_scenes(source) if source.kind == "synth" else _folder_images(source)
    images = []
    for name, image, labels in raw:
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if particle_px is not None:
            scale = particle_px / median_diameter_px(labels)
            image = resize_image(image, scale)
            labels = resize_labels(labels, image.shape[:2])
        mean, std = channel_stats(image)
        images.append(LabelledImage(name, image, labels.astype(np.int32), mean, std))
    return images


class PatchDataset(Dataset):
    """``length`` random patches per epoch. Patch ``i`` of epoch ``e`` depends only on
    (seed, e, i), so any number of workers, and a resumed run, see exactly the same patches."""

    def __init__(
        self,
        sources: list[list[LabelledImage]],
        weights: list[float],
        patch: int,
        length: int,
        augment: AugmentConfig,
        target: str,
        border_px: int,
        seed: int,
    ) -> None:
        self.sources = [s for s in sources if s]
        kept = [w for s, w in zip(sources, weights, strict=True) if s]
        self.weights = np.asarray(kept) / np.sum(kept)
        self.patch, self.length, self.augment = patch, length, augment
        self.target, self.border_px, self.seed = target, border_px, seed
        self.epoch = 0
        donor_rng = np.random.default_rng([seed, 1])
        self.donors: list[Donor] = [
            donor
            for source in self.sources
            for item in source
            for donor in collect_donors(
                item.image.astype(np.float32) / 255, item.labels, donor_rng, max_donors=32
            )
        ]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def _crop(self, item: LabelledImage, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        height, width = item.labels.shape
        pad_y, pad_x = max(0, self.patch - height), max(0, self.patch - width)
        image, labels = item.image, item.labels
        if pad_y or pad_x:
            image = np.pad(image, ((0, pad_y), (0, pad_x), (0, 0)), mode="reflect")
            labels = np.pad(labels, ((0, pad_y), (0, pad_x)), mode="reflect")
        top = int(rng.integers(0, labels.shape[0] - self.patch + 1))
        left = int(rng.integers(0, labels.shape[1] - self.patch + 1))
        window = np.s_[top : top + self.patch, left : left + self.patch]
        return image[window], labels[window]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        source = self.sources[int(rng.choice(len(self.sources), p=self.weights))]
        item = source[int(rng.integers(len(source)))]
        image, labels = self._crop(item, rng)
        scale = (item.std / 255).astype(np.float32)
        image, labels = augment_pair(
            image.astype(np.float32) / 255, labels, rng, self.augment, donors=self.donors
        )
        values = (image - item.mean / 255) / scale
        if self.target == "border_core":
            target = encode_border_core(labels, self.border_px).astype(np.int64)
        else:
            target = (labels > 0).astype(np.int64)
        return torch.from_numpy(values.transpose(2, 0, 1).copy()), torch.from_numpy(target)
