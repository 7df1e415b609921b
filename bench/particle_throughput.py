"""End-to-end speed of `predict particles` with the default model against the bare forward
pass over the same tiles, and peak memory on a large image.

1. Throughput: `run_particles` (read, size estimate, tile, model, instances, measurements,
   overlay, tables, report) on synthetic scenes, with its default workers (one process since
   the Dask executor; one per core before) and with one, against the model's forward pass
   alone (torch's default threads) over exactly as many tiles as the run predicted (size
   probes included). Prints them in
   megapixels per second and the ratios (the target is ≥ 0.8). A run also has costs that do
   not grow with its images (the workers' start, the PSD plot and report over all images,
   the last image's wait): the default workers are timed on the scenes twice over as well, and
   the extra scenes' time gives the steady rate of a long run and the run's fixed seconds.
2. Stages: where one worker's time goes on one scene, with one torch and one OpenCV thread
   (as each of the default workers has): the model's forward passes (size probe included),
   the rest of segmentation (normalising, blending, decoding, resampling), measuring, and
   the pictures (`labels.tif`, overlay, its PNG), as seconds per image and shares.
3. Memory: `predict particles` on one WIDTH×HEIGHT mosaic (default 12000×8000) in a child
   process, its peak resident memory (target ≤ 3 GB), for three mosaics: a synthetic scene
   repeated (0.25 mm/px); the real gravel photos of ../shared/data/gravel side by side, at
   which the size estimate shrinks the image; and the same photos with their labelled
   particles' median diameter given as --particle-px, at which the image is enlarged (the
   image the model sees is larger than the file).

    python bench/particle_throughput.py [--scenes 4] [--side 1536] [--big 12000x8000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from orescope.infer.particles import estimate_particle_px
from orescope.io import read_image, read_labels, write_image, write_labels
from orescope.jobs import ParticleConfig, run_particles
from orescope.jobs.parallel import worker_count
from orescope.jobs.particles import psd_summary, segment_particles, shared_model
from orescope.measure import measure_particles
from orescope.preprocess.resample import median_diameter_px, size_scale
from orescope.report import instance_overlay
from orescope.synth import SceneConfig, synthesize_scene, write_scenes
from orescope.zoo import load_model

ROOT = Path(__file__).resolve().parents[1]
GRAVEL = ROOT.parent / "shared" / "data" / "gravel" / "images"
# mosaic name: (tile source, mm per pixel given to the run, whether the particles' true median
# size is given as --particle-px instead of estimated)
MOSAICS = {
    "synthetic": ("synthetic", 0.25, False),
    "real gravel": ("gravel", None, False),
    "real gravel, true median size given": ("gravel", None, True),
}


def bare_forward_seconds(model_name: str, tiles: int, batch_size: int = 4) -> float:
    loaded = load_model(model_name)
    tile = loaded.card.tile
    batch = torch.randn(batch_size, loaded.card.in_channels, tile, tile)
    with torch.inference_mode():
        loaded.network(batch)
        started = time.perf_counter()
        for _ in range(int(np.ceil(tiles / batch_size))):
            loaded.network(batch)
    return time.perf_counter() - started


def throughput(scenes: int, side: int, model: str, repeats: int) -> dict:
    """The run with one worker (in this process) and with the default workers (one process
    per core). Tiles are counted by hooks on the network of the one-worker run, so the bare
    pass sees exactly the pixels of the run: the size probes (one larger input each) and the
    full pass; the hooks also time the model inside that run. Each timing is the fastest of
    ``repeats``: a shared machine adds noise, never speed."""
    config = SceneConfig(height=side, width=side, mm_per_px=0.25, x50_mm=7.0, seed=11)
    loaded = shared_model(model)
    tile_pixels = loaded.card.tile**2
    tiles: list[float] = []
    inside = [0.0, 0.0]  # started, total

    def before(_module: object, _inputs: object) -> None:
        inside[0] = time.perf_counter()

    def after(_module: object, inputs: tuple[torch.Tensor, ...], _output: object) -> None:
        tiles.append(inputs[0][:, 0].numel() / tile_pixels)
        inside[1] += time.perf_counter() - inside[0]

    runs: dict[int | None, list[tuple[float, float]]] = {1: [], None: []}
    doubled: list[float] = []
    forward: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        paths = write_scenes(Path(folder) / "in", config, scenes, progress=False)
        # the same scenes once more under other names: the second half costs what the first
        # does, so the difference of the runs is the steady time of those scenes
        paths += [Path(shutil.copy(path, path.with_name(f"again_{path.name}"))) for path in paths]
        run_particles(paths[:1], Path(folder) / "warm-up", ParticleConfig(model=model), False)
        for repeat in range(repeats):
            started = time.perf_counter()
            settings = ParticleConfig(mm_per_px=0.25, model=model)
            run_particles(paths, Path(folder) / f"twice{repeat}", settings, progress=False)
            doubled.append(time.perf_counter() - started)
            for workers, timings in runs.items():
                hooks = []
                if workers == 1:  # workers are other processes: hooks would count there
                    tiles.clear()
                    inside[1] = 0.0
                    hooks = [
                        loaded.network.register_forward_pre_hook(before),
                        loaded.network.register_forward_hook(after),
                    ]
                started = time.perf_counter()
                out = Path(folder) / f"out{repeat}-{workers}"
                settings = ParticleConfig(mm_per_px=0.25, model=model)
                run_particles(paths[:scenes], out, settings, progress=False, workers=workers)
                timings.append((time.perf_counter() - started, inside[1]))
                for hook in hooks:
                    hook.remove()
            # in each repeat, next to the runs: a shared machine's speed drifts over minutes
            forward.append(bare_forward_seconds(model, round(sum(tiles))))
    counted = round(sum(tiles))
    one_worker, in_run = min(runs[1])
    end_to_end = min(runs[None])[0]
    bare = min(forward)
    megapixels = scenes * side * side / 1e6
    extra = min(doubled) - end_to_end  # the second half's scenes, without the fixed costs
    return {
        "megapixels": megapixels,
        "tiles": counted,
        "workers": worker_count(None, scenes, on_cpu=True),
        "end_to_end_mp_per_s": megapixels / end_to_end,
        "one_worker_mp_per_s": megapixels / one_worker,
        "forward_mp_per_s": megapixels / bare,
        "ratio": bare / end_to_end,
        "ratio_one_worker": bare / one_worker,
        "model_share_of_one_worker_run": in_run / one_worker,
        "steady_mp_per_s": megapixels / extra,
        "ratio_steady": bare / extra,
        "fixed_seconds": end_to_end - extra,
    }


def stage_seconds(side: int, model: str, repeats: int) -> dict:
    """Seconds per stage of one scene in one worker's setting (one torch and one OpenCV
    thread); each stage the fastest of ``repeats``."""
    config = SceneConfig(height=side, width=side, mm_per_px=0.25, x50_mm=7.0, seed=11)
    settings = ParticleConfig(mm_per_px=0.25, model=model)
    network = shared_model(model).network
    inside = [0.0, 0.0]  # started, total

    def before(*_: object) -> None:
        inside[0] = time.perf_counter()

    def after(*_: object) -> None:
        inside[1] += time.perf_counter() - inside[0]

    hooks = [network.register_forward_pre_hook(before), network.register_forward_hook(after)]
    previous = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    best: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = write_scenes(Path(folder) / "in", config, 1, progress=False)[0]
            segment_particles(read_image(path), settings)  # warm-up at one thread
            for _ in range(repeats):
                timings, started = {}, time.perf_counter()
                image = read_image(path)
                timings["read"] = time.perf_counter() - started
                inside[1], started = 0.0, time.perf_counter()
                labels = segment_particles(image, settings)
                timings["model forward"] = inside[1]
                timings["rest of segmentation"] = time.perf_counter() - started - inside[1]
                started = time.perf_counter()
                particles = measure_particles(labels, settings.mm_per_px)
                psd_summary(particles, settings)
                timings["measurements and PSD"] = time.perf_counter() - started
                started = time.perf_counter()
                write_labels(Path(folder) / "labels.tif", labels)
                write_image(Path(folder) / "overlay.png", instance_overlay(image, labels))
                timings["labels.tif and overlay"] = time.perf_counter() - started
                best = {k: min(v, best.get(k, np.inf)) for k, v in timings.items()}
    finally:
        torch.set_num_threads(previous[0])
        cv2.setNumThreads(previous[1])
        for hook in hooks:
            hook.remove()
    total = sum(best.values())
    return {k: {"seconds": v, "share": v / total} for k, v in best.items()}


def mosaic(source: str, height: int, width: int) -> np.ndarray:
    """A height×width image of ``source``'s tiles: a synthetic scene, or the real gravel
    photos side by side."""
    if source == "synthetic":
        tiles = [
            synthesize_scene(SceneConfig(height=1024, width=1024, mm_per_px=0.25, seed=3)).image
        ]
    else:
        tiles = [read_image(path)[..., :3] for path in sorted(GRAVEL.iterdir())]
    side = min(min(t.shape[:2]) for t in tiles)
    tiles = [t[:side, :side] for t in tiles]
    rows, columns = int(np.ceil(height / side)), int(np.ceil(width / side))
    big = np.empty((rows * side, columns * side, 3), np.uint8)
    for n in range(rows * columns):
        row, column = divmod(n, columns)
        big[row * side : (row + 1) * side, column * side : (column + 1) * side] = tiles[
            n % len(tiles)
        ]
    return big[:height, :width]


def gravel_median_px() -> float:
    """The median of the gravel photos' median labelled particle ECD (px)."""
    labels = sorted((GRAVEL.parent / "labels").iterdir())
    return float(np.median([median_diameter_px(read_labels(path)) for path in labels]))


