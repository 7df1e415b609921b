import numpy as np
import pytest
from pydantic import ValidationError
from scipy import ndimage

from orescope.synth import SceneConfig, synthesize_scene
from orescope.synth.particles import sample_sizes_px

SMALL = SceneConfig(height=256, width=320, x50_mm=4.0, seed=5)


def test_same_seed_same_scene_other_seed_other_scene():
    first, second = synthesize_scene(SMALL), synthesize_scene(SMALL)
    assert np.array_equal(first.image, second.image)
    assert np.array_equal(first.labels, second.labels)
    other = synthesize_scene(SMALL.model_copy(update={"seed": 6}))
    assert not np.array_equal(first.labels, other.labels)


def test_labels_are_consecutive_single_pieces_matching_the_image():
    scene = synthesize_scene(SMALL)
    assert scene.image.shape == (256, 320, 3) and scene.image.dtype == np.uint8
    assert scene.labels.shape == (256, 320) and scene.labels.dtype == np.uint32
    ids = np.unique(scene.labels)
    assert np.array_equal(ids, np.arange(ids.size))
    for index, window in enumerate(ndimage.find_objects(scene.labels), start=1):
        assert ndimage.label(scene.labels[window] == index)[1] == 1


def test_default_scene_is_dense_with_touching_particles():
    scene = synthesize_scene(SceneConfig(seed=0))
    assert scene.labels.max() >= 200
    foreground = scene.labels > 0
    assert 0.75 < foreground.mean() < 0.99
    # most particles touch a neighbour: some 4-neighbour pairs carry two different ids
    right = scene.labels[:, 1:] != scene.labels[:, :-1]
    both = foreground[:, 1:] & foreground[:, :-1]
    touching = np.unique(scene.labels[:, 1:][right & both])
    assert touching.size > 0.5 * scene.labels.max()


def test_rosin_rammler_sizes_have_the_requested_median():
    config = SceneConfig(x50_mm=5.0, mm_per_px=0.25, n=1.5, min_size_px=3)
    sizes = sample_sizes_px(config, 200_000, np.random.default_rng(0))
    assert np.median(sizes) == pytest.approx(20.0, rel=0.01)


def test_sieve_fractions_replace_rosin_rammler():
    config = SceneConfig(mm_per_px=1.0, sieve_fractions=[(10, 20, 1.0), (40, 50, 3.0)])
    sizes = sample_sizes_px(config, 40_000, np.random.default_rng(0))
    coarse = (sizes >= 40) & (sizes <= 50)
    assert np.all(((sizes >= 10) & (sizes <= 20)) | coarse)
    assert coarse.mean() == pytest.approx(0.75, abs=0.01)


def test_bad_fractions_are_refused():
    with pytest.raises(ValidationError, match="bad sieve fraction"):
        SceneConfig(sieve_fractions=[(20, 10, 1.0)])
