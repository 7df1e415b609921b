"""Segmentation networks by name (smp architectures and RA-UNet++) and their safetensors weights."""

from __future__ import annotations

from orescope.models.ra_unetpp import RAUNetPlusPlus
from orescope.models.registry import MODEL_NAMES, SIZE_DIVISOR, build_model
from orescope.models.weights import load_weights, save_weights

__all__ = [
    "MODEL_NAMES",
    "SIZE_DIVISOR",
    "RAUNetPlusPlus",
    "build_model",
    "load_weights",
    "save_weights",
]
