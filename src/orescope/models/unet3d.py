"""The 3D U-Net of the `unet3d` architecture: MONAI's BasicUNet, layer for layer.

Written here rather than imported because importing anything from MONAI imports all of MONAI
(its ``__init__`` loads every submodule, torchvision and torch's compiler with it): the volume
job's import took 1.13 GB with it and takes 0.79 GB without, of the 2 GB a 512³ volume may
take (bench/volume_throughput.py, docs/benchmarks/volumes.md). The layers carry BasicUNet's
names and are created in its order, so weights trained with either load into the other and a
seeded initialisation is the same (tests compare the two outputs exactly).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["UNet3d"]

_NORMS: dict[str, type[nn.Module]] = {"batch": nn.BatchNorm3d, "instance": nn.InstanceNorm3d}


def _convolution(in_channels: int, out_channels: int, norm: str, dropout: float) -> nn.Sequential:
    """3³ convolution, then normalisation, dropout and leaky ReLU (MONAI's ``Convolution``)."""
    adn = nn.Sequential()
    adn.add_module("N", _NORMS[norm](out_channels, affine=True))
    adn.add_module("D", nn.Dropout(dropout))
    adn.add_module("A", nn.LeakyReLU(0.1, inplace=True))
    layer = nn.Sequential()
    layer.add_module("conv", nn.Conv3d(in_channels, out_channels, 3, padding=1))
    layer.add_module("adn", adn)
    return layer


def _two_convolutions(
    in_channels: int, out_channels: int, norm: str, dropout: float
) -> nn.Sequential:
    block = nn.Sequential()
    block.add_module("conv_0", _convolution(in_channels, out_channels, norm, dropout))
    block.add_module("conv_1", _convolution(out_channels, out_channels, norm, dropout))
    return block


def _down(in_channels: int, out_channels: int, norm: str, dropout: float) -> nn.Sequential:
    block = nn.Sequential()
    block.add_module("max_pooling", nn.MaxPool3d(2))
    block.add_module("convs", _two_convolutions(in_channels, out_channels, norm, dropout))
    return block


class _UpConcatenate(nn.Module):
    """Transposed-convolution upsampling, concatenation with the encoder's features of the
    same level, two convolutions."""

    def __init__(
        self,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        norm: str,
        dropout: float,
        halves: bool = True,
    ) -> None:
        super().__init__()
        up_channels = in_channels // 2 if halves else in_channels
        self.upsample = nn.Sequential()
        self.upsample.add_module(
            "deconv", nn.ConvTranspose3d(in_channels, up_channels, 2, stride=2)
        )
        self.convs = _two_convolutions(skip_channels + up_channels, out_channels, norm, dropout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.upsample(x)
        # An odd encoder size pools down by floor: pad the one missing plane by replication.
        padding = [0, 0] * (up.ndim - 2)
        for axis in range(up.ndim - 2):
            if skip.shape[-axis - 1] != up.shape[-axis - 1]:
                padding[2 * axis + 1] = 1
        if any(padding):
            up = F.pad(up, padding, "replicate")
        return self.convs(torch.cat([skip, up], dim=1))


class UNet3d(nn.Module):
    """A five-level 3D U-Net, B x C x D x H x W of any size in, logits of the same size out.

    Parameters
    ----------
    in_channels, classes
        Channels of the volume and of the logits.
    features
        Six widths: the five encoder levels, then the last decoder level.
    norm
        ``"batch"`` (a fixed affine map once trained, so that a voxel's prediction does not
        depend on the block it is predicted in) or ``"instance"`` (MONAI's default).
    dropout
        Dropout after every convolution's normalisation.
    """

    def __init__(
        self,
        in_channels: int,
        classes: int,
        features: Sequence[int] = (16, 16, 32, 64, 128, 16),
        norm: str = "instance",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(features) != 6:
            raise ValueError(f"unet3d takes six features, got {len(features)}: {list(features)}")
        if norm not in _NORMS:
            raise ValueError(f"unknown norm {norm!r} for unet3d; choose one of: batch, instance")
        f = tuple(features)
        self.conv_0 = _two_convolutions(in_channels, f[0], norm, dropout)
        self.down_1 = _down(f[0], f[1], norm, dropout)
        self.down_2 = _down(f[1], f[2], norm, dropout)
        self.down_3 = _down(f[2], f[3], norm, dropout)
        self.down_4 = _down(f[3], f[4], norm, dropout)
        self.upcat_4 = _UpConcatenate(f[4], f[3], f[3], norm, dropout)
        self.upcat_3 = _UpConcatenate(f[3], f[2], f[2], norm, dropout)
        self.upcat_2 = _UpConcatenate(f[2], f[1], f[1], norm, dropout)
        self.upcat_1 = _UpConcatenate(f[1], f[0], f[5], norm, dropout, halves=False)
        self.final_conv = nn.Conv3d(f[5], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = self.conv_0(x)
        x1 = self.down_1(x0)
        x2 = self.down_2(x1)
        x3 = self.down_3(x2)
        x4 = self.down_4(x3)
        up = self.upcat_4(x4, x3)
        up = self.upcat_3(up, x2)
        up = self.upcat_2(up, x1)
        up = self.upcat_1(up, x0)
        return self.final_conv(up)
