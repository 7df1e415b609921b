"""The model zoo: what each model does (``HEADLINES``), its one headline held-out score
from its card, and the zoo table of the models page and the README. A model page
(:mod:`cards`) opens with the same headline."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .formatting import fixed, markdown_table, score
from .results import ROOT, ZOO, PlaceholderError, card, dig


@dataclass(frozen=True)
class Headline:
    """What a zoo model does, and the one held-out score the zoo table shows for it: metric
    ``metric`` of the card's metrics section that starts with ``section`` and carries no
    option (no "with --tta", "edges not refined", "ore type any", ...): the defaults."""

    job: str
    section: str
    metric: str
    label: str
    unit: str = ""  # written after the value, which then has two decimals (e.g. " dB")


HEADLINES: dict[str, Headline] = {
    "particles": Headline(
        "touching particles on a belt or in gravel → one label per particle, sized in mm "
        "(default of `predict particles`)",
        "held-out real gravel",
        "ap50",
        "AP@0.5",
    ),
    "lumenstone": Headline(
        "polished sections in reflected light → mineral map of {classes} classes; reads "
        "absolute colours, so calibrate photos of another microscope (default of "
        "`predict minerals`)",
        "held-out lumenstone",
        "miou",
        "mIoU",
    ),
    "lumenstone_zscore": Headline(
        "the same for photos that cannot be calibrated: each photo normalised by its own "
        "statistics",
        "held-out lumenstone",
        "miou",
        "mIoU",
    ),
    "thinsection": Headline(
        "sandstone thin sections, PPL + XPL → mineral map of {classes} classes",
        "held-out thinsections",
        "miou",
        "mIoU",
    ),
    "ct-particles": Headline(
        "particles of a micro-CT scan in resin → one label per particle in 3D, sized in mm "
        "(default of `predict volume`)",
        "held-out synthetic volumes",
        "f1_match",
        "F1_match",
    ),
    "restore": Headline(
        "wet photos of ore → the dry photo: darkening, glints and water films removed before "
        "particles are measured (default of `restore` and `predict particles --restore`)",
        "wet twins of the synthetic test side",
        "psnr_db",
        "PSNR",
        " dB",
    ),
}
# words that mark a metrics section measured with other than the default settings
VARIANT_MARKERS = (
    "with --",
    "edges not refined",
    "ore type",
    "scales",
    "tta",
    "vs rest",
    "tile",
)


def zoo_names() -> list[str]:
    """The zoo's models, in the order of ``HEADLINES`` (every zoo model must have one)."""
    present = sorted(p.parent.name for p in ZOO.glob("*/card.yaml"))
    missing = [name for name in present if name not in HEADLINES]
    if missing:
        raise PlaceholderError(
            f"zoo model(s) {', '.join(missing)} have no entry in HEADLINES (docs/docgen/models.py)"
        )
    return [name for name in HEADLINES if name in present]


def default_section(metrics: dict[str, dict[str, float]], prefix: str, where: str) -> str:
    """The title of the one metrics section that starts with ``prefix`` and names no option."""
    found = [
        title
        for title in metrics
        if title.startswith(prefix)
        and not any(marker in title.lower() for marker in VARIANT_MARKERS)
    ]
    if len(found) != 1:
        raise PlaceholderError(
            f"{where}: {len(found)} default metrics sections start with {prefix!r} "
            f"(sections: {list(metrics)})"
        )
    return found[0]


def condense(title: str, longest: int = 4) -> str:
    """A section title with a long parenthesised list of images cut to its count and ends:
    "held-out lumenstone (14 images: 03, 09, …, a59), full resolution"."""

    def cut(match: re.Match[str]) -> str:
        items = [item.strip() for item in match[1].split(",")]
        if len(items) <= longest:
            return match[0]
        return f"({len(items)} images: {items[0]}, {items[1]}, …, {items[-1]})"

    return re.sub(r"\(([^()]*)\)", cut, title)


def weights_mb(name: str) -> float:
    """Size of the model's weights file in MB (10⁶ bytes), from the file itself."""
    path = ZOO / name / "model.safetensors"
    if not path.is_file():
        raise PlaceholderError(f"{path.relative_to(ROOT)} is missing")
    return path.stat().st_size / 1e6


def headline(name: str) -> tuple[str, float, str]:
    """(metric label, value, what it was measured on) of a zoo model's headline score."""
    spec = HEADLINES[name]
    metrics = card(name).get("metrics") or {}
    title = default_section(metrics, spec.section, f"card {name}")
    value = dig(metrics, [title, spec.metric], f"card {name}")
    return spec.label, float(value), condense(title)


def headline_value(name: str, value: float) -> str:
    """A headline score as the tables write it: a score's three decimals, or two and a unit."""
    unit = HEADLINES[name].unit
    return f"{fixed(2)(value)}{unit}" if unit else score(value)


def _listed(title: str) -> tuple[set[str], bool]:
    """The items of a title's first parenthesised list, and whether it lists them as
    excluded ("all but ...")."""
    match = re.search(r"\(([^()]*)\)", title)
    if not match:
        return set(), False
    inner = match[1].strip()
    excluded = inner.startswith("all but ")
    items = {item.strip() for item in inner.removeprefix("all but ").split(",")}
    return items, excluded


def chose_epoch_on(name: str, title: str) -> bool:
    """Whether the images of the metrics section ``title`` are also the kept epoch's
    validation images (the last round's ``validation_data``): then its score is a validation
    number. Cards without a recorded validation set say nothing, and count as not."""
    rounds = (card(name).get("training") or {}).get("rounds") or []
    validation = str(rounds[-1].get("validation_data") or "") if rounds else ""
    scored, _ = _listed(title)
    listed, excluded = _listed(validation)
    if not scored or not listed:
        return False
    return not (scored & listed) if excluded else bool(scored & listed)


def job(name: str) -> str:
    """What the model does, with its class count from the card."""
    return HEADLINES[name].job.format(classes=len(card(name).get("class_names") or []))


def zoo(link: str = "{root}models/{name}.md", root: str = "") -> str:
    """The zoo: name (linked to its card or page), job, weights size, and the headline
    held-out score with the data it was measured on. ``link`` is a template with ``{name}``
    (and ``{root}``, the way from the page to the docs root, filled in by the hook);
    the README passes ``README_CARD_LINK``."""
    body = []
    for name in zoo_names():
        label, value, data = headline(name)
        title = default_section(card(name).get("metrics") or {}, HEADLINES[name].section, name)
        target = link.format(name=name, root=root)
        body.append(
            [
                f"[`{name}`]({target})",
                job(name),
                f"{fixed(1)(weights_mb(name))} MB",
                f"{label} {headline_value(name, value)} on {data}"
                + (
                    "; a validation number: these images also chose the kept epoch"
                    if chose_epoch_on(name, title)
                    else ""
                ),
            ]
        )
    return markdown_table(["model", "what it does", "weights", "held-out score (defaults)"], body)
