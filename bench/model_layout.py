"""Forward time of each zoo model with its weights in PyTorch's default (NCHW) layout and in
the channels-last layout that `load_model` uses, on batches of 256² tiles, and the largest
difference of their outputs; and the training rate of each zoo architecture from scratch in
both layouts (the config's ``channels_last``). Writes bench/results/model_layout.json.

    python bench/model_layout.py [--batch 4] [--train-batch 8] [--repeats 7]
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


def training_patches_per_second(
    network: torch.nn.Module, batch: torch.Tensor, classes: int, repeats: int
) -> float:
    """Patches per second of forward, cross-entropy, backward and an Adam step (best of
    ``repeats`` after one warm-up step)."""
    optimizer = torch.optim.Adam(network.parameters(), 1e-3)
    targets = torch.randint(0, classes, (len(batch), *batch.shape[2:]))
    network.train()
    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(network(batch), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - started)
    return len(batch) / min(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    results = {}
    for name in zoo_names():
        loaded = load_model(name)
        card, channels_last = loaded.card, loaded.network
        batch = torch.randn(args.batch, card.in_channels, 256, 256)
        default = card.architecture.build(card.in_channels, card.classes)
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
        patches = torch.randn(args.train_batch, card.in_channels, 256, 256)
        for layout, key in ((torch.contiguous_format, "nchw"), (torch.channels_last, "last")):
            torch.manual_seed(0)
            network = card.architecture.build(card.in_channels, card.classes)
            network = network.to(memory_format=layout)
            rate = training_patches_per_second(
                network, patches.contiguous(memory_format=layout), card.classes, args.repeats // 2
            )
            results[name][f"train_{key}_patches_per_s"] = rate
        print(
            f"{name} ({card.architecture.name}-{card.architecture.encoder}) training, batch "
            f"{args.train_batch}: NCHW {results[name]['train_nchw_patches_per_s']:.2f} patches/s,"
            f" channels-last {results[name]['train_last_patches_per_s']:.2f}"
        )
    out = ROOT / "bench" / "results" / "model_layout.json"
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
