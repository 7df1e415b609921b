"""The training loop: epochs of random patches, validation on whole images, best and last
checkpoints, exact resume."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from rich.progress import Progress
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader

from orescope.errors import InputError
from orescope.infer.device import pick_device
from orescope.infer.particles import decode_particles, predict_particle_map, zscore_normaliser
from orescope.infer.sliding_window import predict_classes
from orescope.infer.tiling import tiles_per_batch
from orescope.instances.border_core import CLASS_NAMES
from orescope.metrics.instance import instance_metrics
from orescope.metrics.pixel import confusion_matrix, confusion_metrics, pixel_metrics
from orescope.models.weights import load_weights
from orescope.preprocess.colour import ColourReference, colour_reference
from orescope.train.checkpoint import load_checkpoint, save_checkpoint
from orescope.train.config import DataSource, OptimizerConfig, TrainConfig
from orescope.train.data import (
    BalancedPatches,
    LabelledImage,
    PatchDataset,
    dataset_stats,
    load_source,
    section_registry,
    with_stats,
)
from orescope.train.history import write_history
from orescope.train.losses import segmentation_loss
from orescope.zoo import (
    LoadedModel,
    ModelCard,
    TrainingRecord,
    TrainingRound,
    read_model_card,
)
from orescope.zoo.card import ore_type_problem

EMA_FILE = "ema.safetensors"
VALIDATION_SCORES = ("ap50", "f1_match", "eta", "merger_ratio", "splitter_ratio", "iou")


def make_optimizer(model: torch.nn.Module, config: OptimizerConfig) -> torch.optim.Optimizer:
    params, lr, decay = model.parameters(), config.lr, config.weight_decay
    if config.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=decay, momentum=config.momentum)
    if config.name == "sgd":
        return torch.optim.SGD(
            params, lr=lr, weight_decay=decay, momentum=config.momentum, nesterov=True
        )
    if config.name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=decay)


def learning_rate(config: OptimizerConfig, epoch: int, epochs: int) -> float:
    """Linear warm-up, then constant, cosine or polynomial (power 0.9) decay, set per epoch."""
    if epoch < config.warmup_epochs:
        return config.lr * (epoch + 1) / (config.warmup_epochs + 1)
    progress = (epoch - config.warmup_epochs) / max(1, epochs - config.warmup_epochs)
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * progress))
    if config.schedule == "poly":
        return config.lr * (1 - progress) ** 0.9
    return config.lr


def weight_average(model: torch.nn.Module, decay: float | None) -> AveragedModel | None:
    """The exponential moving average of the weights and buffers that validation and the saved
    model use, or None to use the trained weights themselves."""
    if decay is None:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def predict_instances(
    model: torch.nn.Module, item: LabelledImage, config: TrainConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Particle map and instances of a whole image at the trained scale, normalised and
    decoded as ``predict particles`` does."""
    particle_map = predict_particle_map(
        item.image,
        model,
        config.target,
        config.inference_tile,
        config.in_channels,
        tiles_per_batch(config.inference_tile),
        stats=(item.mean, item.std),
    )
    return particle_map, decode_particles(particle_map, config.target, config.particle_px)


def validate(
    model: torch.nn.Module, images: list[LabelledImage], config: TrainConfig
) -> dict[str, float]:
    """Mean instance scores and foreground IoU over the validation images."""
    scores: dict[str, list[float]] = {name: [] for name in VALIDATION_SCORES}
    for item in images:
        particle_map, instances = predict_instances(model, item, config)
        found = instance_metrics(item.labels, instances)
        for name in VALIDATION_SCORES[:-1]:
            scores[name].append(float(found[name]))
        pixels = pixel_metrics(
            (item.labels > 0).astype(np.int64), (particle_map > 0).astype(np.int64)
        )
        scores["iou"].append(float(pixels["iou"] or 0.0))
    return {f"val_{name}": float(np.mean(values)) for name, values in scores.items()}


