import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

from orescope.metrics import (
    auc,
    drop_unlabelled,
    instance_metrics,
    merger_sets,
    overlap,
    pixel_metrics,
    psnr,
    ssim,
)


def _hand_case():
    """Three 4x4 reference particles; the first two predicted merged, the third split in two."""
    truth = np.zeros((10, 10), int)
    truth[0:4, 0:4], truth[0:4, 5:9], truth[6:10, 0:4] = 1, 2, 3
    pred = np.zeros_like(truth)
    pred[0:4, 0:9] = 7
    pred[6:10, 0:2], pred[6:10, 2:4] = 8, 9
    return truth, pred


@pytest.mark.parametrize("depth", [None, 4])
def test_instance_metrics_on_a_hand_built_case(depth):
    truth, pred = _hand_case()
    if depth is not None:  # the same particles as 4-voxel-deep prisms of a volume
        truth, pred = (np.repeat(labels[None], depth, axis=0) for labels in (truth, pred))
    m = instance_metrics(truth, pred)
    # IoU(1, 7) = 16/36 < 0.5; IoU(3, 8) = 8/16 = 0.5 is the only match at 0.5
    assert m["ap50"] == pytest.approx(1 / 5)
    assert m["ap75"] == 0.0
    assert m["eta"] == pytest.approx(1 / 3)
    # Dice(1, 7) = 32/52 and Dice(3, 8) = 16/24 are matched (>= 0.1): TP 2, FP 1, FN 1
    assert m["f1_match"] == pytest.approx(4 / 6)
    assert m["f1_instance"] == pytest.approx((32 / 52 + 16 / 24) / 4)
    assert (m["merger_ratio"], m["n_mergers"]) == (pytest.approx(1 / 3), 1)
    assert (m["splitter_ratio"], m["n_splitters"]) == (pytest.approx(1 / 3), 1)


def test_merger_sets_name_the_merged_particles():
    truth, pred = _hand_case()
    truth[6:10, 5:7], truth[6:10, 7:9] = 4, 5  # two more merged, into a prediction of higher id
    pred[6:10, 5:9] = 10
    truth[0:2, 9], pred[0, 9] = 6, 7  # exactly half inside 7: not part of its set
    sets = merger_sets(overlap(truth, pred))
    assert [s.tolist() for s in sets] == [[0, 1], [3, 4]]  # indices into the ids 1 ... 6


def test_perfect_prediction_with_other_ids():
    truth, _ = _hand_case()
    m = instance_metrics(truth, truth * 10 + 3 * (truth > 0))
    assert m["ap50"] == m["ap90"] == m["f1_match"] == m["f1_instance"] == m["eta"] == 1.0
    assert m["merger_ratio"] == m["splitter_ratio"] == 0.0


def test_three_way_merger_counts_two():
    truth = np.zeros((4, 12), int)
    truth[:, 0:4], truth[:, 4:8], truth[:, 8:12] = 1, 2, 3
    m = instance_metrics(truth, (truth > 0).astype(int))
    assert m["merger_ratio"] == pytest.approx(2 / 3) and m["n_mergers"] == 1


def test_empty_prediction():
    truth, _ = _hand_case()
    m = instance_metrics(truth, np.zeros_like(truth))
    assert m["ap50"] == m["f1_match"] == m["eta"] == 0.0
    assert m["n_pred"] == 0


def test_pixel_metrics_from_known_counts():
    truth = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    pred = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0])  # TP 3, FN 1, FP 1, TN 5
    m = pixel_metrics(truth, pred)
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["precision"] == m["recall"] == m["f1"] == pytest.approx(0.75)
    assert m["iou"] == pytest.approx(3 / 5)
    assert m["specificity"] == pytest.approx(5 / 6)
    assert m["mean_iou"] == pytest.approx((3 / 5 + 5 / 7) / 2)


