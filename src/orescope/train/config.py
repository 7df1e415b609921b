"""The one validated training configuration, read from YAML and written next to the outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from orescope.errors import InputError
from orescope.io.splits import seed_split
from orescope.models.registry import DISCRIMINATORS, IMAGE_TO_IMAGE, VOLUME_MODELS
from orescope.models.spec import ArchitectureSpec
from orescope.train.augment import AugmentConfig
from orescope.zoo.card import Normalisation, Target

SECTION_KINDS = ("lumenstone", "thinsections")
VOLUME_KINDS = ("synth_volume", "volumes")
WET_KINDS = ("synth", "gravel", "grains", "wet_pairs")  # what a restoration model trains on


class DataSource(BaseModel, extra="forbid"):
    """One set of labelled images: a dataset folder in the gravel layout (``gravel``: images/,
    labels/, resolutions.csv; ``grains``: the same without a scale), synthetic scenes
    generated from ``scene`` with seeds ``seed, seed+1, ...``, conveyor crops with sparse
    polygons (``conveyor``: only the outlined rocks are trained on, the rest of each crop is
    ignored), or a section dataset with class masks (``lumenstone``, ``thinsections``: the
    layouts of ../shared/data); or CT volumes: synthetic ones generated from ``volume``
    (``synth_volume``), or a folder of TIFF stacks with instance labels (``volumes``: images/
    and labels/ of the same names, as ``orescope synth volume`` writes them); or, for
    restoration, recorded pairs of wet and dry photos (``wet_pairs``: wet/ and dry/ of the same
    stems, as ``orescope synth wet`` writes them, or a user's own). A restoration model also
    trains on dry particle images (``synth``, ``gravel``, ``grains``), made wet afresh for each
    patch by ``orescope.synth.wet``.

    A source in a config's ``train`` list takes only the train side of its folder by the split
    rule (``orescope.io.splits``), one in ``val`` only the validation side; ``stems`` and
    ``exclude`` narrow that side further, and synthetic seeds must lie in the side's range."""

    kind: Literal[
        "gravel",
        "grains",
        "synth",
        "conveyor",
        "lumenstone",
        "thinsections",
        "synth_volume",
        "volumes",
        "wet_pairs",
    ]
    path: str | None = Field(None, description="dataset root for the folder kinds")
    stems: list[str] | None = Field(None, description="only these images of the split's side")
    exclude: list[str] = Field(default_factory=list, description="the side's images but these")
    count: int = Field(16, ge=1, description="number of synthetic scenes or volumes")
    seed: int = 0
    scene: dict[str, Any] = Field(default_factory=dict, description="SceneConfig fields")
    volume: dict[str, Any] = Field(default_factory=dict, description="VolumeConfig fields")
    vary: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="SceneConfig (VolumeConfig) fields drawn uniformly per scene (volume)",
    )
    weight: float = Field(1.0, gt=0, description="share of training patches from this source")
    scale: float = Field(
        1.0, gt=0, le=4, description="resample section images by this factor (e.g. 0.5)"
    )

    @model_validator(mode="after")
    def _path_for_folders(self) -> DataSource:
        if self.kind not in ("synth", "synth_volume") and not self.path:
            raise ValueError(f"a '{self.kind}' data source needs a path")
        return self


class LossConfig(BaseModel, extra="forbid"):
    name: Literal["bce_dice", "ce", "focal", "dice"] = "bce_dice"
    alpha: float = Field(0.6, ge=0, le=1, description="weight of Dice in (1-α)·BCE + α·Dice")
    gamma: float = Field(2.0, ge=0, description="focusing parameter of the focal loss")
    class_weights: list[float] | None = None
    ignore_index: int | None = None


