"""The training loop: epochs of random patches, validation on whole images, best and last
checkpoints, exact resume."""

from __future__ import annotations

import math
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
from orescope.infer.particles import predict_particle_map
from orescope.infer.restoration import RESTORE_STATS, restore_image
from orescope.infer.settings import InferenceSettings, predict_map
from orescope.infer.tiling import tiles_per_batch
from orescope.instances.decode import decode_particles
from orescope.io.atomic import write_text
from orescope.metrics.image import psnr, ssim
from orescope.metrics.instance import instance_metrics
from orescope.metrics.pixel import confusion_matrix, confusion_metrics, pixel_metrics
from orescope.models.registry import channels_last_format
from orescope.models.weights import load_weights
from orescope.preprocess.normalise import zscore_normaliser
from orescope.train.adversarial import Adversary
from orescope.train.card import class_table, inherit_from, model_card, reference_colours
from orescope.train.checkpoint import load_checkpoint, save_checkpoint
from orescope.train.config import OptimizerConfig, TrainConfig
from orescope.train.data import (
    BalancedPatches,
    LabelledImage,
    PatchDataset,
    dataset_stats,
    load_source,
    with_stats,
    with_wet_twins,
)
from orescope.train.history import write_history
from orescope.train.losses import segmentation_loss
from orescope.zoo import LoadedModel, read_model_card
from orescope.zoo.card import ore_type_problem

EMA_FILE = "ema.safetensors"
DISCRIMINATOR_FILE = "discriminator.safetensors"
VALIDATION_SCORES = ("ap50", "f1_match", "eta", "merger_ratio", "splitter_ratio", "iou")


def make_optimizer(model: torch.nn.Module, config: OptimizerConfig) -> torch.optim.Optimizer:
    params, lr, decay = model.parameters(), config.lr, config.weight_decay
    if config.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=decay, momentum=config.momentum)
    if config.name == "sgd":
        return torch.optim.SGD(
            params, lr=lr, weight_decay=decay, momentum=config.momentum, nesterov=True
        )
    betas = (config.beta1, 0.999)
    if config.name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay, betas=betas)
    return torch.optim.AdamW(params, lr=lr, weight_decay=decay, betas=betas)


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


def validation_settings(config: TrainConfig, model: torch.nn.Module) -> InferenceSettings:
    """Whole images (volumes) are predicted in the configured tiles, as the card will say."""
    tile = config.inference_tile
    return InferenceSettings(
        tile=tile,
        batch_size=tiles_per_batch(tile, config.spatial_dims),
        spatial_dims=config.spatial_dims,
        device=next(model.parameters()).device,
    )


