"""orescope: images of ore and minerals -> particle sizes, mineral maps and CT particles.

The top-level names load on first use (PEP 562), so ``import orescope`` stays cheap: torch and
matplotlib are imported only when a job needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orescope.errors import InputError
    from orescope.jobs.mineral_run import run_minerals
    from orescope.jobs.minerals import MineralConfig, predict_minerals
    from orescope.jobs.particle_run import run_particles
    from orescope.jobs.particles import ParticleConfig, predict_particles

__version__ = "0.4.0"

_LAZY = {
    "InputError": "orescope.errors",
    "MineralConfig": "orescope.jobs.minerals",
    "ParticleConfig": "orescope.jobs.particles",
    "predict_minerals": "orescope.jobs.minerals",
    "predict_particles": "orescope.jobs.particles",
    "run_minerals": "orescope.jobs.mineral_run",
    "run_particles": "orescope.jobs.particle_run",
}

__all__ = [
    "InputError",
    "MineralConfig",
    "ParticleConfig",
    "__version__",
    "predict_minerals",
    "predict_particles",
    "run_minerals",
    "run_particles",
]


def __getattr__(name: str) -> Any:
    """Import a top-level name's module on first access and cache the name here."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
