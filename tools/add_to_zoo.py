"""Bundle a trained run as a zoo model: its card, and its weights stored as float16 (half the
size; loading casts them back), in src/orescope/zoo/NAME/.

    python tools/add_to_zoo.py runs/thinsection thinsection [--init TEXT] [--description TEXT]

``--init`` says what the run's last round started from when that was the zoo model it replaces
(the round names the zoo model, which will then hold other weights); ``--description`` replaces
the summary of the card's training history.

Then score it on held-out images with `bench/section_models.py ... --write-card` (sections) or
`bench/particle_models.py --write-card` (particles).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from orescope.zoo import WEIGHTS_FILE, ZOO_DIR, LoadedModel, load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="folder written by `orescope train`")
    parser.add_argument("name", help="zoo name")
    parser.add_argument("--init", help="what the run started from, for the card")
    parser.add_argument("--description", help="how the model was trained, for the card")
    args = parser.parse_args()
    loaded = load_model(args.run)
    training = loaded.card.training
    if args.init is not None and training.rounds:
        latest = training.rounds[-1].model_copy(update={"init": args.init})
        training = training.model_copy(update={"rounds": [*training.rounds[:-1], latest]})
    if args.description is not None:
        training = training.model_copy(update={"description": args.description})
    card = loaded.card.model_copy(update={"name": args.name, "training": training})
    folder = LoadedModel(loaded.network, card).save(ZOO_DIR / args.name, half=True)
    size_mb = (folder / WEIGHTS_FILE).stat().st_size / 1e6
    print(f"written {folder} ({size_mb:.1f} MB of weights)")


if __name__ == "__main__":
    main()
