"""Image-to-image networks for wet-ore restoration (paper 004) and the discriminator that
trains them adversarially, built on MONAI's U-Net and PatchGAN rather than code of our own.

- ``restore_unet``: paper 004's improved generator, a U-Net whose every stage is a residual
  unit (MONAI's ``num_res_units``), predicting the *correction* to the wet image rather than
  the whole dry image: most of a wet photo is already right, so the network learns only what
  water changed, and the ore's fine texture passes through untouched (our addition; it trains
  in a fraction of the steps on a CPU).
- ``pix2pix``: the learned baseline, a plain U-Net generator with a tanh output, as in pix2pix.
- ``patchgan``: pix2pix's PatchGAN, which scores overlapping patches of (wet, dry) pairs as
  real or restored.

Images go in and come out in [-1, 1] (0-255 mapped linearly, the card's ``dataset``
normalisation with mean and std 127.5); batch normalisation, so that tiles of one image are
restored alike at inference (instance normalisation would follow each tile's own colours).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.nets import PatchDiscriminator, UNet
from torch import nn

__all__ = ["ImageToImage", "PatchCritic"]


class ImageToImage(nn.Module):
    """A U-Net mapping an image to an image of ``out_channels``: the input's first channels
    plus the network's correction (``residual``), or the network's output through tanh."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        channels: Sequence[int],
        residual_units: int,
        residual: bool,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if residual and in_channels < out_channels:
            raise ValueError(
                f"a residual generator adds its output to the input's first {out_channels} "
                f"channels; it has {in_channels}"
            )
        self.unet = UNet(
            spatial_dims=2,
            in_channels=in_channels,
            out_channels=out_channels,
            channels=tuple(channels),
            strides=(2,) * (len(channels) - 1),
            num_res_units=residual_units,
            norm="batch",
            dropout=dropout,
        )
        self.residual = residual
        self.out_channels = out_channels

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        correction = self.unet(image)
        if self.residual:
            return image[:, : self.out_channels] + correction
        return torch.tanh(correction)


class PatchCritic(nn.Module):
    """MONAI's PatchDiscriminator returning only its last map: one logit per patch of the
    (condition, image) pair stacked along the channels."""

    def __init__(self, in_channels: int, channels: int, layers: int) -> None:
        super().__init__()
        self.discriminator = PatchDiscriminator(
            spatial_dims=2,
            channels=channels,
            in_channels=in_channels,
            out_channels=1,
            num_layers_d=layers,
        )

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        return self.discriminator(pair)[-1]


def build_restore_unet(
    *,
    in_channels: int,
    classes: int,
    channels: Sequence[int] = (32, 64, 128, 256),
    residual_units: int = 2,
) -> nn.Module:
    """Paper 004's generator: residual units in every stage, plus the global residual."""
    return ImageToImage(in_channels, classes, channels, residual_units, residual=True)


def build_pix2pix(
    *,
    in_channels: int,
    classes: int,
    channels: Sequence[int] = (32, 64, 128, 256),
    dropout: float = 0.5,
) -> nn.Module:
    """pix2pix's generator: a plain U-Net (no residual units) with dropout and a tanh output."""
    return ImageToImage(in_channels, classes, channels, 0, residual=False, dropout=dropout)


def build_patchgan(
    *, in_channels: int, classes: int, channels: int = 32, layers: int = 3
) -> nn.Module:
    """pix2pix's 70×70 PatchGAN (``layers=3``) at ``channels`` filters in its first layer
    (64 in pix2pix; 32 by default here to train on a CPU). ``classes`` must be 1."""
    if classes != 1:
        raise ValueError(f"a discriminator has one output, got classes={classes}")
    return PatchCritic(in_channels, channels, layers)
