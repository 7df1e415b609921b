"""From pixels to individual particles: thresholds, components and watershed splitting."""

from orescope.instances.border_core import decode_border_core, encode_border_core
from orescope.instances.components import connected_components, remove_small
from orescope.instances.otsu import otsu_instances
from orescope.instances.threshold import foreground_mask
from orescope.instances.threshwater import (
    split_touching,
    threshwater_instances,
    typical_radius_px,
)

__all__ = [
    "connected_components",
    "decode_border_core",
    "encode_border_core",
    "foreground_mask",
    "otsu_instances",
    "remove_small",
    "split_touching",
    "threshwater_instances",
    "typical_radius_px",
]