class OptimizerConfig(BaseModel, extra="forbid"):
    name: Literal["rmsprop", "adam", "adamw", "sgd"] = "adamw"
    lr: float = Field(1e-3, gt=0, le=10)
    weight_decay: float = Field(1e-4, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    beta1: float = Field(
        0.9, ge=0, lt=1, description="Adam's first-moment decay (0.5 for adversarial training)"
    )
    schedule: Literal["constant", "cosine", "poly"] = "cosine"
    warmup_epochs: int = Field(0, ge=0)


class RestorationConfig(BaseModel, extra="forbid"):
    """How a restoration generator is trained (paper 004): against a discriminator, with
    loss = adversarial + l1·L1 + ssim·(1 − SSIM), each optimised by Adam."""

    discriminator: ArchitectureSpec = Field(
        default_factory=lambda: ArchitectureSpec(name="patchgan"),
        description="the discriminator of (wet, dry) pairs",
    )
    adversarial: float = Field(1.0, ge=0, description="weight of the adversarial loss")
    l1: float = Field(100.0, ge=0, description="weight of the L1 loss (pix2pix: 100)")
    ssim: float = Field(20.0, ge=0, description="weight of the SSIM loss (paper 004's addition)")
    discriminator_lr: float = Field(2e-4, gt=0, le=1)
    wetness: tuple[float, float] = Field(
        (0.2, 1.0), description="range the wetness of dry images made wet is drawn from"
    )

    @model_validator(mode="after")
    def _valid(self) -> RestorationConfig:
        if self.discriminator.name not in DISCRIMINATORS:
            raise ValueError(f"discriminator must be one of: {', '.join(DISCRIMINATORS)}")
        low, high = self.wetness
        if not 0 <= low <= high <= 1:
            raise ValueError(f"wetness {self.wetness} is not 0 <= low <= high <= 1")
        return self


class TrainConfig(BaseModel, extra="forbid"):
    """Everything a training run depends on; the same config and seed give the same model."""

    name: str = Field(description="model name written on its card")
    out: str = Field(description="output folder: weights, card, checkpoints, history")
    seed: int = 0
    architecture: ArchitectureSpec = Field(default_factory=ArchitectureSpec)
    init: str | None = Field(
        None, description="model to start from (zoo name, model folder or its .safetensors)"
    )
    target: Target = Field(
        "border_core",
        description="particles: border_core, distance or foreground; sections: classes; "
        "wet ore: restore (a generator of dry images, trained against a discriminator)",
    )
    restoration: RestorationConfig = Field(default_factory=RestorationConfig)
    xpl: bool = Field(False, description="stack the XPL image as 3 more input channels")
    sampler: Literal["random", "balanced"] = Field(
        "random", description="balanced: paper 003's class-balanced patches (sections)"
    )
    normalisation: Normalisation = Field(
        "image_zscore",
        description="image_zscore: each image by its own channel statistics; dataset: by the "
        "training images' (sections, where the absolute colour tells the mineral)",
    )
    ore_types: dict[str, list[str]] = Field(
        default_factory=dict,
        description="sections: the minerals of each ore type in the data, written on the card "
        "so that prediction can keep each image to the minerals of its type",
    )
    balance_stride: int = Field(8, ge=1, le=256, description="grid step of the content maps")
    border_px: int = Field(2, ge=1, le=16)
    particle_px: float | None = Field(
        32.0,
        gt=2,
        description="resample every image so its median particle ECD is this (restoration: "
        "unset, images at their own scale, as they will be restored)",
    )
    train: list[DataSource] = Field(min_length=1)
    val: list[DataSource] = Field(default_factory=list)
    patch: int = Field(256, ge=32)
    tile: int | None = Field(
        None,
        ge=32,
        description="tile of whole-image prediction, in validation and on the card (default: "
        "the patch); larger tiles give a PSPNet's pyramid pooling more of the section to see",
    )
    batch_size: int = Field(8, ge=1)
    patches_per_epoch: int = Field(256, ge=1)
    epochs: int = Field(50, ge=1)
    loss: LossConfig = Field(default_factory=LossConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    ema_decay: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="validate and keep an exponential moving average of the weights (and "
        "BatchNorm statistics), updated every step with this decay (e.g. 0.998): it smooths "
        "the step-to-step swings of small-batch training",
    )
    num_workers: int = Field(0, ge=0)
    channels_last: bool = Field(
        False,
        description="weights and patches channels-last: faster or slower depending on the "
        "architecture and machine (bench/model_layout.py measures yours)",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    description: str = ""

    @property
    def inference_tile(self) -> int:
        """Side of the tiles whole images are predicted in."""
        return self.tile or self.patch

    @model_validator(mode="before")
    @classmethod
    def _own_scale_for_restoration(cls, data: Any) -> Any:
        """A restoration model sees images at their own scale (the particle size of a photo
        to be restored is not known) and in the fixed range of its colours, so ``particle_px``
        defaults to unset and ``normalisation`` to ``dataset`` for it."""
        if isinstance(data, dict) and data.get("target") == "restore":
            data = {"particle_px": None, "normalisation": "dataset", **data}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        for name, size in {"patch": self.patch, "tile": self.tile}.items():
            if size is not None and size % 32:
                raise ValueError(f"{name} {size} is not a multiple of 32")
        sections = {s.kind in SECTION_KINDS for s in self.train + self.val}
        if sections != {self.target == "classes"}:
            raise ValueError("target 'classes' goes with section data sources, and only with them")
        restoring = self.target == "restore"
        if restoring != (self.architecture.name in IMAGE_TO_IMAGE):
            raise ValueError(
                "target 'restore' goes with a restoration architecture "
                f"({', '.join(IMAGE_TO_IMAGE)}), and only with one"
            )
        if restoring and any(s.kind not in WET_KINDS for s in self.train + self.val):
            raise ValueError(f"a restoration model trains on {', '.join(WET_KINDS)} data sources")
        if not restoring and any(s.kind == "wet_pairs" for s in self.train + self.val):
            raise ValueError("'wet_pairs' data sources train restoration models (target restore)")
        if restoring and (self.particle_px is not None or self.normalisation != "dataset"):
            raise ValueError(
                "a restoration model works at the images' own scale and colours: unset "
                "particle_px, normalisation dataset"
            )
        if self.sampler == "balanced" and self.target != "classes":
            raise ValueError("the balanced sampler needs target 'classes'")
        if self.ore_types and self.target != "classes":
            raise ValueError("ore_types are for section models (target 'classes')")
        if len({s.scale for s in self.train + self.val}) > 1:
            raise ValueError("all data sources need the same scale: the model has one")
        for split, sources in (("train", self.train), ("validation", self.val)):
            for source in sources:
                if source.kind in ("synth", "synth_volume"):
                    sides = {seed_split(source.seed), seed_split(source.seed + source.count - 1)}
                    if sides != {split}:
                        last = source.seed + source.count - 1
                        raise ValueError(
                            f"seeds {source.seed}-{last} are not all {split} seeds (the split "
                            "rule: train 0-4999, validation 5000-9999, test 10000+)"
                        )
        if any(s.kind == "conveyor" for s in self.val):
            raise ValueError("'conveyor' labels are sparse: they train but cannot validate")
        if self.xpl and any(s.kind != "thinsections" for s in self.train + self.val):
            raise ValueError("xpl needs 'thinsections' data sources, which have XPL images")
        volumes = {s.kind in VOLUME_KINDS for s in self.train + self.val}
        if len(volumes) > 1:
            raise ValueError("volume and image data sources cannot train one model")
        if volumes != {self.architecture.name in VOLUME_MODELS}:
            raise ValueError(
                f"volume data sources go with a volume architecture ({', '.join(VOLUME_MODELS)})"
                ", and only with one"
            )
        return self

    @property
    def spatial_dims(self) -> int:
        """3 for a model of volumes, 2 for one of images."""
        return self.architecture.spatial_dims

    @property
    def in_channels(self) -> int:
        """One grey channel for CT volumes, RGB (PPL + XPL) for images."""
        if self.spatial_dims == 3:
            return 1
        return 6 if self.xpl else 3


def read_train_config(path: str | Path) -> TrainConfig:
    """Validated config; relative dataset paths are resolved against the config's folder."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
        config = TrainConfig.model_validate(raw)
    except FileNotFoundError:
        raise InputError(path, "config not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InputError(path, f"not valid YAML: {str(error).splitlines()[0]}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InputError(path, f"{where}: {first['msg']}") from None
    for source in config.train + config.val:
        if source.path and not Path(source.path).is_absolute():
            source.path = str((path.parent / source.path).resolve())
    if config.init and (path.parent / config.init).exists():
        config.init = str((path.parent / config.init).resolve())
    if not Path(config.out).is_absolute():
        config.out = str((path.parent / config.out).resolve())
    return config
