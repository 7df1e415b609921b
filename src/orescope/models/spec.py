"""The validated description of an architecture: what a config asks for and a card records."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, Field


class ArchitectureSpec(BaseModel, extra="forbid"):
    """A registry name with its arguments; ``build`` gives the untrained network."""

    name: str = "unet"
    encoder: str = "resnet18"
    encoder_weights: str | None = Field(
        None, description="'imagenet' for pretrained encoders (needs a network the first time)"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="further model arguments")

    @property
    def spatial_dims(self) -> int:
        """3 for a network of volumes (B×C×D×H×W), 2 for one of images."""
        from orescope.models.registry import VOLUME_MODELS

        return 3 if self.name in VOLUME_MODELS else 2

    def build(self, in_channels: int, classes: int) -> torch.nn.Module:
        from orescope.models.registry import ENCODERLESS, build_model

        extra: dict[str, Any] = dict(self.options)
        if self.name not in ENCODERLESS:
            extra |= {"encoder": self.encoder, "encoder_weights": self.encoder_weights}
        return build_model(self.name, in_channels=in_channels, classes=classes, **extra)
