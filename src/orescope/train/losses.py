"""Segmentation losses on logits (B×K×H×W, or B×K×D×H×W) and integer targets (B×H×W, B×D×H×W).

One channel (K = 1) means a sigmoid foreground; more mean softmax classes. ``bce_dice`` is
paper 000's eq. 1, (1 − α)·BCE + α·Dice; with K > 1 its cross-entropy is the softmax one.
Negative targets are unlabelled pixels (sparse annotations): no loss counts them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from orescope.train.config import LossConfig


def _probabilities_and_onehot(
    logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    if logits.shape[1] == 1:
        probs = torch.sigmoid(logits)
        onehot = target.unsqueeze(1).float()
    else:
        probs = logits.softmax(dim=1)
        onehot = torch.movedim(F.one_hot(target, logits.shape[1]), -1, 1).float()
    mask = valid.unsqueeze(1).float()
    return probs * mask, onehot * mask


def dice_loss(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """1 − soft Dice per class over the batch, averaged over classes (eq. 4 of paper 000)."""
    probs, onehot = _probabilities_and_onehot(logits, target, valid)
    dims = (0, *range(2, logits.ndim))
    intersection = (probs * onehot).sum(dims)
    total = probs.sum(dims) + onehot.sum(dims)
    return 1 - ((2 * intersection + 1) / (total + 1)).mean()


def cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor,
    weights: torch.Tensor | None,
    gamma: float = 0.0,
) -> torch.Tensor:
    """Pixel cross-entropy (binary for K = 1); ``gamma`` > 0 makes it the focal loss."""
    if logits.shape[1] == 1:
        per_pixel = F.binary_cross_entropy_with_logits(
            logits[:, 0], target.float(), reduction="none"
        )
        log_p_true = -per_pixel
    else:
        log_p = logits.log_softmax(dim=1)
        log_p_true = log_p.gather(1, target.unsqueeze(1))[:, 0]
        per_pixel = -log_p_true
        if weights is not None:
            per_pixel = per_pixel * weights[target]
    if gamma:
        per_pixel = per_pixel * (1 - log_p_true.exp()) ** gamma
    return (per_pixel * valid).sum() / valid.sum().clamp(min=1)


def segmentation_loss(
    logits: torch.Tensor, target: torch.Tensor, config: LossConfig
) -> torch.Tensor:
    valid = target >= 0
    if config.ignore_index is not None:
        valid &= target != config.ignore_index
    target = target.masked_fill(~valid, 0)
    weights = None
    if config.class_weights is not None:
        weights = torch.as_tensor(config.class_weights, dtype=logits.dtype, device=logits.device)
    if config.name == "dice":
        return dice_loss(logits, target, valid)
    if config.name == "focal":
        return cross_entropy(logits, target, valid, weights, config.gamma)
    ce = cross_entropy(logits, target, valid, weights)
    if config.name == "ce":
        return ce
    return (1 - config.alpha) * ce + config.alpha * dice_loss(logits, target, valid)
