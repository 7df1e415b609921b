"""orescope: images of ore and minerals -> particle sizes, mineral maps and CT particles."""

from orescope.errors import InputError
from orescope.jobs import ParticleConfig, predict_particles, run_particles

__version__ = "0.1.0"
__all__ = ["InputError", "ParticleConfig", "__version__", "predict_particles", "run_particles"]