def validate_sections(
    model: torch.nn.Module,
    images: list[LabelledImage],
    config: TrainConfig,
    device: torch.device,
    num_classes: int,
) -> dict[str, float]:
    """Mean IoU over the classes present and pixel accuracy, from one confusion matrix over
    all validation images (a rare mineral is not judged on one image alone)."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    for item in images:
        predicted = predict_classes(
            item.image,
            model,
            normalise=zscore_normaliser(item.image, config.in_channels, (item.mean, item.std)),
            tile=config.inference_tile,
            batch_size=tiles_per_batch(config.inference_tile),
            device=device,
        )
        judged = item.labels != config.loss.ignore_index
        matrix += confusion_matrix(item.labels[judged], predicted[judged], num_classes)
    scores = confusion_metrics(matrix)
    return {"val_miou": scores["mean_iou"] or 0.0, "val_accuracy": scores["accuracy"]}


def _class_table(config: TrainConfig) -> tuple[list[str], list[tuple[int, int, int]]]:
    """Output class names (and colours for sections), indexed like the masks: a section
    model has one output per index up to the registry's largest, never renumbered."""
    if config.target == "border_core":
        return list(CLASS_NAMES), []
    if config.target == "foreground":
        return ["particle"], []
    registry = section_registry(config.train[0])
    known = {c.index: c for c in registry.classes}
    names = [known[i].name if i in known else "unused" for i in range(max(known) + 1)]
    colours = [known[i].colour if i in known else (0, 0, 0) for i in range(max(known) + 1)]
    return names, colours


def _reference_colours(config: TrainConfig, images: list[LabelledImage]) -> ColourReference:
    """Class-mean colours of the training photos (PPL for PPL + XPL), the reference that
    colour correction maps other microscopes onto, and the saturation a calibration fit finds
    between the photos and it."""
    if config.target != "classes":
        return {}, None
    return colour_reference([(item.image[..., :3], item.labels) for item in images])


def _source_record(source: DataSource) -> dict:
    """A training source as the card keeps it: its set fields, the path relative to the
    working directory (cards travel; absolute paths of one machine do not)."""
    record = source.model_dump(exclude_defaults=True)
    if source.path:
        record["path"] = os.path.relpath(source.path)
    return record


def _source_label(source: DataSource) -> str:
    """``gravel (2 images)`` or ``gravel (all but 6_P1060355_0, 7_P1060359_3)``."""
    if source.kind == "synth":
        return f"{source.count} synthetic scenes (seed {source.seed})"
    if source.stems is not None:
        return f"{source.kind} ({', '.join(source.stems)})"
    if source.exclude:
        return f"{source.kind} (all but {', '.join(source.exclude)})"
    return source.kind


