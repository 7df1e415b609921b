"""Whether a change to `orescope stitch` made it slower: the 25-field job of
bench/stitch_fields.py (5 × 5 fields of 1698×1273, grid prior, rigid model, seams), its wall
and CPU time (the one other work on the machine moves least) measured for one tree's code
(``--this``, this tree's by default) and another's (``--reference``, e.g. an export of an
earlier commit), in child processes taking turns, so that both see the same load from other
work on the machine. Writes bench/results/stitch_fields_timing.json (or --out).

    git archive COMMIT src | tar -x -C /tmp/reference
    OMP_NUM_THREADS=1 python bench/stitch_timing.py --reference /tmp/reference/src
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stitch_fields import (  # noqa: E402
    COLUMNS,
    HEIGHT,
    MARGIN,
    OVERLAP,
    ROOT,
    ROWS,
    WIDTH,
    cut_fields,
    section,
    stitch_in_child,
)

CONFIG = {"model": "rigid", "grid": [5, 5], "overlap": 0.2}


def timed(fields: Path, out: Path, source_tree: Path) -> dict:
    """One run of the job with the package in ``source_tree`` first on the path."""
    measured = stitch_in_child(fields / "fields", out, fields / "blank.png", CONFIG, source_tree)
    return {**measured, "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--this", type=Path, default=ROOT / "src", help="the tree's src/")
    parser.add_argument("--reference", type=Path, required=True, help="the other tree's src/")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "stitch_fields_timing.json"
    )
    args = parser.parse_args()
    height = int(2 * MARGIN + HEIGHT * (1 + (ROWS - 1) * (1 - OVERLAP)))
    width = int(2 * MARGIN + WIDTH * (1 + (COLUMNS - 1) * (1 - OVERLAP)))
    trees = {"this": args.this.resolve(), "reference": args.reference.resolve()}
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as folder:
        cut_fields(section(args.data, height, width), Path(folder) / "fields")
        for round_ in range(args.rounds):
            for name, tree in trees.items():
                runs[name].append(timed(Path(folder), Path(folder) / f"{name}{round_}", tree))
                print(name, runs[name][-1])
    result: dict = {
        "job": "5 × 5 fields of 1698×1273, --grid 5x5, --model rigid, seams",
        "cpus": os.cpu_count(),
        "rounds": args.rounds,
        "runs": runs,
    }
    for measure in ("wall_s", "cpu_s"):  # CPU time: what other work on the machine moves least
        median = {name: float(np.median([r[measure] for r in done])) for name, done in runs.items()}
        result[f"median_{measure}"] = median
        result[f"this_over_reference_{measure}"] = median["this"] / median["reference"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
