"""Adversarial training of a restoration generator (paper 004, after pix2pix): a PatchGAN
discriminator learns to tell (wet, dry) pairs from (wet, restored) ones, and the generator
learns to fool it while staying close to the dry image in L1 and in SSIM.

Each step updates the discriminator once on the batch (the mean of its losses on real and on
restored pairs, halved as in pix2pix so it learns no faster than the generator), then the
generator on adversarial + l1·L1 + ssim·(1 − SSIM). Both use Adam with the generator's β₁.
"""

from __future__ import annotations

import torch
from monai.losses import SSIMLoss
from torch import nn
from torch.nn.functional import binary_cross_entropy_with_logits, l1_loss

from orescope.models.spec import ArchitectureSpec


class Adversary:
    """The discriminator of one training run and its optimizer."""

    def __init__(
        self,
        discriminator: ArchitectureSpec,
        in_channels: int,
        lr: float,
        beta1: float,
        weights: tuple[float, float, float],
        device: torch.device,
    ) -> None:
        """``weights`` are the generator loss's (adversarial, L1, SSIM) weights."""
        self.network = discriminator.build(2 * in_channels, 1).to(device)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=lr, betas=(beta1, 0.999))
        self.weights = weights
        self.ssim = SSIMLoss(spatial_dims=2, data_range=2.0)  # images in [-1, 1]

    def _judge(self, wet: torch.Tensor, image: torch.Tensor, real: bool) -> torch.Tensor:
        logits = self.network(torch.cat([wet, image], dim=1))
        return binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(real)))

    def step(
        self,
        generator: nn.Module,
        optimizer: torch.optim.Optimizer,
        wet: torch.Tensor,
        dry: torch.Tensor,
    ) -> dict[str, float]:
        """One update of each network on a batch; their losses."""
        restored = generator(wet)
        self.network.train()
        self.optimizer.zero_grad(set_to_none=True)
        judged = 0.5 * (self._judge(wet, dry, True) + self._judge(wet, restored.detach(), False))
        judged.backward()
        self.optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        adversarial, l1, ssim = self.weights
        loss = l1 * l1_loss(restored, dry)
        if ssim:
            loss = loss + ssim * self.ssim(restored.float(), dry.float())
        if adversarial:
            for parameter in self.network.parameters():
                parameter.requires_grad_(False)
            loss = loss + adversarial * self._judge(wet, restored, True)
            for parameter in self.network.parameters():
                parameter.requires_grad_(True)
        loss.backward()
        optimizer.step()
        return {"loss": loss.item(), "discriminator_loss": judged.item()}
