"""Training images in memory (particle images at the trained particle size, sections at their
configured scale, CT volumes at the trained particle size, wet and dry photos at their own
scale) and the patches drawn from them: at random, or class-balanced. Volumes go the images'
way: a grey channel, patches of cubes. Restoration pairs a wet patch with its dry one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import dask.array as da
import numpy as np
import tifffile
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from orescope.errors import InputError
from orescope.instances.border_core import encode_border_core
from orescope.instances.distance import encode_distance_levels
from orescope.io.classes import ClassRegistry
from orescope.io.datasets import (
    SectionSample,
    load_conveyor,
    load_gravel,
    load_lumenstone,
    load_thinsections,
    load_wet_pairs,
)
from orescope.io.splits import Split, assign_splits
from orescope.preprocess.align import align_to
from orescope.preprocess.intensity import volume_stats
from orescope.preprocess.normalise import channel_stats
from orescope.preprocess.resample import (
    median_diameter_px,
    resize_image,
    resize_labels,
    resize_volume,
)
from orescope.synth.particles import SceneConfig, synthesize_scene
from orescope.synth.volumes import VolumeConfig, synthesize_volume
from orescope.synth.wet import wet_image
from orescope.train.augment import AugmentConfig, augment_pair
from orescope.train.balanced import ClassBalancedSampler, Window
from orescope.train.config import VOLUME_KINDS, DataSource
from orescope.train.touching import Donor, collect_donors

UNLABELLED = -1  # label of pixels a sparse annotation leaves open: neither particle nor background


@dataclass(frozen=True)
class LabelledImage:
    """A uint8 image (RGB, or PPL + XPL; a volume D×H×W×1), its int32 instance labels
    (``UNLABELLED`` where a sparse annotation says nothing) or class mask, and the statistics
    its tiles are normalised with (the whole image's, as at inference); for restoration, the
    image is the dry one and ``wet`` its wet twin, recorded or made once (validation), or
    ``None`` where each patch is made wet afresh (training)."""

    name: str
    image: np.ndarray
    labels: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    wet: np.ndarray | None = None


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


def synth_volumes(source: DataSource) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, uint16 scan, uint32 labels) of a ``synth_volume`` source, its fields drawn per
    volume from a stream seeded by the source's seed."""
    rng = np.random.default_rng(source.seed)
    volumes = []
    for index in range(source.count):
        drawn = {key: float(rng.uniform(*bounds)) for key, bounds in source.vary.items()}
        fields = {**source.volume, **drawn, "seed": source.seed + index}
        scan = synthesize_volume(VolumeConfig.model_validate(fields))
        volumes.append((f"synth_volume_{source.seed + index}", scan.image, scan.labels))
    return volumes


def _folder_volumes(
    source: DataSource, split: Split | None
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    assert source.path is not None
    root = Path(source.path)
    stems = sorted(path.stem for path in (root / "images").glob("*.tif"))
    if not stems:
        raise InputError(root / "images", "holds no .tif volumes")
    volumes = []
    for stem in selected_stems(stems, source, split):
        image, labels = root / "images" / f"{stem}.tif", root / "labels" / f"{stem}.tif"
        if not labels.exists():
            raise InputError(labels, f"the labels of {image.name} are missing")
        pair = tifffile.imread(image), tifffile.imread(labels)
        if pair[0].ndim != 3 or pair[0].shape != pair[1].shape:
            raise InputError(labels, f"{pair[1].shape} is not the volume's shape {pair[0].shape}")
        volumes.append((stem, *pair))
    return volumes


def selected_stems(stems: list[str], source: DataSource, split: Split | None) -> list[str]:
    """The stems of ``split``'s side of the folder (all of them for ``None``), narrowed by the
    source's ``stems`` and ``exclude``, which may only name stems of that side."""
    if split is not None:
        try:
            sides = assign_splits(source.kind, stems)
        except ValueError as error:
            raise InputError(source.path, str(error)) from None
        named = {*(source.stems or []), *source.exclude}
        wrong = sorted(s for s in named if sides.get(s) != split)
        if wrong:
            where = ", ".join(f"{s} ({sides.get(s, 'not in the folder')})" for s in wrong)
            raise InputError(
                source.path, f"the {split} data names images of another side of the split: {where}"
            )
        stems = [s for s in stems if sides[s] == split]
    if source.stems is not None:
        stems = [s for s in stems if s in source.stems]
    return [s for s in stems if s not in source.exclude]


def _volume_item(name: str, volume: np.ndarray, labels: np.ndarray) -> LabelledImage:
    """A volume as training holds it: its robust grey window (``predict volume``'s clipping)
    mapped onto 0-255, so that z-scoring the bytes with the statistics carried along is the
    inference normalisation of the volume itself, at a quarter of float32's memory."""
    stats = volume_stats(da.from_array(volume, chunks=64))
    width = max(stats.high - stats.low, 1e-6)
    window = (np.clip(volume.astype(np.float32), stats.low, stats.high) - stats.low) / width
    image = np.rint(window * 255).astype(np.uint8)[..., None]
    mean = np.array([(stats.mean - stats.low) / width * 255], np.float32)
    std = np.array([stats.std / width * 255], np.float32)
    return LabelledImage(name, image, labels.astype(np.int32), mean, std)


def load_volumes(
    source: DataSource, particle_px: float | None, split: Split | None = None
) -> list[LabelledImage]:
    """The source's volumes (a folder's ``split`` side), resampled so their median particle
    ESD is ``particle_px``."""
    if source.kind == "synth_volume":
        raw = synth_volumes(source)
    else:
        raw = _folder_volumes(source, split)
    items = []
    for name, volume, labels in raw:
        if particle_px is not None:
            volume = resize_volume(volume, particle_px / median_diameter_px(labels))
            labels = resize_labels(labels, volume.shape)
        items.append(_volume_item(name, volume, labels))
    return items


def _selected(samples: list, source: DataSource, split: Split | None) -> list:
    kept = set(selected_stems([s.stem for s in samples], source, split))
    return [s for s in samples if s.stem in kept]


def _folder_images(
    source: DataSource, split: Split | None
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    assert source.path is not None
    loader = load_conveyor if source.kind == "conveyor" else load_gravel
    return [(s.stem, *s.read_pair()) for s in _selected(loader(source.path), source, split)]


def _wet_pairs(source: DataSource, split: Split | None) -> list[LabelledImage]:
    """Recorded pairs of a ``wet_pairs`` folder, the dry photo as the image, without labels."""
    assert source.path is not None
    items = []
    for pair in _selected(load_wet_pairs(source.path), source, split):
        wet, dry = pair.read_pair()
        mean, std = channel_stats(dry)
        unlabelled = np.zeros(dry.shape[:2], np.int32)
        items.append(LabelledImage(pair.stem, dry, unlabelled, mean, std, wet))
    return items


def with_wet_twins(
    images: list[LabelledImage], wetness: tuple[float, float], seed: int
) -> list[LabelledImage]:
    """The images with a wet twin each (those without a recorded one made so from the dry
    image, at a wetness drawn from the range): fixed validation pairs, the same every epoch
    and every run of the same seed."""
    twinned = []
    for index, item in enumerate(images):
        if item.wet is None:
            rng = np.random.default_rng([seed, index, 11])
            labels = np.maximum(item.labels, 0).astype(np.uint32)
            item = replace(item, wet=wet_image(item.image, labels, rng.uniform(*wetness), rng))
        twinned.append(item)
    return twinned


def _sections(source: DataSource, split: Split | None) -> tuple[list[SectionSample], ClassRegistry]:
    assert source.path is not None
    loader = load_lumenstone if source.kind == "lumenstone" else load_thinsections
    samples, registry = loader(source.path)
    return _selected(samples, source, split), registry


def section_registry(source: DataSource) -> ClassRegistry:
    """The class registry of a section data source (its ``classes.yaml``)."""
    return _sections(source, None)[1]


def _section_images(
    source: DataSource, xpl: bool, split: Split | None, unlabelled: int | None
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    samples, registry = _sections(source, split)
    images = []
    for sample in samples:
        image, mask = sample.read_image(), sample.read_mask()
        registry.check_mask(mask, sample.mask_path, unlabelled)
        if mask.shape != image.shape[:2]:
            raise InputError(
                sample.mask_path, f"mask {mask.shape} and image {image.shape[:2]} differ in size"
            )
        if xpl:  # registered onto PPL: the masks follow PPL, XPL is shifted by a few pixels
            twin = sample.read_xpl()
            if twin is None:
                raise InputError(sample.image_path, "has no XPL image")
            try:
                image = np.concatenate([image, align_to(image, twin)], axis=2)
            except InputError as error:
                raise InputError(sample.xpl_path, error.reason) from None
        if source.scale != 1:
            image = resize_image(image, source.scale)
            mask = resize_labels(mask, image.shape[:2])
        images.append((sample.stem, image, mask))
    return images


def load_source(
    source: DataSource,
    particle_px: float | None,
    xpl: bool = False,
    split: Split | None = None,
    unlabelled: int | None = None,
) -> list[LabelledImage]:
    """The source's images: particle images resampled so their median particle ECD is
    ``particle_px``, sections resampled by the source's ``scale``; or its volumes. A folder
    gives the images of its ``split`` side by the split rule (``None``: all of them). Section
    masks may hold ``unlabelled`` (the loss's ignore index) besides their registry's classes,
    as ``orescope annotate labels`` writes them (255)."""
    if source.kind in VOLUME_KINDS:
        return load_volumes(source, particle_px, split)
    if source.kind == "wet_pairs":
        return _wet_pairs(source, split)
    if source.kind in ("lumenstone", "thinsections"):
        raw = _section_images(source, xpl, split, unlabelled)
        particle_px = None
    elif source.kind == "synth":
        raw = _synth_scenes(source)
    else:
        raw = _folder_images(source, split)
    images = []
    for name, image, labels in raw:
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if particle_px is not None:
            scale = particle_px / median_diameter_px(labels)
            image = resize_image(image, scale)
            labels = resize_labels(labels, image.shape[:2])
        labels = labels.astype(np.int32)
        if source.kind == "conveyor":
            labels[labels == 0] = UNLABELLED
        mean, std = channel_stats(image)
        images.append(LabelledImage(name, image, labels, mean, std))
    return images


def dataset_stats(images: list[LabelledImage]) -> tuple[np.ndarray, np.ndarray]:
    """Channel mean and std of all ``images`` pooled, each image weighted by its pixels."""
    weights = np.array([item.labels.size for item in images], dtype=np.float64)
    means = np.stack([item.mean for item in images]).astype(np.float64)
    squares = np.stack([item.std.astype(np.float64) ** 2 for item in images]) + means**2
    mean = weights @ means / weights.sum()
    variance = weights @ squares / weights.sum() - mean**2
    return mean.astype(np.float32), np.sqrt(np.maximum(variance, 1e-12)).astype(np.float32)


def with_stats(
    images: list[LabelledImage], stats: tuple[np.ndarray, np.ndarray]
) -> list[LabelledImage]:
    """The same images, normalised with fixed statistics instead of their own."""
    return [replace(item, mean=stats[0], std=stats[1]) for item in images]


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
        wetness: tuple[float, float] = (0.2, 1.0),
    ) -> None:
        self.sources = [s for s in sources if s]
        kept = [w for s, w in zip(sources, weights, strict=True) if s]
        self.weights = np.asarray(kept) / np.sum(kept)
        self.patch, self.length, self.augment = patch, length, augment
        self.target, self.border_px, self.seed = target, border_px, seed
        self.wetness = wetness
        self.epoch = 0
        self.donors: list[Donor] = []
        if target != "classes" and augment.touching_p > 0:
            donor_rng = np.random.default_rng([seed, 1])
            self.donors = [
                donor
                for source in self.sources
                for item in source
                for donor in collect_donors(
                    item.image.astype(np.float32) / 255,
                    np.maximum(item.labels, 0),
                    donor_rng,
                    max_donors=32,
                )
            ]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def pair(
        self, item: LabelledImage, start: tuple[int, ...], rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The augmented, normalised patch at ``start`` (its first pixel or voxel) and its
        training target; an image smaller than the patch is mirrored out to it."""
        pads = [(0, max(0, self.patch - size)) for size in item.labels.shape]
        image, labels, wet = item.image, item.labels, item.wet
        if any(after for _, after in pads):
            image = np.pad(image, [*pads, (0, 0)], mode="reflect")
            labels = np.pad(labels, pads, mode="reflect")
            wet = None if wet is None else np.pad(wet, [*pads, (0, 0)], mode="reflect")
        window = tuple(slice(first, first + self.patch) for first in start)
        if self.target == "restore":
            return self._restoration_pair(item, image[window], labels[window], wet, window, rng)
        scale = (item.std / 255).astype(np.float32)
        image, labels = augment_pair(
            image[window].astype(np.float32) / 255,
            labels[window],
            rng,
            self.augment,
            donors=self.donors,
        )
        values = (image - item.mean / 255) / scale
        if self.target == "border_core":
            target = encode_border_core(labels, self.border_px).astype(np.int64)
        elif self.target == "distance":
            target = encode_distance_levels(labels).astype(np.int64)
        elif self.target == "foreground":
            target = (labels > 0).astype(np.int64)
        else:
            target = labels.astype(np.int64)
        target[labels < 0] = UNLABELLED  # a labelled particle's rim by open ground stays border
        return torch.from_numpy(np.moveaxis(values, -1, 0).copy()), torch.from_numpy(target)

    def _restoration_pair(
        self,
        item: LabelledImage,
        dry: np.ndarray,
        labels: np.ndarray,
        wet: np.ndarray | None,
        window: tuple[slice, ...],
        rng: np.random.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(wet, dry) patches in the card's [-1, 1]: a recorded pair moved alike, or the dry
        patch augmented and then made wet at a wetness drawn from the range."""
        if wet is not None:
            both = np.concatenate([wet[window], dry], axis=2).astype(np.float32) / 255
            both, _ = augment_pair(both, labels, rng, self.augment.geometric())
            wet_patch, dry_patch = both[..., :3], both[..., 3:]
        else:
            moved, labels = augment_pair(
                dry.astype(np.float32) / 255, labels, rng, self.augment, donors=self.donors
            )
            dry8 = (moved * 255 + 0.5).astype(np.uint8)
            drawn = float(rng.uniform(*self.wetness))
            wetted = wet_image(dry8, np.maximum(labels, 0).astype(np.uint32), drawn, rng)
            wet_patch, dry_patch = wetted / np.float32(255), dry8 / np.float32(255)
        wet_tensor, dry_tensor = (
            torch.from_numpy(np.moveaxis((patch - item.mean / 255) / (item.std / 255), -1, 0))
            for patch in (wet_patch, dry_patch)
        )
        return wet_tensor.float().contiguous(), dry_tensor.float().contiguous()

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        source = self.sources[int(rng.choice(len(self.sources), p=self.weights))]
        item = source[int(rng.integers(len(source)))]
        start = tuple(
            int(rng.integers(0, max(0, size - self.patch) + 1)) for size in item.labels.shape
        )
        return self.pair(item, start, rng)


class BalancedPatches(IterableDataset):
    """The same patches, placed by the class-balanced sampler over all training images.

    The sampler is sequential, so each DataLoader worker runs its own with its own random
    stream (seed, epoch, worker) and yields its share of the epoch: workers never repeat one
    another, and a run (or a resumed one) with the same workers sees the same patches.
    """

    def __init__(
        self, patches: PatchDataset, classes: list[int], stride: int, cache: Path | None
    ) -> None:
        self.patches = patches
        self.items = [item for source in patches.sources for item in source]
        self.sampler = ClassBalancedSampler(
            [item.labels for item in self.items], classes, patches.patch, stride, cache
        )

    def set_epoch(self, epoch: int) -> None:
        self.patches.set_epoch(epoch)

    def __len__(self) -> int:
        return self.patches.length

    def windows(self, worker: int, workers: int) -> list[Window]:
        """The windows worker ``worker`` of ``workers`` draws this epoch, counts from zero."""
        self.sampler.fed[:] = 0
        rng = np.random.default_rng([self.patches.seed, self.patches.epoch, worker, 7])
        share = len(range(worker, self.patches.length, workers))
        return [self.sampler.draw(rng) for _ in range(share)]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        rng = np.random.default_rng([self.patches.seed, self.patches.epoch, worker, 8])
        for window in self.windows(worker, workers):
            start = (window.top, window.left)
            yield self.patches.pair(self.items[window.image], start, rng)
