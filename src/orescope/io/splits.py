"""The one rule that splits every dataset into train, validation and test.

A rule rather than lists in each config, so that every model and bench agrees on which images
were only ever reported, and a new image can never land on two sides. Real images: the samples
are grouped (``Na`` and ``Nb``, two fields of thin-section sample N, are one group) and
stratified (LumenStone's ``aNN`` and ``NN`` series are split separately); in each stratum the
groups are sorted as plain strings, the last fifth (rounded up) is test, the tenth before it
(rounded up) validation, the rest train. Synthetic scenes and volumes: by seed.

>>> assign_splits("gravel", ["1", "2", "3", "4", "5", "6"])
{'1': 'train', '2': 'train', '3': 'train', '4': 'validation', '5': 'test', '6': 'test'}
>>> seed_split(4999), seed_split(5000), seed_split(10000)
('train', 'validation', 'test')
"""

from __future__ import annotations

import math
import string
from collections import defaultdict
from collections.abc import Iterable
from typing import Literal

Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")
TEST_SHARE = 1 / 5  # of each stratum's groups, the last ones
VALIDATION_SHARE = 1 / 10  # the ones just before the test groups
FIRST_SEED: dict[Split, int] = {"train": 0, "validation": 5000, "test": 10000}


def sample_group(kind: str, stem: str) -> str:
    """Samples that must stay on one side: a thin section's two fields ``Na``/``Nb``."""
    if kind == "thinsections":
        return stem.rstrip(string.ascii_letters) or stem
    return stem


def stratum(kind: str, stem: str) -> str:
    """Series split separately, so each side holds both: LumenStone's ``aNN`` and ``NN``."""
    if kind == "lumenstone":
        return stem.rstrip(string.digits)
    return ""


def assign_splits(kind: str, stems: Iterable[str]) -> dict[str, Split]:
    """The side of each stem of a ``kind`` dataset (``gravel``, ``grains``, ``conveyor``,
    ``lumenstone``, ``thinsections``, ``volumes``).

    Raises
    ------
    ValueError
        When a stratum has fewer than three groups: it cannot give each side one.
    """
    stems = sorted(set(stems))
    groups: dict[str, set[str]] = defaultdict(set)
    for stem in stems:
        groups[stratum(kind, stem)].add(sample_group(kind, stem))
    side: dict[tuple[str, str], Split] = {}
    for name, members in groups.items():
        ordered = sorted(members)
        if len(ordered) < 3:
            series = f" series '{name}'" if name else ""
            raise ValueError(
                f"{kind}{series} has {len(ordered)} sample(s): the split rule needs at least 3"
            )
        tests = math.ceil(len(ordered) * TEST_SHARE)
        validations = math.ceil(len(ordered) * VALIDATION_SHARE)
        for index, group in enumerate(ordered):
            from_end = len(ordered) - index
            side[name, group] = (
                "test"
                if from_end <= tests
                else "validation"
                if from_end <= tests + validations
                else "train"
            )
    return {stem: side[stratum(kind, stem), sample_group(kind, stem)] for stem in stems}


def seed_split(seed: int) -> Split:
    """The side of a synthetic scene or volume: seeds below 5000 train, below 10000
    validation, the rest test."""
    if seed < 0:
        raise ValueError(f"seed {seed} is negative")
    return max((s for s in SPLITS if seed >= FIRST_SEED[s]), key=FIRST_SEED.__getitem__)
