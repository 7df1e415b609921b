"""Procedural images and volumes with exact ground truth."""

from orescope.synth.particles import Scene, SceneConfig, synthesize_scene
from orescope.synth.volumes import SyntheticVolume, VolumeConfig, synthesize_volume, write_volumes
from orescope.synth.wet import wet_image
from orescope.synth.writer import write_scenes, write_wet_pairs

__all__ = [
    "Scene",
    "SceneConfig",
    "SyntheticVolume",
    "VolumeConfig",
    "synthesize_scene",
    "synthesize_volume",
    "write_scenes",
    "write_volumes",
    "write_wet_pairs",
    "wet_image",
]
