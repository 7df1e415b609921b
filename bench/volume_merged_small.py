"""Why the merged particles without a core of their own stay merged: for each, on the validation
volumes of bench/volume_core_split.py decoded with the defaults, how thick the particle's
outline is at its contact with the particles it was merged into, and how sure the model was of
a core in it. A diagnosis only: no choice is made on it (results in
bench/results/volume_merged_small.json).

    python bench/volume_merged_small.py [--cache runs/volume_core_split]

A particle is such a one when more than half of it lies inside a predicted particle that holds
another reference particle too (paper 002's merger sets) and no seed voxel lies in it. Its
``outline ratio`` is the one a cut is judged by (orescope.instances.core_split): the distance
to the outside of the model's particle voxels (holes filled) at the thickest voxel of its
contact with its partners (voxels of it next to theirs, 26-connected), over the same at its
own thickest voxel. At most ``OUTLINE_RATIO``, the particle mask has a neck there that a cut
could follow; above it, the particle is a bulge of its partner's outline, which no decoding
of the particle voxels can tell apart. ``core_peak`` is the model's highest P(core) in it:
above the seed threshold, a seed that was dropped as too small; below, none.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

from orescope.instances.border_core import decode_core_map
from orescope.instances.core_split import OUTLINE_RATIO, outline_distance
from orescope.instances.decode import CoreDecoding
from orescope.metrics import merger_sets, overlap
from orescope.zoo import load_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from volume_core_split import ROOT, cached_maps, seeds_of  # noqa: E402

PAD_PX = 8  # room around a particle for its partners' voxels and its outline
AROUND = ndimage.generate_binary_structure(3, 3)  # 26-connected neighbours


def merged_unseeded(
    truth: np.ndarray, labels: np.ndarray, seeds: np.ndarray
) -> list[tuple[int, list[int]]]:
    """(reference id, ids of the others in its merger set) of every merged reference particle
    with no seed voxel in it."""
    truth_ids = np.unique(truth[truth > 0])
    seeded = np.isin(truth_ids, truth[seeds > 0])
    return [
        (int(truth_ids[member]), [int(truth_ids[m]) for m in members if m != member])
        for members in merger_sets(overlap(truth, labels))
        for member in members
        if not seeded[member]
    ]


def describe(
    particle: int, partners: list[int], truth: np.ndarray, particle_map: np.ndarray
) -> dict[str, float]:
    """Size, outline and contact thickness, outline ratio and core peak of one particle."""
    box = ndimage.find_objects((truth == particle).astype(np.uint8))[0]
    pad = tuple(slice(max(b.start - PAD_PX, 0), b.stop + PAD_PX) for b in box)
    mine = truth[pad] == particle
    others = np.isin(truth[pad], partners)
    distance = outline_distance(particle_map[pad] > 0)
    contact = mine & ndimage.binary_dilation(others, AROUND)
    thickest = float(distance[mine].max())
    at_contact = float(distance[contact].max()) if contact.any() else 0.0
    return {
        "voxels": int(mine.sum()),
        "outline_px": thickest,
        "contact_px": at_contact,
        "outline_ratio": at_contact / thickest if thickest else 0.0,
        "touching": bool(contact.any()),
        "core_peak": float((particle_map[pad][mine].max() - 1) / 254),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=ROOT / "runs/volume_core_split")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/volume_merged_small.json")
    args = parser.parse_args()
    loaded = load_model("ct-particles")
    decoding = CoreDecoding.for_volume(loaded.card.particle_px)  # the defaults
    found = []
    for name, particle_map, truth in cached_maps(loaded, args.cache):
        labels = decode_core_map(
            particle_map,
            decoding.core_threshold,
            decoding.min_core_px,
            decoding.min_area_px,
            decoding.split_h_px,
        )
        seeds = seeds_of(
            particle_map, decoding.min_core_px, decoding.split_h_px, None, OUTLINE_RATIO
        )
        for particle, partners in merged_unseeded(truth, labels, seeds):
            found.append({"volume": name, **describe(particle, partners, truth, particle_map)})
    touching = [f for f in found if f["touching"]]
    cored = [f for f in found if f["core_peak"] > decoding.core_threshold]
    necked = [f for f in touching if f["outline_ratio"] <= OUTLINE_RATIO]
    results = {
        "decoding": {"split_h_px": decoding.split_h_px, "min_core_px": decoding.min_core_px},
        "outline_ratio_limit": OUTLINE_RATIO,
        "core_threshold": decoding.core_threshold,
        "particles": len(found),
        "median_voxels": float(np.median([f["voxels"] for f in found])),
        "median_outline_px": float(np.median([f["outline_px"] for f in found])),
        "not touching a partner": len(found) - len(touching),
        "outline neck at the contact": len(necked),
        "no outline neck at the contact": len(touching) - len(necked),
        "core peak above the seed threshold": len(cored),
        "median core peak": float(np.median([f["core_peak"] for f in found])),
        "each": sorted(found, key=lambda f: f["outline_ratio"]),
    }
    print({k: v for k, v in results.items() if k != "each"})
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
