"""Which ore type a section is, read from the model's own probabilities.

A section holds the minerals of one ore type, its assemblage: a copper-nickel sulfide ore
(pyrrhotite, pentlandite, chalcopyrite, magnetite) has no galena, a complex ore no pentlandite.
A model trained on several types can mistake a mineral of one for a look-alike of another
(pyrite for pyrrhotite in a dim photo). Over a whole photo the mistakes are a minority, so the
type whose own minerals hold the most probability is the section's, and each pixel is then given
the most probable of that type's classes (bench/section_models.py --ore-type).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from orescope.infer.sliding_window import class_index_among


class OreTypeVote:
    """A ``reduce`` for :func:`~orescope.infer.sliding_window.predict_classes`: each band of
    probabilities becomes one class map per ore type (T×h×w uint8), and every type's evidence,
    the probability its own classes hold, is added up. After the last band, :meth:`decide`
    keeps the map of the type with the most.

    ``types`` gives each type's class indices (the background among them). Classes that every
    type holds are no evidence for any, so they are left out of the sums. ``counted`` (rows,
    columns) limits the evidence to that window of the bands, which come top to bottom: the
    core of a block seen with a halo, so that a section predicted in blocks counts each pixel
    once; its blocks' tallies are then summed (:meth:`tallied`) and the decision applied.
    """

    def __init__(
        self, types: Mapping[str, Sequence[int]], counted: tuple[slice, slice] | None = None
    ) -> None:
        if not types:
            raise ValueError("no ore types to choose among")
        self.types = {name: list(classes) for name, classes in types.items()}
        self.names = list(types)
        self.counted = counted
        self._reduces = [class_index_among(classes) for classes in types.values()]
        common = set.intersection(*(set(classes) for classes in types.values()))
        self._own = [np.array(sorted(set(c) - common), dtype=np.intp) for c in types.values()]
        self.evidence = np.zeros(len(types), dtype=np.float64)
        self._row = 0  # the first row of the next band

    def counting(self, counted: tuple[slice, slice]) -> OreTypeVote:
        """A new vote among the same types whose evidence is that of the window ``counted``."""
        return OreTypeVote(self.types, counted)

    def tallied(self, tallies: Sequence[np.ndarray]) -> OreTypeVote:
        """A new vote among the same types holding the sum of ``tallies``, the evidence of
        votes over the parts of one section (added in their order: the sum is exact to the
        bit whatever order the parts were predicted in)."""
        vote = OreTypeVote(self.types)
        for evidence in tallies:
            vote.evidence += evidence
        return vote

    def __call__(self, probabilities: np.ndarray) -> np.ndarray:
        counted = probabilities
        if self.counted is not None:
            rows, columns = self.counted
            top, self._row = self._row, self._row + probabilities.shape[1]
            counted = probabilities[:, max(rows.start - top, 0) : max(rows.stop - top, 0), columns]
        totals = counted.sum(axis=(1, 2), dtype=np.float64)  # one pass over the band
        self.evidence += [totals[own].sum() for own in self._own]
        return np.stack([reduce(probabilities) for reduce in self._reduces])

    def shares(self) -> dict[str, float]:
        """Each type's part of the evidence so far (all equal before any)."""
        total = self.evidence.sum()
        if total <= 0:
            return dict.fromkeys(self.names, 1 / len(self.names))
        return {
            name: float(value / total)
            for name, value in zip(self.names, self.evidence, strict=True)
        }

    def decide(self, maps: Any) -> tuple[str, np.ndarray]:
        """The winning type and its class map, from the T×H×W maps the bands were reduced to
        (an array, or a zarr array the map is read from)."""
        if maps.shape[0] != len(self.names):
            raise ValueError(f"expected {len(self.names)} class maps, got {maps.shape[0]}")
        best = int(np.argmax(self.evidence))
        return self.names[best], np.asarray(maps[best])
