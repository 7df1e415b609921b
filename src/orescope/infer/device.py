"""Where the network runs: a GPU when there is one, else the CPU."""

from __future__ import annotations

import torch

from orescope.errors import InputError


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError(None, "device 'cuda' asked for, but no GPU is available")
    return torch.device(name)
