"""Wet-ore restoration measured on pictures and on particles (issue 32, paper 004): wet twins
(``orescope synth wet``'s physics) of the test side of the synthetic scenes and of the real
particle sets, restored by each method, scored against the dry image (PSNR, SSIM) and, with
the default particle model, against the particles (AP@0.5, F1_match, P50 error) beside the
same model on the wet and on the dry image, with each method's seconds per image (results in
bench/results/restore_methods.json).

    python bench/restore_methods.py [--split test] [--scenes 8] [--data ../shared/data]
        [--model NAME=MODEL ...]

Methods: ``inpaint`` (the classical baseline), and each ``--model`` (zoo name or folder;
default: the zoo's ``restore``, and plain pix2pix trained by configs/restore_pix2pix.yaml
into runs/restore_pix2pix where that run exists).

Each image's wetness is drawn uniformly from 0.2 to 1 with the seed of its place in its set
(test: from 10000), so every method sees the same wet images. A wet image that does not cost
the particle model at least 15 % of its dry AP@0.5 is not wet enough (the issue's check on the
synthesis); a restoration should bring the AP back within 5 % of the dry one.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from particle_representations import Sample, score  # the particle scores every bench uses

from orescope.infer.restoration import INPAINT, restore_photo
from orescope.io import load_conveyor, load_gravel
from orescope.io.images import to_uint8_rgb
from orescope.io.splits import FIRST_SEED, Split, assign_splits
from orescope.jobs import ParticleConfig
from orescope.metrics import psnr, ssim
from orescope.synth import SceneConfig, synthesize_scene, wet_image
from orescope.zoo import resolve_model_dir
from orescope.zoo.card import CARD_FILE, read_card, write_card

ROOT = Path(__file__).resolve().parents[1]
WETNESS = (0.2, 1.0)
PARTICLE_SCORES = ("ap50", "f1_match", "count_P50_error")


def test_sets(data: Path, split: Split, scenes: int) -> dict[str, list[Sample]]:
    """The ``split`` side of the synthetic scenes and of the real particle sets."""
    sets: dict[str, list[Sample]] = {"synthetic": []}
    config = SceneConfig(height=512, width=512, mm_per_px=0.25, x50_mm=7.0)
    for index in range(scenes):
        seed = FIRST_SEED[split] + index
        made = synthesize_scene(config.model_copy(update={"seed": seed}))
        sets["synthetic"].append(Sample(f"seed {seed}", made.image, made.labels, made.mm_per_px))
    for kind, loader in (("gravel", load_gravel), ("conveyor", load_conveyor)):
        loaded = loader(data / kind)
        sides = assign_splits(kind, [s.stem for s in loaded])
        sets[kind] = [
            Sample(s.stem, *s.read_pair(), s.mm_per_px, s.sparse)
            for s in loaded
            if sides[s.stem] == split
        ]
    return sets


Restorer = Callable[[np.ndarray], np.ndarray]


def measure(samples: list[Sample], split: Split, methods: dict[str, Restorer]) -> dict:
    """Mean picture and particle scores of the dry, wet and restored versions of ``samples``
    and each method's mean seconds per image; and each image's wetness and scores (how the
    methods fare from damp to flooded)."""
    rows: dict[str, list[dict]] = {name: [] for name in ("dry", "wet", *methods)}
    per_image = []
    for index, sample in enumerate(samples):
        rng = np.random.default_rng(FIRST_SEED[split] + index)
        dry = to_uint8_rgb(sample.image)
        wetness = float(rng.uniform(*WETNESS))
        wet = wet_image(dry, sample.truth, wetness, rng)
        versions = {"dry": dry, "wet": wet}
        seconds = {}
        for name, method in methods.items():
            started = time.perf_counter()
            versions[name] = method(wet)
            seconds[name] = time.perf_counter() - started
        config = ParticleConfig(mm_per_px=sample.mm_per_px)
        for name, image in versions.items():
            found = score(
                Sample(sample.name, image, sample.truth, sample.mm_per_px, sample.sparse), config
            )
            pictures = (
                {"psnr_db": psnr(dry, image), "ssim": ssim(dry, image)} if name != "dry" else {}
            )
            timing = {"seconds": seconds[name]} if name in seconds else {}
            rows[name].append(
                {k: found.get(k, np.nan) for k in PARTICLE_SCORES} | pictures | timing
            )
        per_image.append(
            {"name": sample.name, "wetness": wetness}
            | {
                name: {k: v for k, v in found[-1].items() if k != "seconds"}
                for name, found in rows.items()
            }
        )
    means = {
        name: {k: float(np.nanmean([row[k] for row in found])) for k in found[0]}
        for name, found in rows.items()
    }
    dry_ap = means["dry"]["ap50"]
    for name in rows.keys() - {"dry"}:
        means[name]["ap50_loss_vs_dry"] = 1 - means[name]["ap50"] / dry_ap if dry_ap else np.nan
    return means | {"images": len(samples), "per_image": per_image}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("validation", "test"), default="test")
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/restore_methods.json")
    parser.add_argument(
        "--model", action="append", default=[], help="NAME=MODEL, a restoration model to compare"
    )
    parser.add_argument(
        "--write-card", action="store_true", help="the zoo model's test scores onto its card"
    )
    args = parser.parse_args()
    models = dict(item.split("=", 1) for item in args.model)
    if not models:
        models = {"restore": "restore"}
        if (ROOT / "runs/restore_pix2pix/card.yaml").exists():
            models["pix2pix"] = str(ROOT / "runs/restore_pix2pix")
    methods: dict[str, Restorer] = {"inpaint": lambda image: restore_photo(image, INPAINT)}
    for name, model in models.items():
        methods[name] = lambda image, model=model: restore_photo(image, model)
    results: dict = {"split": args.split, "wetness": list(WETNESS), "models": models, "sets": {}}
    for name, samples in test_sets(args.data, args.split, args.scenes).items():
        results["sets"][name] = measure(samples, args.split, methods)
        print(name, json.dumps(results["sets"][name], indent=1))
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    if args.write_card and args.split == "test":
        record_on_card(results)


def record_on_card(results: dict) -> None:
    """The zoo model's scores on each test set (pictures against the dry image, and the
    default particle model's on what it restored) onto its card."""
    folder = resolve_model_dir("restore")
    card = read_card(folder / CARD_FILE)
    for name, found in results["sets"].items():
        data = f"wet twins of the {name} test side ({found['images']} images, wetness 0.2-1)"
        card.metrics[data] = {k: v for k, v in found["restore"].items() if not np.isnan(v)}
    write_card(folder / CARD_FILE, card)
    print(f"scores written to {folder / CARD_FILE}")


if __name__ == "__main__":
    main()
