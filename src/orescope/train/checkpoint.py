"""Resumable checkpoints without pickle: weights and optimizer tensors in safetensors, the
rest (epoch, best score, history, optimizer settings) in JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from orescope.errors import InputError
from orescope.io.atomic import atomic_path
from orescope.models.weights import load_weights, save_weights


def save_checkpoint(
    folder: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    more: Mapping[str, torch.nn.Module | None] | None = None,
    more_optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
) -> None:
    """Write to a temporary folder and swap it in, so an interrupted save never leaves a
    half-written checkpoint; ``more`` names further modules (a weight average, a
    discriminator) to keep, ``more_optimizers`` further optimizers (the discriminator's)."""
    optimizers = {"optimizer": optimizer, **(more_optimizers or {})}
    with atomic_path(folder) as staging:
        staging.mkdir()
        save_weights(model, staging / "model.safetensors")
        for name, module in (more or {}).items():
            if module is not None:
                save_weights(module, staging / name)
        document = dict(state)
        for name, each in optimizers.items():
            optimizer_state = each.state_dict()
            tensors, scalars = {}, {}
            for index, values in optimizer_state["state"].items():
                for key, value in values.items():
                    if isinstance(value, torch.Tensor):
                        tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
                    else:
                        scalars[f"{index}.{key}"] = value
            save_file(tensors, str(staging / f"{name}.safetensors"))
            document |= {f"{name}_groups": optimizer_state["param_groups"]}
            document |= {f"{name}_scalars": scalars}
        (staging / "state.json").write_text(json.dumps(document, indent=1))


def load_checkpoint(
    folder: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    more_optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
) -> dict[str, Any]:
    """Restore model and optimizers in place; returns the saved state (epoch, history, ...)."""
    if not (folder / "state.json").is_file():
        raise InputError(folder, "no checkpoint to resume from")
    load_weights(model, folder / "model.safetensors")
    document = json.loads((folder / "state.json").read_text())
    for name, each in {"optimizer": optimizer, **(more_optimizers or {})}.items():
        tensors = load_file(str(folder / f"{name}.safetensors"))
        state: dict[int, dict[str, Any]] = {}
        for key, value in [*tensors.items(), *document.pop(f"{name}_scalars").items()]:
            index, entry = key.split(".", 1)
            state.setdefault(int(index), {})[entry] = value
        each.load_state_dict({"state": state, "param_groups": document.pop(f"{name}_groups")})
    return document
