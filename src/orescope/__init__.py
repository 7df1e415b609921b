"""orescope: images of ore and minerals -> particle sizes, mineral maps and CT particles."""

from orescope.errors import InputError
from orescope.jobs import (
    MineralConfig,
    ParticleConfig,
    predict_minerals,
    predict_particles,
    run_minerals,
    run_particles,
)

__version__ = "0.1.0"
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
