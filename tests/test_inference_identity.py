"""The 2D outputs of the zoo models are byte-for-byte those of orescope 0.4.0's inference code
(commit 796b864, before images and volumes shared one sliding window and one settings
object): the hashes below were recorded with that code on the same inputs. The particle size
estimate is not: it changed on purpose with issue 31 (bench/particle_size_estimate.py)."""

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
        ({"tta": True, "particle_px": 30}, "ad7095c41bd55a1b"),
        ({"scales": [0.8, 1.0, 1.25], "particle_px": 30}, "60e3295db92b9265"),
    ],
)
def test_particle_labels_are_those_of_0_4_0(options, expected):
    image = read_image(SAMPLE)[:300, :400]
    labels = segment_particles(image, ParticleConfig(**options))
    assert labels.dtype == np.uint32 and _digest(labels) == expected


@pytest.mark.realdata
def test_mineral_classes_are_those_of_0_4_0(shared_data):
    samples, _ = load_lumenstone(shared_data / "lumenstone")
    section = samples[0].read_image()[:400, :500]
    classes = segment_section(section, load_model("lumenstone"), MineralConfig(tta=True))
    assert _digest(classes.classes) == "81855192bb2a5424"
