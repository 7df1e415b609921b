"""Model weights on disk as safetensors: no pickle, so a weights file cannot run code."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from orescope.errors import InputError
from orescope.io.atomic import atomic_path

__all__ = ["load_weights", "save_weights"]

_ARCHITECTURE_KEY = "architecture"
_EXAMPLES = 2


def save_weights(
    model: nn.Module, path: str | Path, metadata: dict[str, str] | None = None, half: bool = False
) -> None:
    """Write the model's state_dict (parameters and buffers) to a safetensors file.

    ``half`` stores floating-point tensors as float16, half the size for a bundled model;
    loading casts them back to the model's dtype.

    `metadata` (strings only) is stored in the header; "architecture" defaults to the model's
    class name so that a mismatch on loading can say what the file holds. Every tensor is cloned
    to its own contiguous CPU storage, since safetensors refuses tensors that share memory (tied
    weights). The file is written next to `path` and renamed, so a crash leaves no half file.
    """
    meta = {_ARCHITECTURE_KEY: type(model).__name__, **(metadata or {})}
    bad = [key for key, value in meta.items() if not isinstance(value, str)]
    if bad:
        raise TypeError(f"metadata values must be strings; not for {', '.join(map(repr, bad))}")
    tensors = {
        key: value.detach().to("cpu").clone(memory_format=torch.contiguous_format)
        for key, value in model.state_dict().items()
    }
    if half:
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    with atomic_path(path) as partial:
        save_file(tensors, str(partial), metadata=meta)


def _shape(tensor_shape: torch.Size) -> str:
    return "x".join(map(str, tensor_shape)) or "scalar"


def _examples(keys: list[str]) -> str:
    more = ", ..." if len(keys) > _EXAMPLES else ""
    return f"(e.g. {', '.join(keys[:_EXAMPLES])}{more})"


def load_weights(model: nn.Module, path: str | Path) -> dict[str, str]:
    """Load a safetensors file written by `save_weights` into `model`; return its metadata.

    Only safetensors is read (never pickle). Raises InputError naming the file for a missing or
    unreadable file, or for weights that do not fit the model (missing keys, unexpected keys or
    shape mismatches); the model is left unchanged then.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such weights file")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata: dict[str, str] = dict(handle.metadata() or {})
            names = handle.keys()  # the handle itself is not iterable
            tensors = {key: handle.get_tensor(key) for key in names}
    except (SafetensorError, OSError) as err:
        raise InputError(path, f"not a readable safetensors weights file ({err})") from err

    expected = model.state_dict()
    missing = sorted(expected.keys() - tensors.keys())
    unexpected = sorted(tensors.keys() - expected.keys())
    mismatched = [
        f"{key}: {_shape(tensors[key].shape)} in file vs {_shape(expected[key].shape)}"
        for key in sorted(expected.keys() & tensors.keys())
        if tensors[key].shape != expected[key].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys {_examples(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected {_examples(unexpected)}")
    if mismatched:
        problems.append(f"{len(mismatched)} shape mismatch {_examples(mismatched)}")
    if problems:
        target = type(model).__name__
        source = metadata.get(_ARCHITECTURE_KEY)
        origin = f"weights of {source}" if source and source != target else "weights"
        raise InputError(path, f"{origin} do not fit {target}: {', '.join(problems)}")
    model.load_state_dict(tensors)
    return metadata