def test_auc_extremes_and_ties():
    truth = np.array([0, 0, 1, 1])
    assert auc(truth, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert auc(truth, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert auc(truth, np.full(4, 0.5)) == 0.5
    assert auc(truth, np.array([0.1, 0.6, 0.5, 0.9])) == pytest.approx(0.75)


def test_psnr_and_ssim():
    image = np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)
    assert ssim(image, image) == pytest.approx(1.0)
    noisy = image.astype(np.int32)
    noisy[0, 0] = (noisy[0, 0] + 100) % 256
    mse = (noisy[0, 0] - int(image[0, 0])) ** 2 / image.size
    assert psnr(image, noisy.astype(np.uint8)) == pytest.approx(10 * np.log10(255**2 / mse))


def test_particles_found_off_a_sparse_outline_are_dropped_before_scoring():
    truth = np.zeros((10, 20), dtype=np.uint32)
    truth[0:4, 0:4] = 1  # outlined; the rest of the image is left open
    truth[6:10, 0:5] = 2
    pred = np.zeros_like(truth)
    pred[0:4, 0:4] = 7  # the outlined rock, found
    pred[0:4, 10:14] = 3  # an unoutlined rock: dropped
    pred[6:10, 2:7] = 5  # 12 of its 20 pixels on rock 2: kept, and a poor match
    kept = drop_unlabelled(truth, pred)
    assert np.unique(kept).tolist() == [0, 5, 7] and kept.dtype == pred.dtype
    assert np.array_equal(kept[pred != 3], pred[pred != 3])
    scores = instance_metrics(truth, kept)
    # TP 7; FP 5 and FN 2, as IoU(2, 5) = 12 / 28 < 0.5; unoutlined rock 3 would be one more FP
    assert scores["ap50"] == pytest.approx(1 / 3) and scores["eta"] == 0.5
    assert instance_metrics(truth, pred)["ap50"] == 0.25


def _dense_reference(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The counts-based instance metrics by brute force: every pair of ids, one global
    Hungarian matching (what orescope computed before it kept only overlapping pairs)."""
    from scipy.optimize import linear_sum_assignment

    t_ids = np.unique(truth[truth > 0])
    p_ids = np.unique(pred[pred > 0])
    inter = np.array([[np.sum((truth == t) & (pred == p)) for p in p_ids] for t in t_ids])
    inter = inter.reshape(t_ids.size, p_ids.size).astype(float)
    t_area = np.array([np.sum(truth == t) for t in t_ids], float)
    p_area = np.array([np.sum(pred == p) for p in p_ids], float)
    iou = inter / np.maximum(t_area[:, None] + p_area[None] - inter, 1)

    def matched(threshold: float) -> int:
        if iou.size == 0:
            return 0
        eligible = np.where(iou >= threshold, iou, 0)
        rows, cols = linear_sum_assignment(eligible, maximize=True)
        return int(((eligible[rows, cols] >= threshold) & (eligible[rows, cols] > 0)).sum())

    def groups(host: np.ndarray) -> tuple[float, int]:
        sizes = np.bincount(host[host >= 0]) if (host >= 0).any() else np.zeros(0, int)
        big = sizes[sizes >= 2]
        return ((big.sum() - big.size) / t_ids.size if t_ids.size else 0.0), int(big.size)

    def ap(threshold: float) -> float:
        tp = matched(threshold)
        return tp / (t_ids.size + p_ids.size - tp) if t_ids.size + p_ids.size - tp else 1.0

    cover_t = inter / np.maximum(t_area[:, None], 1)
    cover_p = inter / np.maximum(p_area[None], 1)
    host_t = (
        np.where(cover_t.max(1, initial=0) > 0.5, cover_t.argmax(1), -1)
        if p_ids.size
        else (np.full(t_ids.size, -1))
    )
    host_p = (
        np.where(cover_p.max(0, initial=0) > 0.5, cover_p.argmax(0), -1)
        if t_ids.size
        else (np.full(p_ids.size, -1))
    )
    mergers, splitters = groups(host_t), groups(host_p)
    return {
        "n_truth": t_ids.size,
        "n_pred": p_ids.size,
        "ap50": ap(0.5),
        "ap75": ap(0.75),
        "ap90": ap(0.9),
        "eta": matched(0.5) / t_ids.size if t_ids.size else 1.0,
        "merger_ratio": mergers[0],
        "n_mergers": mergers[1],
        "splitter_ratio": splitters[0],
        "n_splitters": splitters[1],
    }


_rectangles = st.lists(
    st.tuples(
        st.integers(0, 9),
        st.integers(0, 9),
        st.integers(1, 6),
        st.integers(1, 6),
        st.integers(0, 7),
    ),
    max_size=8,
)


def _painted(rectangles) -> np.ndarray:
    labels = np.zeros((12, 12), np.uint32)
    for row, col, height, width, value in rectangles:
        labels[row : row + height, col : col + width] = value
    return labels


@settings(max_examples=150, deadline=None)
@given(truth=_rectangles, pred=_rectangles)
def test_the_sparse_metrics_equal_a_brute_force_over_every_pair(truth, pred):
    truth, pred = _painted(truth), _painted(pred)
    found = instance_metrics(truth, pred)
    for name, value in _dense_reference(truth, pred).items():
        assert found[name] == pytest.approx(value), name


def test_a_volume_of_twenty_thousand_particles_is_scored_from_its_pairs():
    cells = np.arange(1, 27**3 + 1, dtype=np.uint32).reshape(27, 27, 27)
    truth = np.kron(cells, np.ones((2, 2, 2), np.uint32))  # 19 683 cubes of 2 voxels a side
    renamed = np.where(truth > 0, truth * 7 + 3, 0)
    merged = (truth + 1) // 2  # every odd cube merged with the next
    assert instance_metrics(truth, renamed)["ap50"] == 1.0
    scores = instance_metrics(truth, merged)
    # 9 841 pairs merged at IoU 0.5 each (one of the two matched), the last cube alone
    assert scores["n_mergers"] == 9841 and scores["merger_ratio"] == pytest.approx(9841 / 19683)
    assert scores["ap50"] == pytest.approx(9842 / 19683) and scores["ap75"] == pytest.approx(
        1 / (19683 + 9842 - 1)
    )


def test_volumes_on_disk_are_scored_block_by_block_to_the_same_metrics():
    truth = np.zeros((20, 30, 40), np.uint32)
    truth[2:10, 3:20, 5:35], truth[12:19, 3:29, 5:39] = 5, 9
    pred = np.zeros_like(truth)
    pred[2:11, 3:20, 5:20], pred[2:11, 3:20, 20:35], pred[12:19, 0:29, 5:39] = 1, 2, 3
    stored = [zarr.zeros(truth.shape, chunks=(7, 11, 13), dtype="u4") for _ in range(2)]
    stored[0][:], stored[1][:] = truth, pred
    in_memory = instance_metrics(truth, pred)
    assert instance_metrics(*stored) == in_memory  # blocks of 128: all in one
    blocked = overlap(stored[0], stored[1], chunk=6)
    whole = overlap(truth, pred)
    for name in ("truth_areas", "pred_areas", "rows", "cols", "intersection"):
        assert np.array_equal(getattr(blocked, name), getattr(whole, name)), name
    assert in_memory["n_splitters"] == 1 and in_memory["n_truth"] == 2
