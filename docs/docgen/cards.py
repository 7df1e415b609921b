"""A zoo model's page, rendered from its card: job and headline, architecture, inputs,
classes and their colours, ore types, training history and every metrics section."""

from __future__ import annotations

from collections.abc import Sequence

from .formatting import code, fixed, markdown_table
from .metrics import metrics_markdown
from .models import (
    HEADLINES,
    chose_epoch_on,
    default_section,
    headline,
    headline_value,
    job,
    weights_mb,
)
from .results import card, constants
from .training import training_markdown


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{round(c):02x}" for c in rgb)


def swatch(rgb: Sequence[float]) -> str:
    """A small square of the colour and its hex code."""
    colour = _hex(rgb)
    return (
        f'<span style="display:inline-block;width:1em;height:1em;background:{colour};'
        f'border:1px solid #888;vertical-align:middle"></span> `{colour}`'
    )


CHANNELS = {1: "grey", 3: "RGB", 6: "PPL RGB + XPL RGB registered onto PPL"}
NORMALISATION = {
    "image_zscore": "every image by its own channel mean and standard deviation",
    "dataset": "by the training images' channel statistics (the absolute colour counts)",
}
TARGETS = {
    "border_core": "border-core: background, particle core, particle border of {border_px} px",
    "foreground": "foreground: one channel, split into particles afterwards",
    "classes": "classes: one output per class",
    "restore": "restore: the dry image (RGB, −1…1), trained against a PatchGAN discriminator",
}


def card_page(name: str, root: str = "") -> str:
    """A zoo model's page: job, headline, architecture, inputs, classes and colours, ore
    types, training history and every metrics section of its card. ``root``: the way from
    the page to the docs root, for its links."""
    data = card(name)
    architecture = data.get("architecture") or {}
    label, value, measured = headline(name)
    title = default_section(data.get("metrics") or {}, HEADLINES[name].section, name)
    caveat = (
        " These images were also the training run's validation, by which the kept epoch was "
        "chosen: a validation number, slightly optimistic "
        "(see [Data splits]({root}benchmarks/index.md#data-splits))."
        if chose_epoch_on(name, title)
        else ""
    )
    out = [
        f"# `{name}`",
        f"{job(name)[0].upper()}{job(name)[1:]}.",
        f"Held-out score with the default settings: {label} **{headline_value(name, value)}** "
        f"on {measured}." + caveat.format(root=root),
        f"Weights: `src/orescope/zoo/{name}/model.safetensors`, {fixed(1)(weights_mb(name))} MB; "
        f"card: `src/orescope/zoo/{name}/card.yaml`.",
    ]
    options = architecture.get("options") or {}
    rows = [
        ["network", code(str(architecture.get("name")))],
    ]
    encoderless = constants("src/orescope/models/registry.py")["ENCODERLESS"]
    if architecture.get("name") not in encoderless:
        rows += [
            ["encoder", code(str(architecture.get("encoder")))],
            [
                "pretrained encoder weights",
                str(architecture.get("encoder_weights") or "none (from scratch)"),
            ],
        ]
    for key, option in options.items():
        shown = ", ".join(map(str, option)) if isinstance(option, list) else str(option)
        rows.append([f"option `{key}`", shown])
    target = str(data.get("target"))
    rows.append(["output", TARGETS.get(target, target).format(border_px=data.get("border_px"))])
    out += ["## Architecture", markdown_table(["", ""], rows)]

    channels = int(data.get("in_channels", 3))
    normalisation = str(data.get("normalisation", "image_zscore"))
    inputs = [
        [
            "channels",
            f"{channels} ({CHANNELS.get(channels, 'channels')})",
        ],
        ["normalisation", f"`{normalisation}`: {NORMALISATION.get(normalisation, '')}"],
    ]
    if data.get("channel_mean"):
        inputs.append(
            ["channel mean (0–255)", ", ".join(fixed(1)(v) for v in data["channel_mean"])]
        )
        inputs.append(["channel std (0–255)", ", ".join(fixed(1)(v) for v in data["channel_std"])])
    inputs.append(["input scale", f"×{data.get('input_scale', 1.0):g} of the image's resolution"])
    inputs.append(["inference tile", f"{data.get('tile')} px of the model's input"])
    if data.get("particle_px"):
        inputs.append(
            [
                "particle size",
                f"images resampled so their median particle is {data['particle_px']:g} px across",
            ]
        )
    if data.get("reference_saturation"):
        inputs.append(
            ["reference saturation (colour calibration)", fixed(2)(data["reference_saturation"])]
        )
    out += ["## Inputs", markdown_table(["", ""], inputs)]

    classes = data.get("class_names") or []
    colours = data.get("class_colours") or []
    references = {str(k): v for k, v in (data.get("reference_colours") or {}).items()}
    header = ["index", "class"]
    if colours:
        header.append("map colour")
    if references:
        header.append("mean colour in the training images")
    body = []
    for index, class_name in enumerate(classes):
        row = [str(index), class_name]
        if colours:
            row.append(swatch(colours[index]) if index < len(colours) else "")
        if references:
            reference = references.get(str(index))
            row.append(swatch(reference) if reference else "not in the training images")
        body.append(row)
    out += ["## Classes", markdown_table(header, body)]

    ore_types = data.get("ore_types") or {}
    if ore_types:
        out += [
            "## Ore types",
            "`predict minerals --ore-type auto` gives each image the type whose own minerals "
            "hold most of the model's probability; each pixel then gets one of that type's "
            "minerals or the background.",
            markdown_table(
                ["ore type", "minerals"], [[t, ", ".join(m)] for t, m in ore_types.items()]
            ),
        ]
    out += ["## Training", training_markdown(data.get("training") or {})]
    metrics = data.get("metrics") or {}
    if metrics:
        out += [
            "## Metrics",
            "Every score on the card, by the data it was measured on; a column per setting.",
            metrics_markdown(metrics),
        ]
    return "\n\n".join(out)
