"""Bundled models, loaded by name (``particles``) or from a folder with a card and weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from orescope.errors import InputError
from orescope.zoo.card import ModelCard, read_card, write_card

ZOO_DIR = Path(__file__).parent
WEIGHTS_FILE, CARD_FILE = "model.safetensors", "card.yaml"


@dataclass(frozen=True)
class LoadedModel:
    """A network in eval mode and the card that says how to use it."""

    network: torch.nn.Module
    card: ModelCard
    path: Path


def zoo_names() -> list[str]:
    return sorted(p.parent.name for p in ZOO_DIR.glob(f"*/{CARD_FILE}"))


def resolve_model_dir(name_or_path: str | Path) -> Path:
    """A zoo name, a model folder, or a ``.safetensors`` file with ``card.yaml`` beside it."""
    path = Path(name_or_path)
    if path.suffix == ".safetensors":
        path = path.parent
    if (path / CARD_FILE).is_file():
        return path
    if (ZOO_DIR / str(name_or_path) / CARD_FILE).is_file():
        return ZOO_DIR / str(name_or_path)
    raise InputError(name_or_path, f"no such model; zoo models: {', '.join(zoo_names()) or 'none'}")


def load_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Build the card's architecture and load its safetensors weights (never a pickle), ready
    for inference. Weights are stored channels-last: PyTorch's CPU convolutions run the zoo
    models 1.1–1.4× faster so (bench/model_layout.py), with the same outputs to float rounding."""
    from orescope.models.weights import load_weights

    folder = resolve_model_dir(name_or_path)
    card = read_card(folder / CARD_FILE)
    network = card.architecture.build(card.in_channels, card.classes)
    load_weights(network, folder / WEIGHTS_FILE)
    network = network.to(memory_format=torch.channels_last).to(device).eval()
    return LoadedModel(network, card, folder)


__all__ = [
    "CARD_FILE",
    "WEIGHTS_FILE",
    "LoadedModel",
    "ModelCard",
    "load_model",
    "read_card",
    "resolve_model_dir",
    "write_card",
    "zoo_names",
]
