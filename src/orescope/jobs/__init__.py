"""The jobs users run, as functions returning arrays and tables (the CLI is a thin layer)."""

from orescope.jobs.mineral_run import run_minerals
from orescope.jobs.minerals import MineralConfig, MineralResult, predict_minerals
from orescope.jobs.particle_run import RunOutcome, run_particles
from orescope.jobs.particles import ParticleConfig, ParticleResult, predict_particles, psd_summary

__all__ = [
    "MineralConfig",
    "MineralResult",
    "ParticleConfig",
    "ParticleResult",
    "RunOutcome",
    "predict_minerals",
    "predict_particles",
    "psd_summary",
    "run_minerals",
    "run_particles",
]
