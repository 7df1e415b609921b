"""Sliding-window inference and particle-size resampling, against exact expectations."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from skimage.draw import disk

import orescope.infer.multiscale as multiscale
from orescope.infer import gaussian_weights, predict_classes, predict_probabilities, tile_starts
from orescope.infer.multiscale import predict_classes_multiscale, predict_probabilities_multiscale
from orescope.infer.ore_types import OreTypeVote
from orescope.infer.sliding_window import (
    class_index_among,
    classes_from_bands,
    probabilities_from_bands,
    probability_bands,
)
from orescope.infer.tiling import tiles_per_batch
from orescope.preprocess import median_diameter_px, resize_image, resize_labels, size_scale


def to_chw(crop: np.ndarray) -> np.ndarray:
    """Crop values as they are, channels first."""
    return crop.astype(np.float32).transpose(2, 0, 1)


def channel_argmax_model() -> torch.nn.Module:
    """Pointwise 4-class model: logits (x0, x1, x2, 127.5) for a pixel (x0, x1, x2).

    Each class logit is one exact product, so equal channels give bit-equal probabilities in
    every tile and unequal ones differ by a margin far above rounding: blending is exact.
    """
    conv = torch.nn.Conv2d(3, 4, kernel_size=1)
    with torch.no_grad():
        conv.weight.zero_()
        for channel in range(3):
            conv.weight[channel, channel] = 1.0
    conv.bias = torch.nn.Parameter(torch.tensor([0.0, 0.0, 0.0, 127.5]))
    return conv


class ConstantModel(torch.nn.Module):
    """The same logits at every pixel; records whether it ran in eval mode."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(logits))
        self.saw_training: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.saw_training.append(self.training)
        batch, _, height, width = x.shape
        return self.logits[None, :, None, None].expand(batch, -1, height, width)


