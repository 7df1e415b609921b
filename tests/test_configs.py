"""Every committed training config validates, writes into runs/, reads ../shared/data, names
only images that exist, and takes its real images from its own side of the split rule: train
sources from the train side, validation sources from the validation side, never the test side
that the cards and the README report on."""

import re
from pathlib import Path

import pytest
import yaml

from orescope.io import load_conveyor, load_gravel, load_lumenstone, load_thinsections
from orescope.io.splits import assign_splits, seed_split
from orescope.train.config import TrainConfig, read_train_config
from orescope.train.data import selected_stems
from orescope.zoo import read_model_card, zoo_names

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))
STEMS = {
    "gravel": lambda root: [s.stem for s in load_gravel(root)],
    "grains": lambda root: [s.stem for s in load_gravel(root)],
    "conveyor": lambda root: [s.stem for s in load_conveyor(root)],
    "lumenstone": lambda root: [s.stem for s in load_lumenstone(root)[0]],
    "thinsections": lambda root: [s.stem for s in load_thinsections(root)[0]],
}


def _configs() -> list:
    return [pytest.param(path, id=str(path.relative_to(ROOT / "configs"))) for path in CONFIGS]


def test_the_configs_are_found():
    assert len(CONFIGS) >= 20 and ROOT / "configs" / "particles.yaml" in CONFIGS


@pytest.mark.parametrize("path", _configs())
def test_config_validates_and_writes_into_runs(path: Path):
    config = read_train_config(path)
    assert Path(config.out).is_relative_to(ROOT / "runs")
    for source in config.train + config.val:
        if source.kind not in ("synth", "synth_volume"):
            assert Path(source.path or "").parent == ROOT.parent / "shared" / "data"


@pytest.mark.realdata
@pytest.mark.parametrize("path", _configs())
def test_every_config_takes_its_images_from_its_own_side_of_the_split(path: Path, shared_data):
    config = read_train_config(path)
    for split, sources in (("train", config.train), ("validation", config.val)):
        for source in sources:
            if source.kind in ("synth", "synth_volume"):
                assert {seed_split(source.seed), seed_split(source.seed + source.count - 1)} == {
                    split
                }
                continue
            stems = STEMS[source.kind](source.path)
            sides = assign_splits(source.kind, stems)
            chosen = selected_stems(stems, source, split)
            assert chosen and {sides[stem] for stem in chosen} == {split}


@pytest.mark.realdata
@pytest.mark.parametrize("path", _configs())
def test_config_names_only_images_that_exist(path: Path, shared_data: Path):
    config = read_train_config(path)
    for source in config.train + config.val:
        if source.kind in ("synth", "synth_volume"):
            continue
        named = set(source.exclude) | set(source.stems or [])
        missing = named - set(STEMS[source.kind](source.path))
        assert not missing, f"{source.kind} has no images {sorted(missing)}"


@pytest.mark.parametrize("name", zoo_names())
def test_every_round_of_a_zoo_model_was_trained_by_a_committed_config(name):
    rounds = read_model_card(name).training.rounds
    assert rounds and rounds[0].init is None  # the history goes back to a model from scratch
    assert rounds[-1].best_epoch and rounds[-1].validation and rounds[-1].validation_data
    for step in rounds:
        config = read_train_config(ROOT / step.command.removeprefix("orescope train "))
        assert step.epochs == config.epochs and step.patches_per_epoch == config.patches_per_epoch
        assert [source["kind"] for source in step.data] == [s.kind for s in config.train]


def _yaml_blocks(page: Path) -> list:
    return [
        pytest.param(block, id=f"{page.relative_to(ROOT)}:{number}")
        for number, block in enumerate(re.findall(r"```yaml\n(.*?)```", page.read_text(), re.S))
    ]


@pytest.mark.parametrize(
    "block",
    [
        p
        for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
        for p in _yaml_blocks(page)
    ],
)
def test_every_training_config_shown_in_the_readme_and_docs_validates(block):
    document = yaml.safe_load(block)
    if "train" in document:  # a whole training config, not a fragment of one
        TrainConfig.model_validate(document)
