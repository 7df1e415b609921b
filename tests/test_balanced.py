import numpy as np
import pytest

from orescope.train import balanced
from orescope.train.balanced import (
    ClassBalancedSampler,
    cached_content_maps,
    content_maps,
    window_starts,
)


def test_window_starts_step_by_stride_and_end_at_the_last_fitting_window():
    assert window_starts(20, 8, 5).tolist() == [0, 5, 10, 12]
    assert window_starts(16, 8, 4).tolist() == [0, 4, 8]
    assert window_starts(5, 8, 4).tolist() == [0]


def test_content_maps_are_the_class_fractions_of_each_window():
    rng = np.random.default_rng(0)
    mask = rng.integers(0, 3, size=(23, 17)).astype(np.uint8)
    maps = content_maps(mask, [0, 2], patch=8, stride=3)
    tops, lefts = window_starts(23, 8, 3), window_starts(17, 8, 3)
    assert maps.shape == (2, len(tops), len(lefts))
    for i, top in enumerate(tops):
        for j, left in enumerate(lefts):
            window = mask[top : top + 8, left : left + 8]
            assert maps[0, i, j] == pytest.approx(np.mean(window == 0))
            assert maps[1, i, j] == pytest.approx(np.mean(window == 2))


def _rare_class_masks() -> list[np.ndarray]:
    """Class 1 covers half of each image, class 2 one 6×6 square in one image (0.1 %)."""
    masks = [np.zeros((120, 160), dtype=np.uint8) for _ in range(3)]
    for mask in masks:
        mask[:, 80:] = 1
    masks[2][100:106, 20:26] = 2
    return masks


def test_balancing_feeds_a_rare_class_far_more_often_than_random_patches():
    masks = _rare_class_masks()
    sampler = ClassBalancedSampler(masks, [0, 1, 2], patch=32, stride=4)
    rng = np.random.default_rng(1)
    windows = [sampler.draw(rng) for _ in range(300)]
    # class 1 starts 54 px right of the square, beyond any patch holding it, so classes 1 and 2
    # are only fed by their own draws: the rarest-first rule keeps them within a patch
    assert abs(sampler.fed[1] - sampler.fed[2]) <= 32 * 32
    holding = [
        w for w in windows if (masks[w.image][w.top : w.top + 32, w.left : w.left + 32] == 2).any()
    ]
    assert len(holding) > 280
    fed = sampler.fed / sampler.fed.sum()
    assert all(0 <= w.top <= 120 - 32 and 0 <= w.left <= 160 - 32 for w in windows)
    random_share = np.mean([np.mean(m == 2) for m in masks])
    assert fed[2] > 30 * random_share


def test_classes_absent_from_every_mask_are_not_balanced_and_all_absent_is_refused():
    masks = _rare_class_masks()
    sampler = ClassBalancedSampler(masks, [0, 1, 2, 7], patch=32)
    rng = np.random.default_rng(2)
    for _ in range(10):
        sampler.draw(rng)
    assert sampler.fed[3] == 0 and sampler.fed[:3].min() > 0
    with pytest.raises(ValueError, match="no mask"):
        ClassBalancedSampler(masks, [5], patch=32)


def test_an_image_smaller_than_the_patch_gives_the_origin():
    sampler = ClassBalancedSampler([np.ones((10, 12), dtype=np.uint8)], [1], patch=32)
    window = sampler.draw(np.random.default_rng(0))
    assert (window.top, window.left) == (0, 0)


def test_cached_maps_are_reused_until_the_mask_changes(tmp_path, monkeypatch):
    mask = _rare_class_masks()[2]
    first = cached_content_maps(mask, [0, 2], 32, 8, tmp_path)
    calls = []
    monkeypatch.setattr(
        balanced, "content_maps", lambda *args: calls.append(args) or content_maps(*args)
    )
    again = cached_content_maps(mask, [0, 2], 32, 8, tmp_path)
    assert np.array_equal(first, again) and calls == []
    changed = mask.copy()
    changed[0:6, 0:6] = 2
    fresh = cached_content_maps(changed, [0, 2], 32, 8, tmp_path)
    assert len(calls) == 1 and fresh[1, 0, 0] == pytest.approx(36 / 1024)
    assert len(list(tmp_path.glob("*.npy"))) == 2