class TileMeanModel(torch.nn.Module):
    """Logits (m, −m) from the tile's mean value m: the answer changes with the tile position."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3), keepdim=True) / 64
        return torch.cat([mean, -mean], dim=1).expand(-1, -1, *x.shape[2:])


def naive_blend(image: np.ndarray, model: torch.nn.Module, tile: int, step: int) -> np.ndarray:
    """Full-map Gaussian blending, for an image at least one tile in each direction."""
    height, width = image.shape[:2]
    weights = gaussian_weights(tile)
    total = np.zeros((height, width), np.float32)
    blended = np.zeros((2, height, width), np.float32)
    for y in tile_starts(height, tile, step):
        for x in tile_starts(width, tile, step):
            crop = torch.from_numpy(to_chw(image[y : y + tile, x : x + tile]))[None]
            probabilities = torch.softmax(model(crop), dim=1)[0].numpy()
            blended[:, y : y + tile, x : x + tile] += probabilities * weights
            total[y : y + tile, x : x + tile] += weights
    return blended / total


@pytest.mark.parametrize(
    ("length", "tile", "step", "expected"),
    [
        (100, 256, 192, [0]),
        (256, 256, 192, [0]),
        (512, 256, 256, [0, 256]),
        (512, 256, 128, [0, 128, 256]),
        (300, 256, 128, [0, 44]),
        (1000, 256, 192, [0, 192, 384, 576, 744]),
        (517, 64, 32, [*range(0, 449, 32), 453]),
    ],
)
def test_tile_starts(length, tile, step, expected):
    assert tile_starts(length, tile, step) == expected


def test_tile_starts_rejects_non_positive():
    with pytest.raises(ValueError):
        tile_starts(100, 64, 0)


def test_gaussian_weights():
    weights = gaussian_weights(256)
    assert weights.shape == (256, 256)
    assert weights.dtype == np.float32
    np.testing.assert_array_equal(weights, weights.T)
    np.testing.assert_array_equal(weights, weights[::-1])
    np.testing.assert_array_equal(weights, weights[:, ::-1])
    assert weights.max() == 1.0
    assert weights[127, 127] == 1.0
    assert weights.min() > 0
    assert gaussian_weights(64, sigma_fraction=0.01).min() == np.float32(1e-6)


@pytest.mark.parametrize(("height", "width", "tile"), [(250, 250, 256), (300, 517, 64), (5, 7, 32)])
@pytest.mark.parametrize("tta", [False, True])
def test_pointwise_model_gives_pixelwise_classes(height, width, tile, tta):
    image = np.random.default_rng(height).integers(0, 256, (height, width, 3), dtype=np.uint8)
    expected = np.dstack([image, np.full((height, width), 127.5)]).argmax(axis=2)
    classes = predict_classes(
        image, channel_argmax_model(), normalise=to_chw, tile=tile, overlap=0.5, tta=tta
    )
    assert classes.dtype == np.uint8
    np.testing.assert_array_equal(classes, expected)


def test_probabilities_sum_to_one_and_match_classes():
    image = np.random.default_rng(1).integers(0, 256, (300, 517, 3), dtype=np.uint8)
    options = {"normalise": to_chw, "tile": 64, "overlap": 0.5, "batch_size": 3}
    probabilities = predict_probabilities(image, channel_argmax_model(), **options)
    assert probabilities.shape == (4, 300, 517)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=0), 1.0, atol=1e-6)
    classes = predict_classes(image, channel_argmax_model(), **options)
    np.testing.assert_array_equal(classes, probabilities.argmax(axis=0))


def test_constant_model_blends_to_its_softmax_in_eval_mode():
    model = ConstantModel([0.5, 2.0, -1.0])
    model.train()
    image = np.zeros((200, 330, 3), np.uint8)
    probabilities = predict_probabilities(image, model, normalise=to_chw, tile=64, overlap=0.5)
    expected = torch.softmax(torch.tensor([0.5, 2.0, -1.0]), dim=0).numpy()[:, None, None]
    np.testing.assert_allclose(probabilities, np.broadcast_to(expected, (3, 200, 330)), rtol=1e-6)
    classes = predict_classes(image, model, normalise=to_chw, tile=64, tta=True)
    np.testing.assert_array_equal(classes, np.ones((200, 330), np.uint8))
    assert model.saw_training and not any(model.saw_training)
    assert model.training


def test_band_streaming_equals_full_map_blending():
    """A model whose answer depends on the tile: blending in a band equals blending in full."""
    image = np.random.default_rng(2).integers(0, 256, (300, 517, 3), dtype=np.uint8)
    image[:, 200:] //= 4
    probabilities = predict_probabilities(
        image, TileMeanModel(), normalise=to_chw, tile=64, overlap=0.5, batch_size=5
    )
    expected = naive_blend(image, TileMeanModel(), tile=64, step=32)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-6)


def test_bands_are_at_most_one_tile_high_and_cover_the_image():
    image = np.zeros((300, 517, 3), np.uint8)
    bands = probability_bands(
        image, ConstantModel([0.0, 1.0]), to_chw, 64, 0.25, 4, False, "cpu", False
    )
    tops, heights = zip(*((top, band.shape[1]) for top, band in bands), strict=True)
    assert max(heights) <= 64
    assert list(tops) == [0, *np.cumsum(heights)[:-1]]
    assert sum(heights) == 300


def test_single_class_uses_sigmoid_on_gray_images():
    image = np.random.default_rng(3).integers(0, 256, (250, 250), dtype=np.uint8)
    model = torch.nn.Conv2d(1, 1, kernel_size=1)
    with torch.no_grad():
        model.weight.fill_(1 / 64)  # powers of two: the logit's sign is exact
        model.bias.fill_(-127.5 / 64)
    options = {"normalise": to_chw, "tile": 64, "overlap": 0.5, "tta": True}
    classes = predict_classes(image, model, **options)
    np.testing.assert_array_equal(classes, (image > 127).astype(np.uint8))
    probabilities = predict_probabilities(image, model, **options)
    expected = 1 / (1 + np.exp((127.5 - image.astype(np.float64)) / 64))
    np.testing.assert_allclose(probabilities[0], expected, rtol=1e-6)


@pytest.mark.parametrize(("tile", "overlap"), [(100, 0.25), (0, 0.25), (64, 0.9), (64, -0.1)])
def test_bad_tiling_is_refused(tile, overlap):
    image = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError):
        predict_classes(image, channel_argmax_model(), normalise=to_chw, tile=tile, overlap=overlap)


@pytest.mark.parametrize(
    ("shape", "dtype", "scale", "expected"),
    [
        ((100, 60, 3), np.uint8, 0.5, (50, 30, 3)),
        ((100, 60, 3), np.uint8, 1.5, (150, 90, 3)),
        ((7, 5), np.uint16, 0.3, (2, 2)),
        ((7, 5, 1), np.float32, 2.0, (14, 10, 1)),
        ((40, 30, 6), np.uint8, 0.25, (10, 8, 6)),
        ((40, 30), np.uint8, 0.001, (1, 1)),
    ],
)
def test_resize_image_shapes_and_dtypes(shape, dtype, scale, expected):
    image = np.full(shape, 77, dtype)
    resized = resize_image(image, scale)
    assert resized.shape == expected
    assert resized.dtype == dtype
    assert (resized == 77).all()


def test_resize_image_averages_areas_when_shrinking():
    image = np.zeros((6, 6), np.float32)
    image[0, 0] = 9.0
    np.testing.assert_array_equal(resize_image(image, 1 / 3), [[1.0, 0.0], [0.0, 0.0]])


def test_resize_image_identity_and_errors():
    image = np.zeros((4, 4), np.uint8)
    assert resize_image(image, 1.0) is image
    for scale in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            resize_image(image, scale)


def test_resize_labels_keeps_large_ids():
    labels = np.array([[0, 70001, 70002], [2**20 + 5, 70001, 0]], np.uint32)
    enlarged = resize_labels(labels, (4, 6))
    assert enlarged.dtype == np.uint32
    np.testing.assert_array_equal(enlarged, labels.repeat(2, axis=0).repeat(2, axis=1))
    np.testing.assert_array_equal(resize_labels(enlarged, (2, 3)), labels)


def test_median_diameter_of_two_discs():
    labels = np.zeros((100, 100), np.uint32)
    labels[disk((25, 25), 10)] = 1
    labels[disk((70, 70), 20)] = 70000
    areas = np.array([(labels == 1).sum(), (labels == 70000).sum()])
    expected = float(np.mean(np.sqrt(4 * areas / np.pi)))
    assert median_diameter_px(labels) == pytest.approx(expected, rel=1e-12)
    sparse = np.where(labels == 70000, np.uint64(2**40), labels)
    assert median_diameter_px(sparse) == pytest.approx(expected, rel=1e-12)


def test_median_diameter_without_instances_and_errors():
    assert np.isnan(median_diameter_px(np.zeros((5, 5), np.uint16)))
    with pytest.raises(ValueError):
        median_diameter_px(np.zeros((5, 5), np.float32))
    with pytest.raises(ValueError):
        median_diameter_px(np.full((5, 5), -1, np.int32))


@pytest.mark.parametrize(
    ("typical", "target", "limits", "expected"),
    [
        (10.0, 20.0, (0.25, 4.0), 2.0),
        (10.0, 100.0, (0.25, 4.0), 4.0),
        (100.0, 10.0, (0.25, 4.0), 0.25),
        (10.0, 20.0, (0.5, 1.5), 1.5),
    ],
)
def test_size_scale(typical, target, limits, expected):
    assert size_scale(typical, target, limits) == expected


@pytest.mark.parametrize(
    ("typical", "target", "limits"),
    [
        (0.0, 20.0, (0.25, 4.0)),
        (10.0, -1.0, (0.25, 4.0)),
        (float("nan"), 20.0, (0.25, 4.0)),
        (10.0, float("inf"), (0.25, 4.0)),
        (10.0, 20.0, (2.0, 1.0)),
        (10.0, 20.0, (0.0, 1.0)),
    ],
)
def test_size_scale_rejects_bad_input(typical, target, limits):
    with pytest.raises(ValueError):
        size_scale(typical, target, limits)


def stripe_model() -> torch.nn.Module:
    """Two classes; class 1's logit is 3·|x(col) − x(col + 1)| − 1 for values in 0–1, class
    0's is 0: columns alternating 0 and 1 say class 1 with p = σ(2), their average grey (the
    stripes shrunk to half) says class 0 with p(class 1) = σ(−1)."""
    difference = torch.nn.Conv2d(1, 1, (1, 2), bias=False)
    head = torch.nn.Conv2d(1, 2, 1)
    with torch.no_grad():
        difference.weight.copy_(torch.tensor([[[[1.0, -1.0]]]]))
        head.weight.copy_(torch.tensor([[[[0.0]]], [[[3.0]]]]))
        head.bias.copy_(torch.tensor([0.0, -1.0]))

    class Stripes(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return head(difference(torch.nn.functional.pad(x, (0, 1))).abs())

    return Stripes()


def unit_gray(crop: np.ndarray) -> np.ndarray:
    return crop.astype(np.float32).transpose(2, 0, 1) / 255


STRIPES = np.tile(np.array([0, 255], np.uint8), (96, 48))[..., None]  # 96×96, period 2


@pytest.mark.parametrize(
    ("scales", "p_stripes"),
    [((1.0,), 0.881), ((0.5,), 0.269), ((0.5, 1.0), 0.575), ((0.5, 0.5, 1.0), 0.473)],
)
def test_probabilities_are_averaged_over_the_scales(scales, p_stripes):
    probabilities = predict_probabilities_multiscale(
        STRIPES, stripe_model(), normalise=unit_gray, scales=scales, tile=32
    )
    assert probabilities.shape == (2, 96, 96)
    inner = probabilities[1, 8:-8, 8:-8]
    assert inner.mean() == pytest.approx(p_stripes, abs=2e-3)
    classes = predict_classes_multiscale(
        STRIPES, stripe_model(), normalise=unit_gray, scales=scales, tile=32
    )
    assert (classes[8:-8, 8:-8] == int(p_stripes > 0.5)).all()


def test_blocks_join_without_seams(monkeypatch):
    monkeypatch.setattr(multiscale, "BLOCK_PIXELS", 40 * 70)  # blocks of 40 rows: 5 of them
    image = np.random.default_rng(0).integers(0, 256, (190, 70, 3), dtype=np.uint8)
    expected = predict_classes(image, channel_argmax_model(), normalise=to_chw, tile=32)
    classes = predict_classes_multiscale(  # (1, 1): streamed; (1,) alone is the plain window
        image, channel_argmax_model(), normalise=to_chw, scales=(1.0, 1.0), tile=32
    )
    np.testing.assert_array_equal(classes, expected)
    blocks = np.kron(np.random.default_rng(1).integers(0, 256, (19, 7, 3)), np.ones((10, 10, 1)))
    blocks = blocks.astype(np.uint8)  # a pointwise model on 10 px blocks: scales agree inside
    expected = predict_classes(blocks, channel_argmax_model(), normalise=to_chw, tile=32)
    classes = predict_classes_multiscale(
        blocks, channel_argmax_model(), normalise=to_chw, scales=(0.8, 1.0, 1.25), tile=32
    )
    inside = np.kron(np.ones((19, 7), bool), np.pad(np.ones((6, 6), bool), 2))
    np.testing.assert_array_equal(classes[inside], expected[inside])


@pytest.mark.parametrize("block_rows", [1, 7, 40, 200])
def test_streamed_scales_equal_whole_maps_resized_back(monkeypatch, block_rows):
    """Each scale's map, resampled block by block, is cv2's bilinear resize of the whole map."""
    monkeypatch.setattr(multiscale, "BLOCK_PIXELS", block_rows * 53)
    image = np.random.default_rng(2).integers(0, 256, (150, 53, 3), dtype=np.uint8)
    options = {"normalise": to_chw, "tile": 32}
    model = channel_argmax_model()
    expected = np.zeros((4, 150, 53), np.float32)
    for scale in (0.7, 1.0, 1.3):
        whole = predict_probabilities(resize_image(image, scale), model, **options)
        expected += [cv2.resize(c, (53, 150), interpolation=cv2.INTER_LINEAR) for c in whole]
    streamed = predict_probabilities_multiscale(image, model, scales=(0.7, 1.0, 1.3), **options)
    np.testing.assert_allclose(streamed, expected / 3, atol=2e-6)


def test_each_scale_is_predicted_once_in_full(monkeypatch):
    monkeypatch.setattr(multiscale, "BLOCK_PIXELS", 10 * 70)  # ten blocks
    seen = []
    bands = multiscale.probability_bands

    def recording(pixels, *args):
        seen.append(pixels.shape[:2])
        return bands(pixels, *args)

    monkeypatch.setattr(multiscale, "probability_bands", recording)
    image = np.random.default_rng(0).integers(0, 256, (96, 70, 3), dtype=np.uint8)
    classes = predict_classes_multiscale(
        image, channel_argmax_model(), normalise=to_chw, scales=(1.0, 0.5), tile=32
    )
    assert classes.shape == (96, 70)
    assert seen == [(96, 70), (48, 35)]


def test_scales_must_be_positive():
    with pytest.raises(ValueError, match="scales must be positive"):
        predict_classes_multiscale(
            STRIPES, stripe_model(), normalise=unit_gray, scales=(1.0, 0.0), tile=32
        )
    with pytest.raises(ValueError, match="scales must be positive"):
        predict_classes_multiscale(STRIPES, stripe_model(), normalise=unit_gray, scales=())


def test_bands_of_averaged_probabilities_can_be_reduced_to_any_map():
    classes = predict_classes_multiscale(
        STRIPES,
        stripe_model(),
        normalise=unit_gray,
        scales=(0.5, 1.0),
        tile=32,
        reduce=lambda band: np.where(band[1] > 0.55, 7, 3).astype(np.uint8),
    )
    assert (classes[8:-8, 8:-8] == 7).all()  # p = 0.575 on the stripes


def test_a_limited_class_index_picks_the_most_probable_allowed_class():
    probabilities = np.array(
        [[[0.1, 0.5]], [[0.6, 0.1]], [[0.3, 0.4]]], dtype=np.float32
    )  # 3 classes, 1×2 pixels: argmax 1 and 0
    np.testing.assert_array_equal(class_index_among([0, 2])(probabilities), [[2, 0]])
    np.testing.assert_array_equal(class_index_among([2, 1, 2])(probabilities), [[1, 2]])
    np.testing.assert_array_equal(class_index_among([1])(probabilities), [[1, 1]])
    with pytest.raises(ValueError, match="allowed classes must be 0-255"):
        class_index_among([])


def test_bands_are_stacked_at_their_rows():
    bands = iter([(0, np.full((2, 3, 4), 0.25, np.float32)), (3, np.ones((2, 2, 4), np.float32))])
    stacked = probabilities_from_bands((5, 4), bands)
    assert stacked.shape == (2, 5, 4) and stacked.dtype == np.float32
    np.testing.assert_array_equal(stacked[:, :3], 0.25)
    np.testing.assert_array_equal(stacked[:, 3:], 1.0)
    with pytest.raises(ValueError, match="no probability bands"):
        probabilities_from_bands((5, 4), iter([]))


def test_a_default_batch_holds_four_256_tiles_worth_of_pixels_and_at_least_one_tile():
    assert [tiles_per_batch(t) for t in (32, 128, 256, 384, 512, 768)] == [256, 16, 4, 1, 1, 1]
    with pytest.raises(ValueError, match="tile must be positive"):
        tiles_per_batch(0)


def test_an_ore_type_vote_keeps_every_type_s_map_and_weighs_only_its_own_classes():
    # classes 0 (background) and 1 are in both types; 2 only in "x", 3 only in "y"
    vote = OreTypeVote({"x": [0, 1, 2], "y": [0, 1, 3]})
    band = np.array(  # 4 classes, 1×3 pixels
        [[[0.1, 0.1, 0.7]], [[0.2, 0.5, 0.1]], [[0.6, 0.1, 0.1]], [[0.1, 0.3, 0.1]]],
        dtype=np.float32,
    )
    maps = vote(band)
    np.testing.assert_array_equal(maps, [[[2, 1, 0]], [[1, 1, 0]]])
    assert vote.shares() == pytest.approx({"x": 0.8 / 1.3, "y": 0.5 / 1.3})
    vote = OreTypeVote({"x": [0, 1, 2], "y": [0, 1, 3]})
    classes = classes_from_bands((2, 3), iter([(0, band), (1, band[:, :, ::-1])]), vote)
    assert classes.shape == (2, 2, 3) and classes.dtype == np.uint8
    np.testing.assert_array_equal(classes[1, 1], [0, 1, 1])
    winner, chosen = vote.decide(classes)
    assert winner == "x"
    np.testing.assert_array_equal(chosen, [[2, 1, 0], [0, 1, 2]])
    assert vote.shares() == pytest.approx({"x": 1.6 / 2.6, "y": 1.0 / 2.6})
    with pytest.raises(ValueError, match="expected 2 class maps, got 1"):
        vote.decide(classes[:1])
    with pytest.raises(ValueError, match="no ore types"):
        OreTypeVote({})
    assert OreTypeVote({"x": [0, 2], "y": [0, 3]}).shares() == {"x": 0.5, "y": 0.5}


def test_class_maps_need_at_least_one_band():
    with pytest.raises(ValueError, match="no probability bands to reduce"):
        classes_from_bands((2, 3), iter([]))


def test_a_stream_holds_only_the_bands_later_blocks_need():
    image = np.random.default_rng(4).integers(0, 256, (600, 40, 3), dtype=np.uint8)
    model = channel_argmax_model()

    def predict(pixels):
        return probability_bands(pixels, model, to_chw, 32, 0.25, 4, False, "cpu", False)

    stream = multiscale._ScaleStream(resize_image(image, 1.25), (600, 40), predict)
    most = 0
    for top in range(0, 600, 10):
        stream.add_rows(None, top, top + 10)
        most = max(most, sum(band.shape[1] for band in stream.held))
        assert stream.first <= round((top + 10) * 1.25)  # what the next block needs is kept
    assert most <= 2 * 24  # two bands of the 24-row tile step, never the 750 scaled rows


def naive_blend_volume(volume: np.ndarray, model: torch.nn.Module, tile: int, step: int):
    """Full-volume Gaussian blending of cubic tiles, for a volume at least one tile a side."""
    weights = gaussian_weights(tile, ndim=3)
    total = np.zeros(volume.shape, np.float32)
    blended = np.zeros((2, *volume.shape), np.float32)
    for z in tile_starts(volume.shape[0], tile, step):
        for y in tile_starts(volume.shape[1], tile, step):
            for x in tile_starts(volume.shape[2], tile, step):
                box = np.s_[z : z + tile, y : y + tile, x : x + tile]
                crop = torch.from_numpy(volume[box].astype(np.float32))[None, None]
                blended[(slice(None), *box)] += torch.softmax(model(crop), 1)[0].numpy() * weights
                total[box] += weights
    return blended / total


def test_volumes_are_blended_from_cubic_tiles_exactly_as_in_full():
    volume = np.random.default_rng(3).integers(0, 255, (80, 70, 100)).astype(np.uint8)
    model = TileMeanModel()
    tile, overlap = 32, 0.25
    predicted = predict_probabilities(
        volume,
        model,
        normalise=lambda crop: crop.astype(np.float32).transpose(3, 0, 1, 2),
        tile=tile,
        overlap=overlap,
        batch_size=3,
        spatial_dims=3,
    )
    expected = naive_blend_volume(volume, model, tile, round(tile * (1 - overlap)))
    assert predicted.shape == (2, 80, 70, 100)
    np.testing.assert_allclose(predicted, expected, atol=1e-6)


def test_volumes_thinner_than_a_tile_and_mirrored_copies_keep_a_pointwise_model_exact():
    volume = np.random.default_rng(4).integers(0, 255, (20, 45, 33, 3)).astype(np.uint8)
    model = channel_argmax_model()
    conv3d = torch.nn.Conv3d(3, 4, kernel_size=1)
    conv3d.weight.data = model.weight.data[..., None]
    conv3d.bias = model.bias
    classes = predict_classes(
        volume,
        conv3d,
        normalise=lambda crop: crop.astype(np.float32).transpose(3, 0, 1, 2),
        tile=32,
        tta=True,
        spatial_dims=3,
    )
    expected = np.concatenate([volume, np.full((*volume.shape[:3], 1), 127.5)], axis=3)
    assert classes.shape == (20, 45, 33)
    np.testing.assert_array_equal(classes, expected.argmax(axis=3))


def test_a_volume_of_the_wrong_dimensionality_is_refused():
    with pytest.raises(ValueError, match="D×H×W"):
        predict_classes(np.zeros((40, 40)), TileMeanModel(), normalise=to_chw, spatial_dims=3)
    assert gaussian_weights(8, ndim=3).shape == (8, 8, 8)
    assert tiles_per_batch(64, 3) == 1 and tiles_per_batch(32, 3) == 8
