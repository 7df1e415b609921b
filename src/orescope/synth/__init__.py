"""Procedural images with exact ground truth."""

from orescope.synth.particles import Scene, SceneConfig, synthesize_scene
from orescope.synth.writer import write_scenes

__all__ = ["Scene", "SceneConfig", "synthesize_scene", "write_scenes"]
