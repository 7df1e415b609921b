"""The jobs users run, as functions returning arrays and tables (the CLI is a thin layer)."""

from orescope.jobs.particle_run import RunOutcome, run_particles
from orescope.jobs.particles import ParticleConfig, ParticleResult, predict_particles, psd_summary

__all__ = [
    "ParticleConfig",
    "ParticleResult",
    "RunOutcome",
    "predict_particles",
    "psd_summary",
    "run_particles",
]
