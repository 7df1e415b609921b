"""A card's training history: its rounds, and the data sources of the last one.

Read from the card's plain YAML, old layouts included, so the docs follow the card schema
without importing ``orescope``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .formatting import code, markdown_table, pct
from .metrics import metric_format, metric_name


def shared_path(path: str) -> str:
    """A data path as the repository sees it: ../shared/data/..., whoever trained."""
    marker = "shared/data/"
    return "../" + marker + path.split(marker, 1)[1] if marker in path else path


def sources_markdown(data: Sequence[dict[str, Any]]) -> str:
    """The training sources of a config: kind, where, what was left out, share of patches."""
    body = []
    for source_ in data:
        extra = []
        if "scale" in source_:
            extra.append(f"resampled ×{source_['scale']:g}")
        if "count" in source_:
            extra.append(f"{source_['count']} scenes, seed {source_.get('seed', '')}")
        scene = source_.get("scene") or {}
        if scene:
            extra.append(", ".join(f"{k} {v}" for k, v in scene.items()))
        vary = source_.get("vary") or {}
        if vary:
            ranges = ", ".join(f"{k} {v[0]:g}–{v[1]:g}" for k, v in vary.items())
            extra.append(f"varied per scene: {ranges}")
        if "stems" in source_:
            extra.append("only " + ", ".join(map(str, source_["stems"])))
        weight = source_.get("weight")
        body.append(
            [
                code(str(source_.get("kind", ""))),
                code(shared_path(str(source_["path"]))) if "path" in source_ else "generated",
                ", ".join(map(str, source_.get("exclude") or [])) or "none",
                pct(weight) if weight is not None else "",
                "; ".join(extra),
            ]
        )
    return markdown_table(["source", "where", "held out", "share of patches", "details"], body)


def training_markdown(training: dict[str, Any]) -> str:
    """How the model was trained. Cards from orescope 0.4 on hold ``description`` and a list
    of ``rounds`` (oldest first); older cards one flat round (command, init, epochs, data)."""
    parts = []
    if training.get("description"):
        parts.append(str(training["description"]))
    rounds = training.get("rounds")
    if rounds:
        body = []
        for number, round_ in enumerate(rounds, 1):
            validation = round_.get("validation") or {}
            scores = ", ".join(
                f"{metric_name(k)} {metric_format(k)(v)}" for k, v in validation.items()
            )
            if scores and round_.get("validation_data"):
                scores += f" ({round_['validation_data']})"
            body.append(
                [
                    str(number),
                    code(str(round_.get("config") or round_.get("command") or "")),
                    str(round_.get("init") or "scratch"),
                    str(round_.get("epochs") or ""),
                    str(round_.get("best_epoch") or ""),
                    str(round_.get("patches_per_epoch") or ""),
                    scores,
                    str(round_.get("notes") or ""),
                ]
            )
        header = [
            "round",
            "command",
            "started from",
            "epochs",
            "best epoch",
            "patches per epoch",
            "validation (kept epoch)",
            "notes",
        ]
        parts.append(markdown_table(header, body))
        if rounds[-1].get("data"):
            parts.append("Data of the last round:\n\n" + sources_markdown(rounds[-1]["data"]))
    else:
        facts = []
        if training.get("command"):
            facts.append(["command", code(str(training["command"]))])
        if "init" in training:
            facts.append(["started from", str(training.get("init") or "scratch")])
        if training.get("epochs") is not None:
            facts.append(["epoch kept (last round)", str(training["epochs"])])
        if facts:
            parts.append(markdown_table(["", "last round"], facts))
        if training.get("data"):
            parts.append("Data of the last round:\n\n" + sources_markdown(training["data"]))
    return "\n\n".join(parts) or "The card records no training."
