"""Write a section model card's reference colours and reference saturation anew, from the
training data of the card's latest round: for cards written before `orescope train` recorded the
saturation that colour calibration divides out.

    python tools/card_colours.py src/orescope/zoo/lumenstone [--data ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from orescope.preprocess.colour import colour_reference
from orescope.train.config import DataSource
from orescope.train.data import load_source
from orescope.zoo import CARD_FILE, read_card, write_card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="model folder (card.yaml + weights)")
    parser.add_argument(
        "--data", type=Path, help="folder holding the card's data sets, if they moved"
    )
    args = parser.parse_args()
    card = read_card(args.model / CARD_FILE)
    photos = []
    latest = card.training.rounds[-1].data if card.training.rounds else []
    for entry in latest:
        source = DataSource(**entry)
        if args.data is not None and source.path:
            source.path = str(args.data / Path(source.path).name)
        photos += [(item.image[..., :3], item.labels) for item in load_source(source, None)]
    if not photos:
        raise SystemExit(f"{args.model}: the card names no training data")
    colours, saturation = colour_reference(photos)
    write_card(
        args.model / CARD_FILE,
        card.model_copy(update={"reference_colours": colours, "reference_saturation": saturation}),
    )
    print(f"{args.model}: {len(photos)} training photos, reference saturation {saturation}")


if __name__ == "__main__":
    main()
