"""Learning curve of a particle model: test AP against the number of real training photos.

Trains the base config again with each real source (gravel, grains, conveyor) narrowed to the
first ⌈f·n⌉ of its train-side photos in sorted order, for each fraction f (0: synthetic scenes
only), at the base config's budget, and scores every run on the test sides as
bench/particle_representations.py does, with the reference's median size given so that the
size estimate does not blur what the data taught (the full run, f = 1, can be given as an
existing run folder). Shows whether more real photos would still pay.

    python bench/particle_learning_curve.py configs/particles_distance.yaml
        [--fractions 0,0.34,0.67] [--full runs/particles_distance]

Writes runs/curve/<name>_<f>/ (the derived config and the run) and
bench/results/particle_learning_curve.json.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from particle_representations import evaluate, side_samples

from orescope.io import load_conveyor, load_gravel
from orescope.io.splits import assign_splits
from orescope.train import read_train_config, train_model
from orescope.train.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
REAL = {"gravel": load_gravel, "grains": load_gravel, "conveyor": load_conveyor}


def narrowed(config: TrainConfig, fraction: float, out: Path) -> tuple[TrainConfig, int]:
    """``config`` with each real train source cut to its first photos; the photos kept."""
    sources, photos = [], 0
    for source in config.train:
        if source.kind not in REAL:
            sources.append(source)
            continue
        assert source.path is not None
        stems = [s.stem for s in REAL[source.kind](source.path)]
        sides = assign_splits(source.kind, stems)
        train = sorted(s for s in stems if sides[s] == "train")
        kept = train[: math.ceil(fraction * len(train))]
        photos += len(kept)
        if kept:
            sources.append(source.model_copy(update={"stems": kept}))
    return config.model_copy(update={"train": sources, "out": str(out)}), photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--fractions", default="0,0.34,0.67")
    parser.add_argument("--full", type=Path, help="an existing run of the whole config (f = 1)")
    parser.add_argument("--scenes", type=int, default=3)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    config = read_train_config(args.config)
    output = ROOT / "bench" / "results" / "particle_learning_curve.json"
    results = json.loads(output.read_text()) if output.exists() else {}
    curve = results.setdefault(config.name + ":" + args.config.stem, {})
    sets = side_samples(args.data, "test", args.scenes)
    runs: list[tuple[float, Path, int]] = []
    for fraction in (float(f) for f in args.fractions.split(",")):
        out = ROOT / "runs" / "curve" / f"{args.config.stem}_{fraction:g}"
        derived, photos = narrowed(config, fraction, out)
        if not (out / "model.safetensors").exists():
            print(f"training f={fraction:g}: {photos} real photos -> {out}", flush=True)
            train_model(
                derived, progress=False, command=f"bench/particle_learning_curve.py {args.config}"
            )
        runs.append((fraction, out, photos))
    if args.full:
        runs.append((1.0, args.full, narrowed(config, 1.0, args.full)[1]))
    for fraction, out, photos in runs:
        point = {"real_photos": photos}
        for data, samples in sets.items():
            given = {"method": "model", "model": str(out), "size_given": True}
            row = evaluate(samples, given, None)
            point[data] = {k: row[k] for k in ("ap50", "ap75", "eta")}
        curve[f"{fraction:g}"] = point
        print(f"f={fraction:g} ({photos} photos):", {k: v for k, v in point.items()}, flush=True)
        output.write_text(json.dumps(results, indent=2))
    print(f"written {output}")


if __name__ == "__main__":
    main()
