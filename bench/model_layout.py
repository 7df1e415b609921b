"""Forward time of each zoo model with its weights in PyTorch's default (NCHW) layout and in
the channels-last layout that `load_model` uses, on batches of 256² tiles, and the largest
difference of their outputs. Writes bench/results/model_layout.json.

    python bench/model_layout.py [--batch 4] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from orescope.zoo import load_model, zoo_names

ROOT = Path(__file__).resolve().parents[1]


def median_seconds(network: torch.nn.Module, batch: torch.Tensor, repeats: int) -> float:
    """Median of ``repeats`` timed forward passes after one warm-up pass."""
    times = []
    with torch.inference_mode():
        network(batch)
        for _ in range(repeats):
            started = time.perf_counter()
            network(batch)
            times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    results = {}
    for name in zoo_names():
        loaded = load_model(name)
        batch = torch.randn(args.batch, loaded.card.in_channels, 256, 256)
        channels_last = loaded.network
        default = loaded.card.architecture.build(loaded.card.in_channels, loaded.card.classes)
        default.load_state_dict(channels_last.state_dict())
        default.eval()
        with torch.inference_mode():
            difference = (default(batch) - channels_last(batch)).abs().max().item()
        nchw = median_seconds(default, batch, args.repeats)
        last = median_seconds(channels_last, batch, args.repeats)
        results[name] = {
            "nchw_ms": 1000 * nchw,
            "channels_last_ms": 1000 * last,
            "speed_up": nchw / last,
            "max_abs_difference": difference,
        }
        print(
            f"{name}: NCHW {1000 * nchw:.0f} ms, channels-last {1000 * last:.0f} ms per batch of "
            f"{args.batch} (×{nchw / last:.2f}), outputs differ by at most {difference:.1e}"
        )
    out = ROOT / "bench" / "results" / "model_layout.json"
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
