"""The 2D outputs of the zoo models are byte-for-byte those of orescope 0.4.0's inference code
(commit 796b864, before images and volumes shared one sliding window and one settings
object): the hashes below were recorded with that code on the same inputs. Two changes of
issue 31 were on purpose: the particle size estimate (bench/particle_size_estimate.py), and an
image normalised by the statistics of its own grid rather than of its resampled copy, so that
the blocks of a large image agree (0.04-0.08 % of the pixels move; the hashes of the particle
labels are re-recorded after it)."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

import orescope
from orescope.io import read_image
from orescope.io.datasets import load_lumenstone
from orescope.jobs.minerals import MineralConfig, segment_section
from orescope.jobs.particles import ParticleConfig, segment_particles
from orescope.zoo import load_model

SAMPLE = next((Path(orescope.__file__).parent / "samples/gravel/images").iterdir())


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"tta": True, "particle_px": 30}, "99b0995a4ddb1dc9"),
        ({"scales": [0.8, 1.0, 1.25], "particle_px": 30}, "b982588379dba5e3"),
    ],
)
def test_particle_labels_are_those_of_0_4_0_but_for_the_normalisation(options, expected):
    image = read_image(SAMPLE)[:300, :400]
    labels = segment_particles(image, ParticleConfig(**options))
    assert labels.dtype == np.uint32 and _digest(labels) == expected


@pytest.mark.realdata
def test_mineral_classes_are_those_of_0_4_0(shared_data):
    samples, _ = load_lumenstone(shared_data / "lumenstone")
    section = samples[0].read_image()[:400, :500]
    classes = segment_section(section, load_model("lumenstone"), MineralConfig(tta=True))
    assert _digest(classes.classes) == "81855192bb2a5424"
