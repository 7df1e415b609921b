from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from orescope.errors import InputError
from orescope.models import (
    MODEL_NAMES,
    SIZE_DIVISOR,
    RAUNetPlusPlus,
    build_model,
    load_weights,
    save_weights,
)
from orescope.models.ra_unetpp import ASPP, PositionAttention, pooled_grid
from orescope.models.registry import (
    DISCRIMINATORS,
    IMAGE_TO_IMAGE,
    VOLUME_MODELS,
    channels_last_format,
)

SMALL = (8, 16, 32, 64, 128)


def _small(name: str) -> dict[str, Any]:
    """Keyword arguments that keep each model small enough for a 2-core test run."""
    return {"widths": SMALL} if name == "ra_unetpp" else {"encoder": "tu-mobilenetv3_small_100"}


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """These tensors are tiny: one thread avoids OpenMP spin-waits on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_names_and_divisor() -> None:
    assert MODEL_NAMES == (
        "unet",
        "unetplusplus",
        "pspnet",
        "fpn",
        "linknet",
        "upernet",
        "deeplabv3plus",
        "ra_unetpp",
        "unet3d",
        "restore_unet",
        "pix2pix",
        "patchgan",
    )
    assert SIZE_DIVISOR == 32 and VOLUME_MODELS == ("unet3d",)


# networks of logits of images (the restoration ones are tested in test_restoration_models.py)
IMAGE_MODELS = tuple(
    name for name in MODEL_NAMES if name not in (*VOLUME_MODELS, *IMAGE_TO_IMAGE, *DISCRIMINATORS)
)


@pytest.mark.parametrize("name", IMAGE_MODELS)
@pytest.mark.parametrize("in_channels", [1, 3, 4])
@pytest.mark.parametrize("classes", [1, 3])
def test_every_model_returns_logits_of_input_size(
    name: str, in_channels: int, classes: int
) -> None:
    model = build_model(name, in_channels=in_channels, classes=classes, **_small(name)).eval()
    with torch.no_grad():
        out = model(torch.randn(2, in_channels, 64, 64))
    assert isinstance(out, torch.Tensor)
    assert out.shape == (2, classes, 64, 64)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["unet", "deeplabv3plus"])
def test_default_resnet18_encoder(name: str) -> None:
    model = build_model(name, in_channels=4, classes=2).eval()
    assert sum(p.numel() for p in model.encoder.parameters()) == 11_179_648  # resnet18, 4 bands
    with torch.no_grad():
        assert model(torch.randn(1, 4, 64, 64)).shape == (1, 2, 64, 64)


def test_ra_unetpp_gradients_reach_first_conv() -> None:
    model = RAUNetPlusPlus(in_channels=3, classes=2, widths=SMALL).train()
    out = model(torch.randn(2, 3, 64, 64))
    target = torch.randint(0, 2, out.shape).float()
    F.binary_cross_entropy_with_logits(out, target).backward()
    first_conv = model.stem[0]
    assert isinstance(first_conv, nn.Conv2d)
    assert first_conv.weight.grad is not None
    assert first_conv.weight.grad.abs().sum() > 0
    for attention in model.attention:
        assert isinstance(attention, PositionAttention)
        assert attention.gamma.grad is not None
        assert attention.gamma.grad.abs().item() > 0


def test_ra_unetpp_deep_supervision_averages_four_heads() -> None:
    model = RAUNetPlusPlus(classes=3, widths=SMALL, deep_supervision=True).eval()
    head_outputs: list[torch.Tensor] = []
    for head in model.heads:
        head.register_forward_hook(lambda _m, _i, out: head_outputs.append(out))
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64))
    assert len(head_outputs) == 4
    assert out.shape == (1, 3, 64, 64)
    torch.testing.assert_close(out, torch.stack(head_outputs).mean(dim=0))
    assert not torch.allclose(head_outputs[0], head_outputs[3])


def test_ra_unetpp_blocks_per_stage_adds_bottlenecks() -> None:
    one = RAUNetPlusPlus(widths=SMALL, blocks_per_stage=1)
    two = RAUNetPlusPlus(widths=SMALL, blocks_per_stage=2)
    assert [len(stage) for stage in one.encoder] == [1] * 5
    assert [len(stage) for stage in two.encoder] == [2] * 5


@pytest.mark.parametrize(
    "kwargs",
    [{"widths": (8, 16, 32, 64)}, {"widths": (8, 0, 32, 64, 128)}, {"aspp_rates": ()}],
)
def test_ra_unetpp_rejects_bad_configuration(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="widths|aspp_rates"):
        RAUNetPlusPlus(**kwargs)


def test_attention_pools_keys_to_at_most_attention_tokens() -> None:
    attention = PositionAttention(16, max_tokens=64)
    key_shapes: list[torch.Size] = []
    attention.key.register_forward_hook(lambda _m, _i, out: key_shapes.append(out.shape))
    x = torch.randn(2, 16, 64, 64)
    with torch.no_grad():
        out = attention(x)
        assert torch.equal(out, x)  # gamma starts at 0: the block starts as the identity
        attention.gamma.fill_(1.0)
        changed = attention(x)
    assert out.shape == x.shape
    assert not torch.allclose(changed, x)
    assert key_shapes[0] == (2, 8, 8, 8)  # 64x64 positions pooled to 8x8 = 64 keys
    assert key_shapes[0][2] * key_shapes[0][3] <= 64


@pytest.mark.parametrize(
    ("height", "width", "tokens", "expected"),
    [
        (64, 64, 64, (8, 8)),
        (32, 32, 1024, (32, 32)),
        (128, 64, 32, (8, 4)),
        (1, 10_000, 64, (1, 64)),
        (10_000, 1, 64, (64, 1)),
        (5, 7, 1, (1, 1)),
    ],
)
def test_pooled_grid(height: int, width: int, tokens: int, expected: tuple[int, int]) -> None:
    rows, cols = pooled_grid(height, width, tokens)
    assert (rows, cols) == expected
    assert rows * cols <= tokens


def test_aspp_keeps_spatial_shape() -> None:
    x = torch.randn(2, 16, 8, 8)
    assert ASPP(16, 16, (1, 6, 12, 18))(x).shape == (2, 16, 8, 8)
    assert ASPP(16, 32, (2, 4))(x).shape == (2, 32, 8, 8)
    aspp = ASPP(16, 16, (1, 6, 12, 18))
    assert len(aspp.branches) == 5  # 1x1 plus one 3x3 per rate; the image-level branch is apart
    assert aspp.train()(torch.randn(1, 16, 4, 4)).shape == (1, 16, 4, 4)  # batch 1 trains


def test_unknown_model_name() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'segnet'; choose one of: unet, ") as info:
        build_model("segnet")
    assert "ra_unetpp" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["unet", "fpn"])
@pytest.mark.parametrize("encoder", ["resnet999", "tu-not_a_timm_model"])
def test_unknown_encoder(name: str, encoder: str) -> None:
    with pytest.raises(ValueError) as info:
        build_model(name, encoder=encoder)
    message = str(info.value)
    assert message.startswith(
        f"unknown encoder '{encoder}'; choose 'tu-<name from timm.list_models()>'"
    )
    assert "or one of: resnet18, resnet34, " in message
    assert "\n" not in message


def test_unknown_encoder_weights() -> None:
    with pytest.raises(ValueError, match="Wrong pretrained weights `nope`"):
        build_model("unet", encoder_weights="nope")


@pytest.mark.parametrize("name", ["unet", "ra_unetpp"])
@pytest.mark.parametrize(
    ("kwargs", "label"),
    [
        ({"in_channels": 0}, "in_channels"),
        ({"in_channels": -3}, "in_channels"),
        ({"classes": 0}, "classes"),
        ({"in_channels": True}, "in_channels"),
    ],
)
def test_bad_channel_counts(name: str, kwargs: dict[str, Any], label: str) -> None:
    with pytest.raises(ValueError, match=f"^{label} must be an integer >= 1"):
        build_model(name, **kwargs)


def test_ra_unetpp_rejects_encoder_weights() -> None:
    with pytest.raises(ValueError, match="ra_unetpp has its own encoder"):
        build_model("ra_unetpp", encoder_weights="imagenet")


def test_activation_is_rejected() -> None:
    with pytest.raises(ValueError, match="raw logits"):
        build_model("unet", activation="sigmoid")


@pytest.mark.parametrize("name", ["ra_unetpp", "unet"])
def test_save_load_round_trip(tmp_path: Path, name: str) -> None:
    model = build_model(name, in_channels=3, classes=2, **_small(name))
    model.train()(torch.randn(2, 3, 64, 64))  # move BatchNorm statistics off their defaults
    path = tmp_path / "model.safetensors"
    save_weights(model, path, metadata={"note": "round trip"})
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]

    fresh = build_model(name, in_channels=3, classes=2, **_small(name))
    metadata = load_weights(fresh, path)
    assert metadata == {"architecture": type(model).__name__, "note": "round trip"}
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(model.eval()(x), fresh.eval()(x))


def test_shared_tensors_round_trip(tmp_path: Path) -> None:
    def tied() -> nn.Sequential:
        net = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
        net[1].weight = net[0].weight
        return net

    model = tied()
    save_weights(model, tmp_path / "tied.safetensors")
    fresh = tied()
    load_weights(fresh, tmp_path / "tied.safetensors")
    assert torch.equal(fresh[0].weight, model[0].weight)
    assert fresh[1].weight is fresh[0].weight
    assert torch.equal(fresh[1].bias, model[1].bias)


def test_ra_unetpp_weights_do_not_fit_unet(tmp_path: Path) -> None:
    source = RAUNetPlusPlus(widths=SMALL)
    path = tmp_path / "ra.safetensors"
    save_weights(source, path)
    target = build_model("unet")
    before = {k: v.clone() for k, v in target.state_dict().items()}
    missing = target.state_dict().keys() - source.state_dict().keys()
    unexpected = source.state_dict().keys() - target.state_dict().keys()

    with pytest.raises(InputError) as info:
        load_weights(target, path)
    message = str(info.value)
    assert info.value.source == str(path)
    assert message.startswith(f"{path}: weights of RAUNetPlusPlus do not fit Unet: ")
    assert f"{len(missing)} missing keys (e.g. {sorted(missing)[0]}, " in message
    assert f"{len(unexpected)} unexpected (e.g. {sorted(unexpected)[0]}, " in message
    assert "\n" not in message
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())


def test_shape_mismatch_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "narrow.safetensors"
    save_weights(RAUNetPlusPlus(widths=SMALL), path)
    with pytest.raises(InputError) as info:
        load_weights(RAUNetPlusPlus(widths=SMALL, classes=3), path)
    message = info.value.reason
    assert message == (
        "weights do not fit RAUNetPlusPlus: 2 shape mismatch (e.g. heads.0.bias: 1 in file vs 3, "
        "heads.0.weight: 1x8x1x1 in file vs 3x8x1x1)"
    )


def test_missing_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such weights file"):
        load_weights(RAUNetPlusPlus(widths=SMALL), tmp_path / "absent.safetensors")


@pytest.mark.parametrize("kind", ["text", "pickle", "empty"])
def test_non_safetensors_file_raises_input_error(tmp_path: Path, kind: str) -> None:
    model = RAUNetPlusPlus(widths=SMALL)
    path = tmp_path / "weights.bin"
    if kind == "pickle":
        torch.save(model.state_dict(), path)
    else:
        path.write_bytes(b"" if kind == "empty" else b"definitely not a safetensors file")
    with pytest.raises(InputError, match="not a readable safetensors weights file") as info:
        load_weights(model, path)
    assert info.value.source == str(path)


def test_half_precision_weights_load_back_into_a_float32_model(tmp_path):
    from orescope.models.weights import load_weights, save_weights

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 7), torch.nn.BatchNorm2d(64))
    save_weights(model, tmp_path / "full.safetensors")
    save_weights(model, tmp_path / "half.safetensors", half=True)
    full, half = (tmp_path / "full.safetensors").stat().st_size, (tmp_path / "half.safetensors")
    assert half.stat().st_size < 0.55 * full
    copy = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 7), torch.nn.BatchNorm2d(64))
    load_weights(copy, half)
    assert copy[0].weight.dtype == torch.float32
    assert torch.allclose(copy[0].weight, model[0].weight, atol=1e-3)
    assert copy[1].num_batches_tracked.dtype == torch.int64


def test_the_3d_unet_maps_volumes_of_any_size_to_logits_of_their_size() -> None:
    model = build_model("unet3d", in_channels=1, classes=3, features=(4, 4, 8, 8, 16, 4)).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 1, 20, 36, 28))
    assert out.shape == (1, 3, 20, 36, 28) and torch.isfinite(out).all()
    assert channels_last_format(model) == torch.channels_last_3d
    assert channels_last_format(build_model("unet", **_small("unet"))) == torch.channels_last
    with pytest.raises(ValueError, match="unet3d has its own encoder"):
        build_model("unet3d", encoder_weights="imagenet")


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_the_3d_unet_is_monais_basic_unet_layer_for_layer(norm: str) -> None:
    from monai.networks.nets import BasicUNet

    features = (4, 4, 8, 8, 16, 4)
    # MONAI's default norm is affine instance normalisation; "batch" is the zoo model's.
    monai_norm = "batch" if norm == "batch" else ("instance", {"affine": True})
    torch.manual_seed(3)
    theirs = BasicUNet(in_channels=1, out_channels=3, features=features, norm=monai_norm)
    torch.manual_seed(3)
    ours = build_model("unet3d", in_channels=1, classes=3, features=features, norm=norm)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert all(torch.equal(ours.state_dict()[k], v) for k, v in theirs.state_dict().items())
    odd = torch.randn(2, 1, 20, 36, 27)  # odd sizes: the decoder pads what pooling dropped
    assert torch.equal(ours.train()(odd), theirs.train()(odd))
    with torch.no_grad():
        assert torch.equal(ours.eval()(odd), theirs.eval()(odd))


def test_building_a_volume_network_imports_neither_monai_nor_smp() -> None:
    code = (
        "import sys\n"
        "from orescope.models import build_model\n"
        "build_model('unet3d', in_channels=1, classes=3)\n"
        "print(sorted(m for m in ('monai', 'segmentation_models_pytorch', 'timm', 'torchvision')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_a_3d_model_saves_and_loads_with_its_card(tmp_path: Path) -> None:
    from orescope.models.spec import ArchitectureSpec
    from orescope.zoo import LoadedModel, ModelCard, load_model

    card = ModelCard(
        name="ct",
        architecture=ArchitectureSpec(name="unet3d", options={"features": [4, 4, 8, 8, 16, 4]}),
        in_channels=1,
        class_names=["background", "core", "border"],
    )
    model = LoadedModel.untrained(card)
    loaded = load_model(model.save(tmp_path / "ct"))
    volume = torch.randn(1, 1, 32, 32, 32)
    with torch.no_grad():
        assert torch.allclose(loaded.network(volume), model.network.eval()(volume), atol=1e-5)
    weights = [w for w in loaded.network.parameters() if w.ndim == 5]
    assert weights and all(w.is_contiguous(memory_format=torch.channels_last_3d) for w in weights)