def peak_memory(height: int, width: int, model: str, name: str) -> dict:
    """Peak resident memory of `predict particles` on the mosaic ``name`` (:data:`MOSAICS`),
    in a fresh process; and the factor the size estimate resampled it by."""
    source, mm_per_px, size_given = MOSAICS[name]
    with tempfile.TemporaryDirectory() as folder:
        big = mosaic(source, height, width)
        loaded = shared_model(model)
        assert loaded.card.particle_px is not None
        particle_px = gravel_median_px() if size_given else None
        typical = particle_px or estimate_particle_px(big, loaded)
        scale = size_scale(typical, loaded.card.particle_px)
        write_image(Path(folder) / "big.png", big)
        del big
        code = (
            "import resource, sys, time\n"
            "from orescope.jobs import ParticleConfig, run_particles\n"
            "t = time.perf_counter()\n"
            f"config = ParticleConfig(mm_per_px={mm_per_px!r}, model={model!r}, "
            f"particle_px={particle_px!r})\n"
            "run_particles([sys.argv[1]], sys.argv[2], config, progress=False)\n"
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, str(Path(folder) / "big.png"), str(Path(folder) / "out")],
            capture_output=True,
            text=True,
            check=True,
        )
        seconds, peak_kib = done.stdout.split()[-2:]
    return {
        "height": height,
        "width": width,
        "resampled_by": scale,
        "particle_px_given": particle_px,
        "seconds": float(seconds),
        "peak_gb": int(peak_kib) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--side", type=int, default=1536)
    parser.add_argument("--big", default="12000x8000", help="WIDTHxHEIGHT, or 'none'")
    parser.add_argument("--mosaics", nargs="+", choices=list(MOSAICS), default=list(MOSAICS))
    parser.add_argument(
        "--memory-only", action="store_true", help="only the mosaics' memory (keeps the rest)"
    )
    parser.add_argument("--model", default="particles")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    output = ROOT / "bench" / "results" / "particle_throughput.json"
    results = json.loads(output.read_text()) if args.memory_only else {}
    if not args.memory_only:
        results["throughput"] = throughput(args.scenes, args.side, args.model, args.repeats)
        speed = results["throughput"]
        print(
            f"end to end {speed['end_to_end_mp_per_s']:.3f} MP/s, bare forward "
            f"{speed['forward_mp_per_s']:.3f} MP/s over {speed['tiles']} tiles: "
            f"ratio {speed['ratio']:.2f} with {speed['workers']} workers; one worker "
            f"{speed['one_worker_mp_per_s']:.3f} MP/s, ratio {speed['ratio_one_worker']:.2f}, "
            f"the model's share of its run {speed['model_share_of_one_worker_run']:.0%}"
        )
        print(
            f"{2 * args.scenes} scenes: steady {speed['steady_mp_per_s']:.3f} MP/s, ratio "
            f"{speed['ratio_steady']:.2f}; the run's fixed cost {speed['fixed_seconds']:.2f} s"
        )
        results["stages"] = stage_seconds(args.side, args.model, args.repeats)
        print(f"one worker's stages on one {args.side}² scene (1 thread):")
        for stage, timing in results["stages"].items():
            print(f"  {stage}: {timing['seconds']:.3f} s ({timing['share']:.0%})")
    if args.big != "none":
        width, height = (int(v) for v in args.big.split("x"))
        kept = results.get("memory", {})  # the other mosaics' numbers of an earlier run
        results["memory"] = {name: kept[name] for name in MOSAICS if name in kept}
        for name in args.mosaics:
            memory = peak_memory(height, width, args.model, name)
            results["memory"][name] = memory
            print(
                f"{width}x{height} {name} (resampled by {memory['resampled_by']:.2f}): "
                f"{memory['seconds']:.0f} s, peak memory {memory['peak_gb']:.2f} GB"
            )
    output.write_text(json.dumps(results, indent=2))
    print(f"written {output}")


if __name__ == "__main__":
    main()