def _card(
    config: TrainConfig,
    command: str,
    reference: ColourReference,
    stats: tuple[np.ndarray, np.ndarray] | None,
    parent: ModelCard | None,
) -> ModelCard:
    """The card of the model this run trains, before its first epoch: the config's settings,
    and the training history of the model it starts from continued by this round."""
    names, colours = _class_table(config)
    step = TrainingRound(
        command=command,
        init=config.init,
        epochs=0,
        patches_per_epoch=config.patches_per_epoch,
        data=[_source_record(s) for s in config.train],
        validation_data=f"{'; '.join(_source_label(s) for s in config.val)}, trained scale, "
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


def train(
    config: TrainConfig, resume: bool = False, progress: bool = True, command: str = ""
) -> Path:
    """Train as configured; returns the output folder (``model.safetensors`` + ``card.yaml`` of
    the best epoch, ``last/`` for resuming, ``history.csv``, ``curves.png``, ``config.yaml``)."""
    out = Path(config.out)
    last = out / "last"
    if (last / "state.json").exists() and not resume:
        raise InputError(out, "holds an earlier run: pass --resume to continue it, or another out")
    parent = read_model_card(config.init) if config.init else None
    config = inherit_from(config, parent)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(
        yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    )
    torch.manual_seed(config.seed)
    device = pick_device(config.device)
    train_sets = [load_source(s, config.particle_px, config.xpl) for s in config.train]
    val_images = [
        item for s in config.val for item in load_source(s, config.particle_px, config.xpl)
    ]
    stats = None
    if config.normalisation == "dataset":
        stats = dataset_stats([item for images in train_sets for item in images])
        train_sets = [with_stats(images, stats) for images in train_sets]
        val_images = with_stats(val_images, stats)
    names, _ = _class_table(config)
    if problem := ore_type_problem(config.ore_types, names):
        raise InputError(config.name, problem)
    reference = _reference_colours(config, [item for images in train_sets for item in images])
    patches = PatchDataset(
        train_sets,
        [s.weight for s in config.train],
        config.patch,
        config.patches_per_epoch,
        config.augment,
        config.target,
        config.border_px,
        config.seed,
    )
    dataset: PatchDataset | BalancedPatches = patches
    if config.sampler == "balanced":
        balanced = [i for i in range(len(names)) if i != config.loss.ignore_index]
        dataset = BalancedPatches(patches, balanced, config.balance_stride, out / "content_maps")
    card = _card(config, command, reference, stats, parent)
    trained = LoadedModel.untrained(card, device)
    if config.init and not resume:
        trained.load_weights_of(config.init)
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    model = trained.network.to(memory_format=layout)
    optimizer = make_optimizer(model, config.optimizer)
    state: dict = {"epoch": 0, "best": -math.inf, "kept": None, "history": []}
    if resume:
        state = load_checkpoint(last, model, optimizer)
        if state.get("kept"):
            card = card.after_epoch(*state["kept"]).after_epoch(state["epoch"])
    average = weight_average(model, config.ema_decay)
    if average is not None and resume:
        load_weights(average, last / EMA_FILE)
    judged = model if average is None else average.module
    steps = config.patches_per_epoch // config.batch_size
    with Progress(disable=not progress) as bar:
        task = bar.add_task("training", total=(config.epochs - state["epoch"]) * steps)
        for epoch in range(state["epoch"], config.epochs):
            started = time.perf_counter()
            rate = learning_rate(config.optimizer, epoch, config.epochs)
            for group in optimizer.param_groups:
                group["lr"] = rate
            dataset.set_epoch(epoch)
            torch.manual_seed(config.seed * 100_003 + epoch)
            loader = DataLoader(
                dataset,
                batch_size=config.batch_size,
                num_workers=config.num_workers,
                drop_last=True,
            )
            model.train()
            losses = []
            for images, targets in loader:
                images = images.to(device).contiguous(memory_format=layout)
                targets = targets.to(device)
                optimizer.zero_grad(set_to_none=True)
                loss = segmentation_loss(model(images), targets, config.loss)
                loss.backward()
                optimizer.step()
                if average is not None:
                    average.update_parameters(model)
                losses.append(loss.item())
                bar.update(task, advance=1, description=f"epoch {epoch + 1} loss {loss.item():.3f}")
            metrics = {}
            if val_images and config.target == "classes":
                metrics = validate_sections(judged, val_images, config, device, len(names))
            elif val_images:
                metrics = validate(judged, val_images, config)
            row = {"epoch": epoch + 1, "lr": rate, "train_loss": float(np.mean(losses))}
            row |= metrics | {"seconds": time.perf_counter() - started}
            state["history"].append(row)
            score = metrics.get("val_ap50", metrics.get("val_miou", -row["train_loss"]))
            if score > state["best"]:
                state["best"], state["kept"] = score, (epoch + 1, metrics)
                card = card.after_epoch(epoch + 1, metrics)
                LoadedModel(judged, card).save(out)
            else:
                card = card.after_epoch(epoch + 1)
                card.save(out)
            state["epoch"] = epoch + 1
            save_checkpoint(last, model, optimizer, state, {EMA_FILE: average})
            write_history(state["history"], out)
    return out
