"""Run the README's examples as a newcomer does — ``orescope demo``, ``predict particles`` on the
bundled gravel photo, ``predict minerals`` on a held-out LumenStone photo — and keep what they
printed and measured (results in bench/results/readme_examples.json; the README's example
output is rendered from it by ``python docs/tables.py readme README.md``).

    python bench/readme_examples.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "readme_examples.json"
PHOTO = "src/orescope/samples/gravel/images"
SECTION = (
    "21"  # a held-out copper-nickel photo of LumenStone: pyrrhotite, pentlandite, chalcopyrite
)


def run(arguments: list[str], cwd: Path, shown: str, real: Path) -> str:
    """What ``orescope ARGUMENTS`` printed, without progress bars, with ``real`` paths shown
    as ``shown``; a wide terminal keeps each line whole."""
    command = [sys.executable, "-m", "orescope.cli.main", *arguments]
    environment = {"COLUMNS": "200", "PATH": str(Path(sys.executable).parent)}
    printed = subprocess.run(
        command,
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=True,
    ).stdout
    lines = [line.rstrip() for line in printed.splitlines() if "━" not in line]
    return "\n".join(lines).replace(str(real), shown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        demo = work / "demo-output"
        printed = run(["demo", "--out", str(demo)], work, "demo-output", demo)
        results["demo"] = {
            "command": "orescope demo --out demo-output",
            "printed": printed,
            "gravel_photo": json.loads((demo / "gravel_photo" / "metrics.json").read_text())[
                "mean"
            ],
            "generated_scenes": json.loads((demo / "metrics.json").read_text())["mean"],
        }
        particles = work / "results"
        arguments = ["predict", "particles", str(ROOT / PHOTO), "--out", str(particles)]
        printed = run([*arguments, "--mm-per-px", "0.39"], work, "results", particles)
        summary = pd.read_csv(particles / "summary.csv").set_index("image").loc["all"]
        results["particles"] = {
            "command": f"orescope predict particles {PHOTO} --out results --mm-per-px 0.39",
            "printed": printed,
            "summary": {
                key: summary[key]
                for key in (
                    "particles",
                    "particles_in_psd",
                    "mass_P20_mm",
                    "mass_P50_mm",
                    "mass_P80_mm",
                    "rosin_rammler_x50",
                    "rosin_rammler_n",
                )
            },
        }
        maps = work / "maps"
        photo = args.data / "lumenstone" / "images" / f"{SECTION}.jpg"
        arguments = ["predict", "minerals", str(photo), "--out", str(maps)]
        printed = run([*arguments, "--liberation", "pentlandite"], work, "maps", maps)
        modal = pd.read_csv(maps / SECTION / "modal.csv")
        results["minerals"] = {
            "command": f"orescope predict minerals ../shared/data/lumenstone/images/{SECTION}.jpg "
            "--out maps --liberation pentlandite",
            "printed": printed.replace(str(photo.parent), "../shared/data/lumenstone/images"),
            "modal": modal[modal["pixels"] > 0][["mineral", "area_percent", "grains"]].to_dict(
                "records"
            ),
        }
    OUT.write_text(json.dumps(results, indent=2, default=float) + "\n")
    for result in results.values():
        print(f"$ {result['command']}\n{result['printed']}\n")


if __name__ == "__main__":
    main()
