"""One entry point for every segmentation network: a name in, a logits model out.

Adding an architecture is one module and one line in `_BUILDERS`. smp, timm and MONAI are
imported by the builders that need them, not here: each brings torchvision (and MONAI all of
itself), memory a volume job that builds only `unet3d` should not pay.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from orescope.models.ra_unetpp import RAUNetPlusPlus
from orescope.models.unet3d import UNet3d

__all__ = [
    "DISCRIMINATORS",
    "ENCODERLESS",
    "IMAGE_TO_IMAGE",
    "MODEL_NAMES",
    "SIZE_DIVISOR",
    "VOLUME_MODELS",
    "build_model",
    "channels_last_format",
]

SIZE_DIVISOR = 32
"""Input height and width must be multiples of this (five stride-2 stages in smp encoders)."""

Builder = Callable[..., nn.Module]


def _first_line(err: BaseException) -> str:
    # KeyError's str() adds quotes; its argument is the message.
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


def _known_encoder(encoder: str) -> bool:
    import segmentation_models_pytorch as smp
    import timm

    if encoder.startswith("tu-"):
        timm_name = encoder.removeprefix("tu-")
        # Hub references ("hf-hub:org/model") are left for timm itself to resolve.
        return ":" in timm_name or timm.is_model(timm_name)
    return encoder in smp.encoders.get_encoder_names()


def _build_smp(
    architecture_name: str,
    *,
    in_channels: int,
    classes: int,
    encoder: str,
    encoder_weights: str | None,
    **kwargs: Any,
) -> nn.Module:
    import segmentation_models_pytorch as smp

    architecture = getattr(smp, architecture_name)
    for option in ("activation", "aux_params"):
        if kwargs.get(option) is not None:
            raise ValueError(f"{option} is not supported: every model returns raw logits only")
    if not _known_encoder(encoder):
        choices = ", ".join(smp.encoders.get_encoder_names())
        raise ValueError(
            f"unknown encoder {encoder!r}; choose 'tu-<name from timm.list_models()>' or one of: "
            f"{choices}"
        )
    try:
        return architecture(
            encoder_name=encoder,
            encoder_weights=encoder_weights,
            in_channels=in_channels,
            classes=classes,
            **kwargs,
        )
    except (KeyError, RuntimeError) as err:  # smp/timm report bad names and weights this way
        raise ValueError(
            f"cannot build {architecture.__name__} with encoder {encoder!r} and encoder_weights "
            f"{encoder_weights!r}: {_first_line(err)}"
        ) from err


def _own_encoder(name: str, build: Builder) -> Builder:
    """A builder for an architecture with an encoder of its own: ``encoder`` is ignored (its
    size is set by its own options) and pretrained ``encoder_weights`` are refused."""

    def builder(
        *, in_channels: int, classes: int, encoder: str, encoder_weights: str | None, **kwargs: Any
    ) -> nn.Module:
        if encoder_weights is not None:
            raise ValueError(
                f"{name} has its own encoder and no pretrained weights; got encoder_weights="
                f"{encoder_weights!r}, use None"
            )
        return build(in_channels=in_channels, classes=classes, **kwargs)

    return builder


def _build_restoration(name: str, **kwargs: Any) -> nn.Module:
    from orescope.models import restoration

    build: Builder = getattr(restoration, f"build_{name}")
    return build(**kwargs)


_BUILDERS: dict[str, Builder] = {
    "unet": partial(_build_smp, "Unet"),
    "unetplusplus": partial(_build_smp, "UnetPlusPlus"),
    "pspnet": partial(_build_smp, "PSPNet"),
    "fpn": partial(_build_smp, "FPN"),
    "linknet": partial(_build_smp, "Linknet"),
    "upernet": partial(_build_smp, "UPerNet"),
    "deeplabv3plus": partial(_build_smp, "DeepLabV3Plus"),
    "ra_unetpp": _own_encoder("ra_unetpp", RAUNetPlusPlus),
    "unet3d": _own_encoder("unet3d", UNet3d),
    "restore_unet": _own_encoder("restore_unet", partial(_build_restoration, "restore_unet")),
    "pix2pix": _own_encoder("pix2pix", partial(_build_restoration, "pix2pix")),
    "patchgan": _own_encoder("patchgan", partial(_build_restoration, "patchgan")),
}
ENCODERLESS = ("ra_unetpp", "unet3d", "restore_unet", "pix2pix", "patchgan")  # own encoders
VOLUME_MODELS = ("unet3d",)  # B x C x D x H x W in and out; the rest take images
IMAGE_TO_IMAGE = ("restore_unet", "pix2pix")  # images out (restoration), not logits
DISCRIMINATORS = ("patchgan",)  # score (condition, image) pairs; they train generators

MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def build_model(
    name: str,
    *,
    in_channels: int = 3,
    classes: int = 1,
    encoder: str = "resnet18",
    encoder_weights: str | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build segmentation network `name`; it maps B x in_channels x H x W to raw logits
    B x classes x H x W, for H and W multiples of `SIZE_DIVISOR`.

    The smp architectures take any smp encoder (`resnet18`, `efficientnet-b0`, ...) or a timm one
    as `tu-<timm name>` (e.g. `tu-mobilenetv3_small_100`). `encoder_weights=None` (the default)
    initialises at random and needs no network; `encoder_weights="imagenet"` downloads pretrained
    encoder weights, an option for users with a network connection. `ra_unetpp`, `unet3d`
    (volumes: B x C x D x H x W of any size) and the restoration networks (`restore_unet`,
    `pix2pix`: images out; `patchgan`: a discriminator of image pairs) ignore `encoder` and
    take no `encoder_weights`.
    Other keyword arguments go to the architecture (e.g. `decoder_channels` for smp models,
    `widths` for ra_unetpp, `features` for unet3d, `channels` for the restoration networks).

    Raises ValueError, with one line naming the problem and the valid choices, for an unknown
    name or encoder, unknown weights, or a channel count below 1.
    """
    builder = _BUILDERS.get(name)
    if builder is None:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODEL_NAMES)}")
    for label, value in (("in_channels", in_channels), ("classes", classes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be an integer >= 1, got {value!r}")
    return builder(
        in_channels=in_channels,
        classes=classes,
        encoder=encoder,
        encoder_weights=encoder_weights,
        **kwargs,
    )


def channels_last_format(network: nn.Module) -> torch.memory_format:
    """The channels-last layout that PyTorch's CPU convolutions run fastest in: of images
    (4D weights) or, for a network of volumes (5D weights), of volumes."""
    volumetric = any(weight.ndim == 5 for weight in network.parameters())
    return torch.channels_last_3d if volumetric else torch.channels_last
