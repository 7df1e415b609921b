"""Kill `predict particles` with SIGKILL at random moments, resume it, and check the outputs.

A batch of synthetic scenes is run once uninterrupted; then, for each of ``--kills`` random
moments (uniform over the uninterrupted run's time), a fresh run into a fresh folder is killed
there and run again with ``--resume``. Prints for each: the images finished at the kill (lines
of manifest.jsonl), the images the resumed run did again (by its own count; never more than
were unfinished), and whether every output file (all but the manifest) has the bytes of the
uninterrupted run's. Writes bench/results/resume.json.

    python bench/resume.py [--images 40] [--kills 10] [--workers 2] [--method threshwater]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orescope.jobs.manifest import MANIFEST
from orescope.synth import SceneConfig, write_scenes

ROOT = Path(__file__).resolve().parents[1]


def checksums(out: Path) -> dict[str, str]:
    """SHA-256 of every output file but the manifest, by its path in ``out``."""
    return {
        str(path.relative_to(out)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(out.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def command(images: Path, out: Path, method: str, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "orescope",
        "predict",
        "particles",
        str(images),
        "--out",
        str(out),
        "--method",
        method,
        "--mm-per-px",
        "0.25",
        "--workers",
        str(workers),
    ]


def finished(out: Path) -> int:
    """Inputs a manifest records as finished (its complete lines but the header)."""
    path = out / MANIFEST
    if not path.exists():
        return 0
    lines = path.read_text().split("\n")[:-1]  # a last line without its newline was cut
    return max(0, len(lines) - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--method", default="threshwater")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    draw = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        scenes = SceneConfig(height=384, width=384, mm_per_px=0.25, seed=10000)
        write_scenes(root / "scenes", scenes, args.images, progress=False)
        images = root / "scenes" / "images"
        started = time.perf_counter()
        whole = root / "whole"
        subprocess.run(command(images, whole, args.method, args.workers), check=True)
        seconds = time.perf_counter() - started
        expected = checksums(whole)
        kills = []
        for kill in range(args.kills):
            out = root / f"killed_{kill}"
            at = draw.uniform(0, seconds)
            child = subprocess.Popen(
                command(images, out, args.method, args.workers),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(at)
            child.kill()
            child.wait()
            done = finished(out)
            resumed = subprocess.run(
                [*command(images, out, args.method, args.workers), "--resume"],
                capture_output=True,
                text=True,
                check=True,
            )
            said = re.search(r"\((\d+) by the earlier run\)", resumed.stderr)
            redone = args.images - (int(said[1]) if said else 0)
            same = checksums(out) == expected
            kills.append(
                {
                    "at_s": at,
                    "finished_at_kill": done,
                    "redone": redone,
                    "only_unfinished_redone": redone == args.images - done,
                    "identical": same,
                }
            )
            print(
                f"killed at {at:5.1f} s: {done:3d} finished, {redone:3d} done again, "
                f"outputs identical: {same} ({resumed.stderr.strip().splitlines()[-1]})"
            )
    result = {
        "images": args.images,
        "workers": args.workers,
        "method": args.method,
        "uninterrupted_s": seconds,
        "kills": kills,
        "all_identical": all(k["identical"] for k in kills),
        "only_unfinished_redone": all(k["only_unfinished_redone"] for k in kills),
    }
    output = ROOT / "bench" / "results" / "resume.json"
    output.write_text(json.dumps(result, indent=2))
    print(
        f"all identical: {result['all_identical']}; only unfinished images done again: "
        f"{result['only_unfinished_redone']}; written {output}"
    )


if __name__ == "__main__":
    main()
