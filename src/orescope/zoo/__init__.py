"""Bundled models, loaded by name (``particles``) or from a folder with a card and weights.

A model folder holds ``model.safetensors`` and ``card.yaml``; `LoadedModel` saves and loads
the two together, as segmentation-models-pytorch's hub mixin does with its weights and config,
so that no other part of orescope names the files or writes a card on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from orescope.errors import InputError
from orescope.zoo.card import (
    CARD_FILE,
    ModelCard,
    TrainingRecord,
    TrainingRound,
    read_card,
    write_card,
)

ZOO_DIR = Path(__file__).parent
WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class LoadedModel:
    """A network and the card that says how to build, feed and trust it.

    Examples
    --------
    >>> from orescope.models.spec import ArchitectureSpec
    >>> card = ModelCard(
    ...     name="tiny",
    ...     architecture=ArchitectureSpec(name="unet", options={"encoder_depth": 3,
    ...         "decoder_channels": [16, 8, 4]}),
    ...     class_names=["background", "core", "border"],
    ... )
    >>> import tempfile
    >>> folder = LoadedModel.untrained(card).save(tempfile.mkdtemp())
    >>> load_model(folder).card == card
    True
    """

    network: torch.nn.Module
    card: ModelCard
    path: Path | None = None

    @classmethod
    def untrained(cls, card: ModelCard, device: str | torch.device = "cpu") -> LoadedModel:
        """The card's architecture with fresh weights: where training starts."""
        network = card.architecture.build(card.in_channels, card.classes)
        return cls(network.to(device), card)

    def load_weights_of(self, name_or_path: str | Path) -> None:
        """Load another model's weights into this network (same architecture): fine-tuning
        starts so. A mismatch is an InputError naming the file."""
        from orescope.models.weights import load_weights

        load_weights(self.network, resolve_model_dir(name_or_path) / WEIGHTS_FILE)

    def save(self, folder: str | Path, half: bool = False) -> Path:
        """Write the weights, then the card, each under a temporary name and renamed; returns
        the folder. ``half`` stores float16 weights (half the size; loading casts back)."""
        from orescope.models.weights import save_weights

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_weights(self.network, folder / WEIGHTS_FILE, half=half)
        return self.card.save(folder)


def zoo_names() -> list[str]:
    """The names of the bundled models."""
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


def read_model_card(name_or_path: str | Path) -> ModelCard:
    """The card of a zoo model or model folder, without loading its weights."""
    return read_card(resolve_model_dir(name_or_path) / CARD_FILE)


def load_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Build the card's architecture and load its safetensors weights (never a pickle), ready
    for inference. Weights are stored channels-last: PyTorch's CPU convolutions run the zoo
    models 1.1–1.4× faster so (bench/model_layout.py), with the same outputs to float rounding."""
    from orescope.models.registry import channels_last_format
    from orescope.models.weights import load_weights

    folder = resolve_model_dir(name_or_path)
    card = read_card(folder / CARD_FILE)
    network = card.architecture.build(card.in_channels, card.classes)
    named = Path(name_or_path)  # a .safetensors file named is the one loaded, not its neighbour
    load_weights(network, named if named.suffix == ".safetensors" else folder / WEIGHTS_FILE)
    network = network.to(memory_format=channels_last_format(network)).to(device).eval()
    return LoadedModel(network, card, folder)


__all__ = [
    "CARD_FILE",
    "WEIGHTS_FILE",
    "ZOO_DIR",
    "LoadedModel",
    "ModelCard",
    "TrainingRecord",
    "TrainingRound",
    "load_model",
    "read_card",
    "read_model_card",
    "resolve_model_dir",
    "write_card",
    "zoo_names",
]
