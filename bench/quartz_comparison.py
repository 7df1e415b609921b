"""Paper 001's comparison on our thin sections: PSPNet, U-Net, FPN and LinkNet (ResNet18,
trained alike by bench/train_quartz_comparison.sh) scored on quartz against the rest of the
held-out images — accuracy, precision, recall (= sensitivity), F1, specificity, AUC, IoU —
with their training curves and a radar chart (paper 001 Fig. 13).

Writes bench/results/quartz_comparison.json, quartz_radar.png and quartz_curves.png, and prints
a Markdown table for the README.

    python bench/quartz_comparison.py [--runs runs/bench]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from section_models import ROOT, evaluate  # noqa: E402

ARCHITECTURES = ("pspnet", "unet", "fpn", "linknet")
HELD_OUT = ["4a", "4b", "7a", "7b"]
SUITE = ("accuracy", "precision", "recall", "f1", "specificity", "auc", "iou")


def radar(scores: dict[str, dict[str, float]], path: Path) -> None:
    """One closed polygon per model over the metric suite."""
    angles = np.linspace(0, 2 * np.pi, len(SUITE), endpoint=False).tolist()
    figure, axes = plt.subplots(figsize=(6, 6), dpi=110, subplot_kw={"polar": True})
    for name, values in scores.items():
        points = [values[k] for k in SUITE]
        axes.plot(angles + angles[:1], points + points[:1], label=name)
        axes.fill(angles + angles[:1], points + points[:1], alpha=0.08)
    axes.set_xticks(angles, SUITE)
    axes.set_ylim(0, 1)
    axes.legend(loc="lower right", bbox_to_anchor=(1.25, -0.05), fontsize=8)
    axes.set_title("quartz vs rest, held-out thin sections")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def curves(histories: dict[str, pd.DataFrame], path: Path) -> None:
    """Training loss and validation mIoU per epoch, one line per model."""
    figure, (loss, miou) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    for name, history in histories.items():
        loss.plot(history["epoch"], history["train_loss"], label=name)
        miou.plot(history["epoch"], history["val_miou"], label=name)
    loss.set(xlabel="epoch", ylabel="training loss (cross-entropy)")
    miou.set(xlabel="epoch", ylabel="validation mIoU (5 classes)")
    miou.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    scores, histories = {}, {}
    for architecture in ARCHITECTURES:
        folder = args.runs / f"thinsection_{architecture}"
        if not (folder / "card.yaml").exists():
            print(f"skipped {architecture}: {folder} holds no trained model")
            continue
        found = evaluate(str(folder), "thinsections", args.data, HELD_OUT, "quartz")
        suite = found["one_vs_rest"]  # None where undefined (e.g. no quartz predicted at all)
        scores[architecture] = {k: np.nan if suite[k] is None else suite[k] for k in SUITE}
        histories[architecture] = pd.read_csv(folder / "history.csv")
    if not scores:
        raise SystemExit("no comparison model found: run bench/train_quartz_comparison.sh first")
    results = ROOT / "bench" / "results"
    radar(scores, results / "quartz_radar.png")
    curves(histories, results / "quartz_curves.png")
    (results / "quartz_comparison.json").write_text(json.dumps(scores, indent=2))
    print("| model | " + " | ".join(SUITE) + " |")
    print("|---" * (len(SUITE) + 1) + "|")
    for name, values in scores.items():
        print(f"| {name} | " + " | ".join(f"{values[k]:.3f}" for k in SUITE) + " |")


if __name__ == "__main__":
    main()
