"""RA-UNet++: UNet++ with residual encoder blocks, self-attention on the skips and ASPP.

Follows the adhered-ore segmentation paper (sections 1.1-1.5): residual blocks deepen the
encoder, attention gives each skip global context before the decoder sees it, and ASPP at the
end of the encoder widens the receptive field for ores of very different sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ASPP", "Bottleneck", "PositionAttention", "RAUNetPlusPlus", "pooled_grid"]


def _conv_bn_relu(
    in_channels: int, out_channels: int, kernel: int = 3, dilation: int = 1
) -> nn.Sequential:
    padding = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(
            in_channels, out_channels, kernel, padding=padding, dilation=dilation, bias=False
        ),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class Bottleneck(nn.Module):
    """Three-layer residual block (1x1 reduce, 3x3, 1x1 restore): depth at a fraction of the cost.

    The shortcut is the identity, or a strided 1x1 projection where the shape changes.
    """

    expansion = 4

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        mid = max(out_channels // self.expansion, 1)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, mid, 1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.shortcut: nn.Module
        if stride == 1 and in_channels == out_channels:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


def _residual_stage(in_channels: int, out_channels: int, blocks: int, stride: int) -> nn.Sequential:
    """One encoder level: the first block changes width (and resolution), the rest refine."""
    first = Bottleneck(in_channels, out_channels, stride)
    return nn.Sequential(
        first, *(Bottleneck(out_channels, out_channels) for _ in range(blocks - 1))
    )


def pooled_grid(height: int, width: int, max_tokens: int) -> tuple[int, int]:
    """Grid of at most `max_tokens` cells with about the aspect ratio of `height` x `width`."""
    if height * width <= max_tokens:
        return height, width
    rows = min(height, max_tokens, max(1, math.floor(math.sqrt(max_tokens * height / width))))
    return rows, min(width, max_tokens // rows)


class PositionAttention(nn.Module):
    """Non-local self-attention: every position attends to a pooled summary of all positions.

    Output is `x + gamma * W(attention)` with `gamma` starting at 0, so a new block is the identity
    and the network learns how much global context each skip should carry.
    """

    def __init__(self, channels: int, max_tokens: int = 1024) -> None:
        super().__init__()
        inner = max(channels // 2, 1)
        self.max_tokens = max_tokens
        self.query = nn.Conv2d(channels, inner, 1)
        self.key = nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, inner, 1)
        self.out = nn.Conv2d(inner, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        # A full HW x HW affinity is 16 GiB per 256x256 image; pooled keys cap it at HW x tokens.
        context = F.adaptive_avg_pool2d(x, pooled_grid(height, width, self.max_tokens))
        query = self.query(x).flatten(2).transpose(1, 2).unsqueeze(1)  # B x 1 x HW x C'
        key = self.key(context).flatten(2).transpose(1, 2).unsqueeze(1)  # B x 1 x N x C'
        value = self.value(context).flatten(2).transpose(1, 2).unsqueeze(1)
        # Equal query/key/value widths let torch use its memory-efficient (flash) CPU kernel.
        attended = F.scaled_dot_product_attention(query, key, value)
        attended = attended.squeeze(1).transpose(1, 2).reshape(batch, -1, height, width)
        return x + self.gamma * self.out(attended)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: a 1x1 branch, a 3x3 branch per dilation rate and an
    image-level branch, concatenated and fused by a 1x1 convolution."""

    def __init__(self, in_channels: int, out_channels: int, rates: Sequence[int]) -> None:
        super().__init__()
        branch = max(out_channels // 4, 1)
        self.branches = nn.ModuleList(
            [
                _conv_bn_relu(in_channels, branch, kernel=1),
                *(_conv_bn_relu(in_channels, branch, dilation=rate) for rate in rates),
            ]
        )
        # No BatchNorm here: the pooled map has one value per channel and image (fails at batch 1).
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, branch, 1), nn.ReLU(inplace=True)
        )
        self.project = _conv_bn_relu(branch * (len(rates) + 2), out_channels, kernel=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.image_pool(x).expand(-1, -1, *x.shape[-2:])
        return self.project(torch.cat([*(branch(x) for branch in self.branches), pooled], dim=1))


class RAUNetPlusPlus(nn.Module):
    """RA-UNet++ segmentation network; returns logits B x classes x H x W.

    Encoder level i (i = 0..4) is a residual stage of width `widths[i]`; levels 1-4 halve the
    resolution, so H and W should be multiples of 16. Decoder node X(i,j) fuses every earlier node
    of its row (dense skips) with the upsampled node X(i+1,j-1), as in UNet++; the encoder nodes
    X(i,0) enter the decoder through self-attention. With `deep_supervision` a head sits on each of
    X(0,1)..X(0,4) and the output is their mean, in training and inference alike (UNet++'s
    "accurate mode"), so the shallow sub-networks get a direct gradient while the output stays one
    tensor; otherwise the output is the head on X(0,4).
    """

    def __init__(
        self,
        in_channels: int = 3,
        classes: int = 1,
        widths: Sequence[int] = (32, 64, 128, 256, 512),
        blocks_per_stage: int = 1,
        aspp_rates: Sequence[int] = (1, 6, 12, 18),
        attention_tokens: int = 1024,
        deep_supervision: bool = False,
    ) -> None:
        super().__init__()
        widths = tuple(widths)
        if len(widths) != 5 or min(widths) < 1:
            raise ValueError(f"widths must be 5 positive channel counts, got {widths}")
        if in_channels < 1 or classes < 1 or blocks_per_stage < 1 or attention_tokens < 1:
            raise ValueError(
                "in_channels, classes, blocks_per_stage and attention_tokens must be >= 1, got "
                f"{in_channels}, {classes}, {blocks_per_stage}, {attention_tokens}"
            )
        if not aspp_rates or min(aspp_rates) < 1:
            raise ValueError(f"aspp_rates must be positive dilation rates, got {tuple(aspp_rates)}")
        self.stem = _conv_bn_relu(in_channels, widths[0])
        self.encoder = nn.ModuleList(
            [
                _residual_stage(widths[0], widths[0], blocks_per_stage, stride=1),
                *(
                    _residual_stage(widths[i - 1], widths[i], blocks_per_stage, stride=2)
                    for i in range(1, 5)
                ),
            ]
        )
        self.aspp = ASPP(widths[4], widths[4], aspp_rates)
        self.attention = nn.ModuleList(PositionAttention(w, attention_tokens) for w in widths[:4])
        self.nodes = nn.ModuleDict(
            {
                f"x{i}_{j}": nn.Sequential(
                    _conv_bn_relu(j * widths[i] + widths[i + 1], widths[i]),
                    _conv_bn_relu(widths[i], widths[i]),
                )
                for j in range(1, 5)
                for i in range(5 - j)
            }
        )
        self.heads = nn.ModuleList(
            nn.Conv2d(widths[0], classes, 1) for _ in range(4 if deep_supervision else 1)
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = []
        out = self.stem(x)
        for stage in self.encoder:
            out = stage(out)
            features.append(out)
        # rows[i] holds X(i,0), X(i,1), ... as they are computed.
        rows = [[attend(f)] for attend, f in zip(self.attention, features[:4], strict=True)]
        rows.append([self.aspp(features[4])])
        for j in range(1, 5):
            for i in range(5 - j):
                up = F.interpolate(
                    rows[i + 1][j - 1],
                    size=rows[i][0].shape[-2:],
                    mode="bilinear",
                    align_corners=False,
                )
                rows[i].append(self.nodes[f"x{i}_{j}"](torch.cat([*rows[i], up], dim=1)))
        finals = rows[0][-len(self.heads) :]
        logits = [head(f) for head, f in zip(self.heads, finals, strict=True)]
        return logits[0] if len(logits) == 1 else torch.stack(logits).mean(dim=0)
