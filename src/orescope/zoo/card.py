"""Model cards: everything needed to rebuild, feed and trust a trained model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, Field, model_validator

from orescope.errors import InputError
from orescope.io.atomic import write_text
from orescope.models.spec import ArchitectureSpec

CARD_FILE = "card.yaml"
# particles: border_core, distance, foreground; sections: classes; wet ore: restore (images out)
Target = Literal["border_core", "distance", "foreground", "classes", "restore"]
# image_zscore: every image by its own channel statistics (lighting varies, colour says little);
# dataset: by the training images' statistics (the absolute colour identifies the mineral)
Normalisation = Literal["image_zscore", "dataset"]


def ore_type_problem(ore_types: dict[str, list[str]], class_names: list[str]) -> str | None:
    """What is wrong with ``ore_types`` for a model of ``class_names`` (names match
    case-insensitively), or None."""
    known = {name.lower() for name in class_names}
    for ore_type, minerals in ore_types.items():
        if not minerals:
            return f"ore type {ore_type!r} lists no minerals"
        if unknown := [mineral for mineral in minerals if mineral.lower() not in known]:
            return f"ore type {ore_type!r}: no class {', '.join(map(repr, unknown))}"
    return None


class TrainingRound(BaseModel, extra="forbid"):
    """One run of ``orescope train``: what it started from, what it saw, which epoch it kept.
    A model fine-tuned from another carries that model's rounds before its own."""

    command: str = Field("", description="how the round was run, e.g. orescope train CONFIG")
    init: str | None = Field(None, description="the model the round started from (None: scratch)")
    epochs: int | None = Field(None, ge=0, description="epochs run")
    best_epoch: int | None = Field(None, ge=1, description="the epoch whose weights were kept")
    patches_per_epoch: int | None = Field(None, ge=1)
    data: list[dict[str, Any]] = Field(default_factory=list, description="training sources")
    validation_data: str = Field("", description="what the validation scores were measured on")
    validation: dict[str, float] = Field(
        default_factory=dict, description="validation scores of the kept epoch"
    )
    notes: str = ""


class TrainingRecord(BaseModel, extra="forbid"):
    """How a model came to be: a summary and its training rounds, oldest first."""

    description: str = ""
    rounds: list[TrainingRound] = Field(default_factory=list)

    def then(self, step: TrainingRound, description: str = "") -> TrainingRecord:
        """This record continued by ``step`` (a fine-tuning round on top of these)."""
        return TrainingRecord(
            description=description or self.description, rounds=[*self.rounds, step]
        )


class ModelCard(BaseModel, extra="forbid"):
    """``card.yaml`` next to ``model.safetensors``."""

    name: str
    architecture: ArchitectureSpec
    in_channels: int = Field(3, ge=1)
    target: Target = "border_core"
    border_px: int = Field(2, ge=1, description="border thickness of the border-core target")
    class_names: list[str]
    class_colours: list[tuple[int, int, int]] = Field(
        default_factory=list, description="display colour per class index (mineral models)"
    )
    normalisation: Normalisation = "image_zscore"
    channel_mean: list[float] | None = Field(
        None, description="dataset normalisation: mean of each input channel (0-255)"
    )
    channel_std: list[float] | None = Field(
        None, description="dataset normalisation: std of each input channel (0-255)"
    )
    particle_px: float | None = Field(
        None, gt=0, description="median particle ECD (px) the model was trained at"
    )
    reference_colours: dict[int, tuple[float, float, float]] = Field(
        default_factory=dict,
        description="section models: mean RGB of each class in the training images",
    )
    reference_saturation: float | None = Field(
        None,
        gt=0,
        description="section models: the saturation colour calibration fits between training "
        "images and reference_colours (below 1 from section-to-section scatter); divides "
        "fitted saturations (none: saturation is not fitted)",
    )
    input_scale: float = Field(
        1.0, gt=0, description="section models: resample inputs by this factor, as in training"
    )
    ore_types: dict[str, list[str]] = Field(
        default_factory=dict,
        description="section models: the minerals of each ore type the model was trained on; "
        "predict minerals gives each image the type its probabilities point to",
    )
    tile: int = Field(256, ge=32)
    training: TrainingRecord = Field(default_factory=TrainingRecord)
    metrics: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="scores measured after training, by the data they're on"
    )

    @model_validator(mode="before")
    @classmethod
    def _one_round_from_before_0_4(cls, data: Any) -> Any:
        """Cards written before 0.4 keep ``training`` as one flat round (command, init,
        epochs of the kept weights, data, description): read them as a one-round history."""
        training = data.get("training") if isinstance(data, dict) else None
        if isinstance(training, dict) and training and "rounds" not in training:
            flat = dict(training)
            description = flat.pop("description", "") or ""
            kept = flat.pop("epochs", None)
            step = {**flat, "epochs": kept, "best_epoch": kept or None}
            data = {**data, "training": {"description": description, "rounds": [step]}}
        return data

    @model_validator(mode="after")
    def _ore_types_known(self) -> ModelCard:
        if problem := ore_type_problem(self.ore_types, self.class_names):
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _statistics_for_dataset(self) -> ModelCard:
        if self.normalisation == "dataset":
            for name in ("channel_mean", "channel_std"):
                values = getattr(self, name)
                if values is None or len(values) != self.in_channels:
                    raise ValueError(f"dataset normalisation needs {self.in_channels} {name}")
            if min(self.channel_std or [0.0]) <= 0:
                raise ValueError("channel_std must be positive")
        return self

    @property
    def fixed_stats(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The (mean, std) every input is normalised with, or None: each image's own."""
        if self.normalisation != "dataset":
            return None
        return np.asarray(self.channel_mean, np.float32), np.asarray(self.channel_std, np.float32)

    @property
    def classes(self) -> int:
        """Output channels: one sigmoid channel for foreground, else one per class."""
        return 1 if self.target == "foreground" else len(self.class_names)

    def after_epoch(self, epoch: int, validation: dict[str, float] | None = None) -> ModelCard:
        """The card once the latest round has run ``epoch`` epochs; ``validation`` (the scores
        of that epoch) when its weights are the ones kept."""
        rounds = self.training.rounds or [TrainingRound()]
        update: dict[str, Any] = {"epochs": epoch}
        if validation is not None:
            update |= {"best_epoch": epoch, "validation": validation}
        latest = rounds[-1].model_copy(update=update)
        training = self.training.model_copy(update={"rounds": [*rounds[:-1], latest]})
        return self.model_copy(update={"training": training})

    def save(self, folder: str | Path) -> Path:
        """Write ``card.yaml`` into ``folder`` (atomically); returns the folder."""
        write_card(Path(folder) / CARD_FILE, self)
        return Path(folder)


def read_card(path: str | Path) -> ModelCard:
    """The validated card at ``path``; a missing or invalid card is an InputError naming it."""
    path = Path(path)
    try:
        return ModelCard.model_validate(yaml.safe_load(path.read_text()))
    except FileNotFoundError:
        raise InputError(path, "model card not found") from None
    except (yaml.YAMLError, ValueError, TypeError) as error:  # ValueError: not UTF-8 too
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(path, f"not a valid model card: {reason}") from None


def write_card(path: str | Path, card: ModelCard) -> None:
    """Write the card as YAML under a temporary name and rename it, so a reader never sees
    half a card."""
    write_text(path, yaml.safe_dump(card.model_dump(mode="json"), sort_keys=False))