def predict_instances(
    model: torch.nn.Module, item: LabelledImage, config: TrainConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Particle map and instances of a whole image (volume) at the trained scale, normalised
    and decoded as ``predict particles`` (``predict volume``) does."""
    particle_map = predict_particle_map(
        item.image,
        model,
        config.target,
        config.in_channels,
        validation_settings(config, model),
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
    num_classes: int,
) -> dict[str, float]:
    """Mean IoU over the classes present and pixel accuracy, from one confusion matrix over
    all validation images (a rare mineral is not judged on one image alone)."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    for item in images:
        normalise = zscore_normaliser(item.image, config.in_channels, (item.mean, item.std))
        predicted = predict_map(item.image, model, normalise, validation_settings(config, model))
        judged = item.labels != config.loss.ignore_index
        matrix += confusion_matrix(item.labels[judged], predicted[judged], num_classes)
    scores = confusion_metrics(matrix)
    return {"val_miou": scores["mean_iou"] or 0.0, "val_accuracy": scores["accuracy"]}


def validate_restoration(
    model: torch.nn.Module, images: list[LabelledImage], config: TrainConfig
) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of the validation images' wet twins restored whole, in the
    configured tiles, against their dry images."""
    scores: dict[str, list[float]] = {"psnr": [], "ssim": []}
    for item in images:
        assert item.wet is not None
        restored = restore_image(item.wet, model, tile=config.inference_tile)
        scores["psnr"].append(psnr(item.image, restored))
        scores["ssim"].append(ssim(item.image, restored))
    return {f"val_{name}": float(np.mean(values)) for name, values in scores.items()}


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
    write_text(out / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    torch.manual_seed(config.seed)
    device = pick_device(config.device)
    unlabelled = config.loss.ignore_index
    train_sets = [
        load_source(s, config.particle_px, config.xpl, "train", unlabelled) for s in config.train
    ]
    val_images = [
        item
        for s in config.val
        for item in load_source(s, config.particle_px, config.xpl, "validation", unlabelled)
    ]
    stats = None
    if config.target == "restore":  # photos mapped onto [-1, 1], the generators' range
        stats = RESTORE_STATS
        train_sets = [with_stats(images, stats) for images in train_sets]
        wetness = config.restoration.wetness
        val_images = with_wet_twins(with_stats(val_images, stats), wetness, config.seed)
    elif config.normalisation == "dataset":
        stats = dataset_stats([item for images in train_sets for item in images])
        train_sets = [with_stats(images, stats) for images in train_sets]
        val_images = with_stats(val_images, stats)
    names, _ = class_table(config)
    if problem := ore_type_problem(config.ore_types, names):
        raise InputError(config.name, problem)
    reference = reference_colours(config, [item for images in train_sets for item in images])
    patches = PatchDataset(
        train_sets,
        [s.weight for s in config.train],
        config.patch,
        config.patches_per_epoch,
        config.augment,
        config.target,
        config.border_px,
        config.seed,
        config.restoration.wetness,
    )
    dataset: PatchDataset | BalancedPatches = patches
    if config.sampler == "balanced":
        balanced = [i for i in range(len(names)) if i != config.loss.ignore_index]
        dataset = BalancedPatches(patches, balanced, config.balance_stride, out / "content_maps")
    card = model_card(config, command, reference, stats, parent)
    trained = LoadedModel.untrained(card, device)
    if config.init and not resume:
        trained.load_weights_of(config.init)
    layout = (
        channels_last_format(trained.network) if config.channels_last else torch.contiguous_format
    )
    model = trained.network.to(memory_format=layout)
    optimizer = make_optimizer(model, config.optimizer)
    adversary: Adversary | None = None
    adversaries: dict[str, torch.optim.Optimizer] = {}
    if config.target == "restore":
        losses = config.restoration
        adversary = Adversary(
            losses.discriminator,
            config.in_channels,
            losses.discriminator_lr,
            config.optimizer.beta1,
            (losses.adversarial, losses.l1, losses.ssim),
            device,
        )
        adversaries = {"discriminator_optimizer": adversary.optimizer}
    state: dict = {"epoch": 0, "best": -math.inf, "kept": None, "history": []}
    if resume:
        state = load_checkpoint(last, model, optimizer, adversaries)
        if adversary is not None:
            load_weights(adversary.network, last / DISCRIMINATOR_FILE)
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
            steps_done: list[dict[str, float]] = []
            for images, targets in loader:
                images = images.to(device).contiguous(memory_format=layout)
                targets = targets.to(device)
                if adversary is not None:
                    done = adversary.step(model, optimizer, images, targets)
                else:
                    optimizer.zero_grad(set_to_none=True)
                    loss = segmentation_loss(model(images), targets, config.loss)
                    loss.backward()
                    optimizer.step()
                    done = {"loss": loss.item()}
                if average is not None:
                    average.update_parameters(model)
                steps_done.append(done)
                said = f"epoch {epoch + 1} loss {done['loss']:.3f}"
                bar.update(task, advance=1, description=said)
            metrics = {}
            if val_images and config.target == "classes":
                metrics = validate_sections(judged, val_images, config, len(names))
            elif val_images and config.target == "restore":
                metrics = validate_restoration(judged, val_images, config)
            elif val_images:
                metrics = validate(judged, val_images, config)
            row = {"epoch": epoch + 1, "lr": rate}
            row |= {f"train_{k}": float(np.mean([d[k] for d in steps_done])) for k in done}
            row |= metrics | {"seconds": time.perf_counter() - started}
            state["history"].append(row)
            score = next(
                (metrics[k] for k in ("val_ap50", "val_miou", "val_psnr") if k in metrics),
                -row["train_loss"],
            )
            if score > state["best"]:
                state["best"], state["kept"] = score, (epoch + 1, metrics)
                card = card.after_epoch(epoch + 1, metrics)
                LoadedModel(judged, card).save(out)
            else:
                card = card.after_epoch(epoch + 1)
                card.save(out)
            state["epoch"] = epoch + 1
            discriminator = adversary.network if adversary is not None else None
            kept = {EMA_FILE: average, DISCRIMINATOR_FILE: discriminator}
            save_checkpoint(last, model, optimizer, state, kept, adversaries)
            write_history(state["history"], out)
    return out
