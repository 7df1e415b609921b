"""The card of the model a training run makes: the config's settings, what the training data
gave (class table, channel statistics, reference colours) and the history of the model it starts
from. The loop asks for the card here once, before the first epoch; `orescope.zoo` owns its
schema, how it changes after each epoch, and how it is saved with the weights."""

from __future__ import annotations

import os

import numpy as np

from orescope.instances.border_core import CLASS_NAMES
from orescope.instances.distance import CLASS_NAMES as DISTANCE_CLASS_NAMES
from orescope.preprocess.colour import ColourReference, colour_reference
from orescope.train.config import DataSource, TrainConfig
from orescope.train.data import LabelledImage, section_registry
from orescope.zoo import ModelCard, TrainingRecord, TrainingRound


def class_table(config: TrainConfig) -> tuple[list[str], list[tuple[int, int, int]]]:
    """Output class names (and colours for sections), indexed like the masks: a section
    model has one output per index up to the registry's largest, never renumbered."""
    if config.target == "border_core":
        return list(CLASS_NAMES), []
    if config.target == "distance":
        return list(DISTANCE_CLASS_NAMES), []
    if config.target == "foreground":
        return ["particle"], []
    if config.target == "restore":  # the restored image's channels
        return ["red", "green", "blue"], []
    registry = section_registry(config.train[0])
    known = {c.index: c for c in registry.classes}
    names = [known[i].name if i in known else "unused" for i in range(max(known) + 1)]
    colours = [known[i].colour if i in known else (0, 0, 0) for i in range(max(known) + 1)]
    return names, colours


def reference_colours(config: TrainConfig, images: list[LabelledImage]) -> ColourReference:
    """Class-mean colours of the training photos (PPL for PPL + XPL), the reference that
    colour correction maps other microscopes onto, and the saturation a calibration fit finds
    between the photos and it."""
    if config.target != "classes":
        return {}, None
    return colour_reference([(item.image[..., :3], item.labels) for item in images])


def source_record(source: DataSource) -> dict:
    """A training source as the card keeps it: its set fields, the path relative to the
    working directory (cards travel; absolute paths of one machine do not)."""
    record = source.model_dump(exclude_defaults=True)
    if source.path:
        record["path"] = os.path.relpath(source.path)
    return record


def source_label(source: DataSource) -> str:
    """``gravel (2 images)`` or ``gravel (all but 6_P1060355_0, 7_P1060359_3)``."""
    if source.kind == "synth":
        return f"{source.count} synthetic scenes (seed {source.seed})"
    if source.stems is not None:
        return f"{source.kind} ({', '.join(source.stems)})"
    if source.exclude:
        return f"{source.kind} (all but {', '.join(source.exclude)})"
    return source.kind


def model_card(
    config: TrainConfig,
    command: str,
    reference: ColourReference,
    stats: tuple[np.ndarray, np.ndarray] | None,
    parent: ModelCard | None,
) -> ModelCard:
    """The card of the model this run trains, before its first epoch: the config's settings,
    and the training history of the model it starts from continued by this round."""
    names, colours = class_table(config)
    scale = "own" if config.target == "restore" else "trained"
    step = TrainingRound(
        command=command,
        init=config.init,
        epochs=0,
        patches_per_epoch=config.patches_per_epoch,
        data=[source_record(s) for s in config.train],
        validation_data=f"{'; '.join(source_label(s) for s in config.val)}, {scale} scale, "
        f"{config.inference_tile} px tiles",
    )
    history = parent.training if parent is not None else TrainingRecord()
    return ModelCard(
        name=config.name,
        architecture=config.architecture,
        in_channels=config.in_channels,
        target=config.target,
        border_px=config.border_px,
        class_names=names,
        class_colours=colours,
        particle_px=config.particle_px if config.target != "classes" else None,
        input_scale=config.train[0].scale if config.target == "classes" else 1.0,
        ore_types=config.ore_types,
        reference_colours=reference[0],
        reference_saturation=reference[1],
        normalisation=config.normalisation,
        channel_mean=None if stats is None else [float(v) for v in stats[0]],
        channel_std=None if stats is None else [float(v) for v in stats[1]],
        tile=config.inference_tile,
        training=history.then(step, config.description),
    )


# what a starting model's weights fix (their shapes and meaning) and the particle size they learned
INHERITED = ("architecture", "target", "border_px", "particle_px")


def inherit_from(config: TrainConfig, parent: ModelCard | None) -> TrainConfig:
    """Fine-tuning takes the architecture, target, border and particle size of the starting
    model's card wherever the config leaves them out: ``init: particles`` and the data are a
    whole config, and a model is never resampled to a size it must first unlearn."""
    if parent is None:
        return config
    taken = {
        name: getattr(parent, name) for name in INHERITED if name not in config.model_fields_set
    }
    return config.model_copy(update=taken)
