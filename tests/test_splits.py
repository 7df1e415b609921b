"""The split rule: every dataset falls into train, validation and test by rule, never one sample
on two sides, and the configs can only take their own side."""

from pathlib import Path

import numpy as np
import pytest
import tifffile
import yaml

from orescope.errors import InputError
from orescope.io import load_gravel, write_image
from orescope.io.splits import assign_splits, seed_split
from orescope.train.config import DataSource, TrainConfig, read_train_config
from orescope.train.data import load_source


def _sides(kind: str, stems: list[str]) -> dict[str, list[str]]:
    found = assign_splits(kind, stems)
    return {side: [s for s in sorted(stems) if found[s] == side] for side in set(found.values())}


def test_the_last_fifth_is_test_and_the_tenth_before_it_validation():
    stems = [f"p{i:02d}" for i in range(20)]
    sides = _sides("gravel", stems)
    assert sides["test"] == stems[16:] and sides["validation"] == stems[14:16]
    assert sides["train"] == stems[:14]


def test_the_shared_gravel_and_conveyor_keep_their_earlier_held_out_images_as_test():
    gravel = ["1_P1", "2_P1", "3_P1", "5_P1", "6_P1", "7_P1"]
    assert _sides("gravel", gravel) == {
        "train": ["1_P1", "2_P1", "3_P1"],
        "validation": ["5_P1"],
        "test": ["6_P1", "7_P1"],
    }
    conveyor = ["image139", *(f"images{i:04d}" for i in range(39))]
    sides = _sides("conveyor", conveyor)
    assert sides["test"] == [f"images{i:04d}" for i in range(31, 39)]
    assert sides["validation"] == [f"images{i:04d}" for i in range(27, 31)]


def test_both_fields_of_a_thin_section_sample_stay_on_one_side():
    stems = ["10a", "11a", "2a", "2b", "3a", "3b", "4a", "4b", "5a", "5b", "6a", "6b", "7a", "7b"]
    assert _sides("thinsections", stems) == {
        "train": ["10a", "11a", "2a", "2b", "3a", "3b", "4a", "4b"],
        "validation": ["5a", "5b"],
        "test": ["6a", "6b", "7a", "7b"],
    }


def test_lumenstone_series_are_split_separately():
    stems = [f"{i:02d}" for i in range(1, 11)] + [f"a{i:02d}" for i in range(1, 21)]
    sides = _sides("lumenstone", stems)
    assert sides["test"] == ["09", "10", "a17", "a18", "a19", "a20"]
    assert sides["validation"] == ["08", "a15", "a16"]


def test_a_stratum_of_fewer_than_three_samples_cannot_be_split():
    with pytest.raises(ValueError, match="series 'a' has 2 sample"):
        assign_splits("lumenstone", ["01", "02", "03", "a01", "a02"])


def test_synthetic_seeds_split_by_range():
    assert [seed_split(s) for s in (0, 4999, 5000, 9999, 10000)] == [
        "train",
        "train",
        "validation",
        "validation",
        "test",
    ]


def test_a_config_whose_synthetic_seeds_cross_to_another_side_is_refused(tmp_path):
    base = {"name": "x", "out": str(tmp_path), "train": [{"kind": "synth", "seed": 0}]}
    TrainConfig.model_validate({**base, "val": [{"kind": "synth", "seed": 5000, "count": 3}]})
    with pytest.raises(ValueError, match="seeds 4999-5000 are not all train seeds"):
        TrainConfig.model_validate({**base, "train": [{"kind": "synth", "seed": 4999, "count": 2}]})
    with pytest.raises(ValueError, match="seeds 10000-10000 are not all validation seeds"):
        TrainConfig.model_validate({**base, "val": [{"kind": "synth", "seed": 10000, "count": 1}]})


def _folder(root: Path, stems: list[str]) -> Path:
    for index, stem in enumerate(stems, start=1):
        write_image(root / "images" / f"{stem}.png", np.full((40, 40, 3), 90, np.uint8))
        labels = np.zeros((40, 40), np.uint32)
        labels[5:20, 5:20] = index
        (root / "labels").mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(root / "labels" / f"{stem}.tif", labels)
    return root


def test_a_source_takes_only_its_side_and_may_not_name_another(tmp_path):
    root = _folder(tmp_path / "grains", ["a", "b", "c", "d", "e", "f"])
    source = DataSource(kind="grains", path=str(root))
    names = {
        side: [item.name for item in load_source(source, None, split=side)]
        for side in ("train", "validation", "test")
    }
    assert names == {"train": ["a", "b", "c"], "validation": ["d"], "test": ["e", "f"]}
    assert [item.name for item in load_source(source, None)] == ["a", "b", "c", "d", "e", "f"]
    leaking = DataSource(kind="grains", path=str(root), stems=["a", "e"])
    with pytest.raises(InputError, match=r"grains: the train data names .*: e \(test\)"):
        load_source(leaking, None, split="train")
    unknown = DataSource(kind="grains", path=str(root), exclude=["z"])
    with pytest.raises(InputError, match=r"z \(not in the folder\)"):
        load_source(unknown, None, split="validation")


def test_a_training_run_reads_its_folders_by_the_rule(tmp_path):
    root = _folder(tmp_path / "data" / "grains", ["a", "b", "c", "d", "e", "f"])
    path = tmp_path / "c.yaml"
    source = {"kind": "grains", "path": str(root)}
    path.write_text(yaml.safe_dump({"name": "x", "out": "run", "train": [source], "val": [source]}))
    config = read_train_config(path)
    assert [i.name for i in load_source(config.val[0], 20.0, split="validation")] == ["d"]


def test_images_and_labels_must_pair_up_and_fit(tmp_path):
    root = _folder(tmp_path / "grains", ["a", "b", "c"])
    (root / "labels" / "b.tif").unlink()
    with pytest.raises(InputError, match=r"b.tif: missing: the labels of b"):
        load_gravel(root)
    _folder(tmp_path / "grains", ["a", "b", "c"])
    tifffile.imwrite(root / "labels" / "x.tif", np.zeros((40, 40), np.uint32))
    with pytest.raises(InputError, match=r"x.tif: has no image of the same name"):
        load_gravel(root)
    (root / "labels" / "x.tif").unlink()
    tifffile.imwrite(root / "labels" / "a.tif", np.ones((40, 41), np.uint32))
    with pytest.raises(InputError, match=r"a.tif: labels \(40, 41\) and image \(40, 40\) differ"):
        load_gravel(root)[0].read_pair()
    tifffile.imwrite(root / "labels" / "a.tif", np.zeros((40, 40), np.uint32))
    with pytest.raises(InputError, match=r"a.tif: the label image holds no particle"):
        load_source(DataSource(kind="grains", path=str(root)), None)
