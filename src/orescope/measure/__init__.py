"""Per-particle measurements in physical units and particle size distributions with fits."""

from orescope.measure.fits import Fit, fit_all, fit_distribution
from orescope.measure.particles import SIZE_MEASURES, measure_particles, spheroid_volume
from orescope.measure.psd import (
    PERCENTILES,
    SizeDistribution,
    default_sieves,
    sieve_table,
    size_distribution,
)
from orescope.measure.summary import psd_tables
from orescope.measure.volume_particles import VOLUME_SIZE_MEASURES, measure_volume_particles

__all__ = [
    "PERCENTILES",
    "SIZE_MEASURES",
    "Fit",
    "SizeDistribution",
    "VOLUME_SIZE_MEASURES",
    "default_sieves",
    "fit_all",
    "fit_distribution",
    "measure_particles",
    "measure_volume_particles",
    "psd_tables",
    "sieve_table",
    "size_distribution",
    "spheroid_volume",
]
