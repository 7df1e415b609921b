"""Speed and memory of sliding-window inference on a synthetic panorama.

Builds a small U-Net (MobileNetV3-small encoder, random weights, 3 classes), predicts the class
map of a synthetic uint8 RGB image with `predict_classes` and prints the wall time, seconds per
megapixel, tiles per second and the peak resident memory, with its increase over the baseline
before the call, next to what the full float32 probability map alone would take.

    python bench/tiled_inference.py [--height 8000] [--width 12000] [--tile 256] [--tta]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import segmentation_models_pytorch as smp
import torch

from orescope.infer import predict_classes, tile_starts

CLASSES = 3
MEAN = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
STD = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]


def synthetic_image(height: int, width: int, seed: int, block: int = 509) -> np.ndarray:
    """Noise repeated in blocks: realistic size at the cost of one small random draw."""
    noise = np.random.default_rng(seed).integers(0, 256, (block, block, 3), dtype=np.uint8)
    image = np.empty((height, width, 3), np.uint8)
    for y in range(0, height, block):
        for x in range(0, width, block):
            tile = image[y : y + block, x : x + block]
            tile[:] = noise[: tile.shape[0], : tile.shape[1]]
    return image


def normalise(crop: np.ndarray) -> np.ndarray:
    """ImageNet statistics, per tile."""
    return (crop.transpose(2, 0, 1).astype(np.float32) / 255 - MEAN) / STD


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=8000)
    parser.add_argument("--width", type=int, default=12000)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", type=float, default=0.25)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--tta", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    model = smp.Unet(
        "tu-mobilenetv3_small_100",
        encoder_weights=None,
        classes=CLASSES,
        decoder_channels=(128, 64, 32, 16, 8),
    )
    options = {
        "normalise": normalise,
        "tile": args.tile,
        "overlap": args.overlap,
        "batch_size": args.batch_size,
        "tta": args.tta,
        "device": args.device,
    }
    step = round(args.tile * (1 - args.overlap))
    # Warm-up on one full batch of tiles, so one-off allocations land in the baseline.
    warm_up = synthetic_image(args.tile, args.tile + (args.batch_size - 1) * step, args.seed)
    predict_classes(warm_up, model, **options)
    image = synthetic_image(args.height, args.width, args.seed)
    tiles = len(tile_starts(max(args.height, args.tile), args.tile, step)) * len(
        tile_starts(max(args.width, args.tile), args.tile, step)
    )
    baseline = peak_rss_mb()
    start = time.perf_counter()
    classes = predict_classes(image, model, progress=args.progress, **options)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()

    megapixels = args.height * args.width / 1e6
    passes = 4 if args.tta else 1
    print(f"image            {args.height}×{args.width} ({megapixels:.2f} MP), {tiles} tiles")
    print(
        f"settings         tile {args.tile}, overlap {args.overlap}, batch {args.batch_size}, "
        f"tta {args.tta}, device {args.device}, torch threads {torch.get_num_threads()}"
    )
    print(f"wall time        {seconds:.2f} s")
    print(f"per megapixel    {seconds / megapixels:.3f} s/MP")
    print(f"tiles per second {tiles / seconds:.2f} (model passes per tile: {passes})")
    print(f"peak RSS         {peak:.0f} MB (baseline {baseline:.0f} MB, +{peak - baseline:.0f} MB)")
    print(
        f"for comparison   image {image.nbytes / 2**20:.0f} MB, class map "
        f"{classes.nbytes / 2**20:.0f} MB, full float32 probabilities "
        f"{CLASSES * image.shape[0] * image.shape[1] * 4 / 2**20:.0f} MB"
    )


if __name__ == "__main__":
    main()
