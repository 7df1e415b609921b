"""The docs' table generator (docs/docgen/, run as docs/tables.py): the tables show the
committed results, a placeholder that names nothing fails the build, and the README's zoo
table is checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBSP, NNBSP = "\u00a0", "\u202f"

# docs/ is no package: the generator is found there, as the mkdocs hook and docs/tables.py do
if str(ROOT / "docs") not in sys.path:
    sys.path.insert(0, str(ROOT / "docs"))

from docgen import cli, formatting, models, placeholders  # noqa: E402
from docgen.readme import README_BLOCKS, README_CARD_LINK  # noqa: E402
from docgen.results import PlaceholderError  # noqa: E402

# (table, arguments, a line or cell it must show): values from bench/results and the cards
KNOWN = [
    ("zoo", {}, "AP@0.5 0.394 on held-out real gravel (6_P1060355_0, 7_P1060359_3, 0.39 mm/px)"),
    ("zoo", {}, "| [`particles`](models/particles.md) |"),
    ("zoo", {}, "| 22.8 MB |"),
    ("zoo", {}, "mIoU 0.803 on held-out lumenstone (14 images: 03, 09, …, a59)"),
    ("zoo", {}, "mIoU 0.434 on held-out thinsections (4a, 4b, 7a, 7b), full resolution"),
    ("card", {"name": "particles"}, "AP@0.5 **0.394**"),
    ("card", {"name": "lumenstone"}, "| complex | chalcopyrite, galena, bornite,"),
    ("card", {"name": "thinsection"}, "| IoU, background pixels left out | 0.658 | 0.655 |  |"),
    (
        "particle_models",
        {"data": "gravel"},
        "| `particles` | 0.766 | 0.618 | 0.792 | 0.487 | 0.394 | 0.045 | 0.041 "
        f"| +23.6{NBSP}% | \u22122.4{NBSP}% | 1.28 |",
    ),
    ("particle_models", {"data": "conveyor"}, "| **0.840** | **0.738** | **0.052** | **0.051** |"),
    ("particle_models", {"data": "synthetic"}, f"| **+3.5{NBSP}%** | +1.1{NBSP}% |"),
    ("classical_particles", {}, f"| 0.154 | 0.546 | 0.252 | 0.061 | +88.0{NBSP}% | +81.2{NBSP}% |"),
    ("border_core_decoding", {}, "| **0.7, 12 px (chosen)** | 0.488 | 0.379 | **0.434** |"),
    ("paper000", {"data": "synthetic"}, "| RA-UNet++ border-core | **0.759** | **0.886** |"),
    ("paper000", {"data": "conveyor"}, "| U-Net foreground + watershed | **0.227** | **0.468** |"),
    ("section_rows", {}, "| defaults | 0.803 | 0.946 | 0.910 | 0.826 |"),
    ("section_rows", {"model": "lumenstone_zscore"}, "| defaults | **0.570** | **0.809** |"),
    ("section_rows", {"model": "thinsection", "dataset": "thinsections"}, "| defaults | 0.434 |"),
    ("ore_type_votes", {}, "| `lumenstone_zscore` | 13 of 14 | 09 (complex, is copper-nickel) |"),
    ("section_refine", {}, "| mIoU | 0.730 | 0.741 | **0.745** | 0.744 | 0.741 |"),
    ("section_tiles", {}, "0.559 / 0.797 †"),
    ("section_tiles", {}, "| **0.735** / 0.927 |"),
    ("xpl_vs_ppl", {}, "| **0.429** | **0.650** | **0.727** |"),
    ("thinsection_quartz", {}, "| 0.948 | 0.787 | 0.928 | 0.851 | 0.952 | 0.987 | 0.741 | 0.822 |"),
    ("colour_lut", {}, "| lumenstone (14 held-out images) | 0.350 | 0.181 | 0.670 | 0.479 |"),
    ("class_balance", {}, "| rarest ÷ commonest class present | 0.006 | 0.009 | 0.172 |"),
    ("class_balance", {"dataset": "thinsections"}, "| quartz |"),
    ("colour_correction", {}, f"| mild distortion, corrected | **0.781** | 98.9{NBSP}% | 0.783 |"),
    ("quartz_comparison", {}, "| U-Net | **0.942** | **0.688** | **0.826** | **0.750** |"),
    ("section_comparison", {}, "| UPerNet | **0.483** | **0.763** |"),
    ("particle_throughput", {}, "2.32 MP/s (0.43 s per megapixel)"),
    ("particle_stages", {}, f"| model forward | 1.29 | 73.2{NBSP}% |"),
    ("section_throughput", {}, f"| 96 | 94 | 0.98 | 2.77 | 6{NNBSP}419 |"),
    ("model_layout", {}, "| `particles` | 94 | 68 | 1.40× | 2.4e-5 |"),
]


@pytest.mark.parametrize(("name", "arguments", "expected"), KNOWN)
def test_tables_show_the_committed_results(name: str, arguments: dict, expected: str) -> None:
    assert expected in placeholders.render(name, **arguments)


def test_every_registered_table_renders() -> None:
    for name in placeholders.TABLES:
        arguments = {"name": "particles"} if name == "card" else {}
        assert placeholders.render(name, **arguments).strip()


def test_every_zoo_model_page_renders() -> None:
    for name in models.zoo_names():
        page = placeholders.render("card", name=name)
        assert page.startswith(f"# `{name}`") and "## Metrics" in page


def test_validation_numbers_are_said_to_be_so() -> None:
    rows = {line.split("`")[1]: line for line in models.zoo().splitlines()[2:]}
    assert "a validation number" in rows["lumenstone"]
    assert "a validation number" in rows["thinsection"]
    assert "a validation number" not in rows["particles"]
    assert "(../benchmarks/index.md#data-splits)" in placeholders.expand(
        "<!-- card: lumenstone -->", root="../"
    )


def test_readme_link_goes_to_the_card() -> None:
    table = models.zoo(link=README_CARD_LINK)
    assert "[`thinsection`](src/orescope/zoo/thinsection/card.yaml)" in table
    assert "[`lumenstone`](../models/lumenstone.md)" in placeholders.expand(
        "<!-- table: zoo -->", root="../"
    )


def test_bold_marks_the_best_and_its_ties_only() -> None:
    cells = formatting.best_marked(
        [0.5, 0.7, 0.7004, None, 0.9],
        formatting.score,
        "max",
        compete=[True, True, True, True, False],
    )
    assert cells == ["0.500", "**0.700**", "**0.700**", "", "0.900"]
    assert formatting.best_marked([0.2, 0.1], formatting.score, "min") == ["0.200", "**0.100**"]
    errors = formatting.best_marked([-0.018, 0.024, 0.3], formatting.signed_pct, "absmin")
    assert errors == [f"**\u22121.8{NBSP}%**", f"+2.4{NBSP}%", f"+30.0{NBSP}%"]
    assert formatting.best_marked([0.3, 0.1], formatting.score) == ["0.300", "0.100"]


def test_small_table_bolds_per_column() -> None:
    rows = [("a", {"ap": 0.5, "err": 0.10}), ("b", {"ap": 0.6, "err": -0.05})]
    columns = [
        formatting.Column("AP", "ap", formatting.score, "max"),
        formatting.Column("error", "err", formatting.signed_pct, "absmin"),
        formatting.Column("unused", "nothing"),
    ]
    assert formatting.records_table("method", rows, columns).splitlines() == [
        "| method | AP | error |",
        "| --- | ---: | ---: |",
        f"| a | 0.500 | +10.0{NBSP}% |",
        f"| b | **0.600** | **\u22125.0{NBSP}%** |",
    ]


def test_rounding_is_of_the_number_as_written() -> None:
    assert formatting.score(0.4335) == "0.434"  # a card's four decimals, not binary 0.43349...
    assert formatting.score(-0.0001) == "0.000"
    assert formatting.signed_pct(-0.0004) == f"0.0{NBSP}%"


def test_values_come_from_the_files() -> None:
    page = (
        'AP <!-- value: particle_models:gravel."particles (zoo)".ap50:score -->, '
        "<!-- value: section_models:lumenstone.lumenstone.stems:len --> photos, "
        "<!-- value: card/lumenstone:tile:int --> px, "
        "<!-- value: section_models:lumenstone.lumenstone_upernet.miou - "
        "section_models:lumenstone.lumenstone_pspnet.miou:score --> better, "
        "<!-- value: py/src/orescope/preprocess/colour.py:MIN_SPREAD:text -->"
    )
    assert placeholders.expand(page) == "AP 0.394, 14 photos, 768 px, 0.009 better, 0.1"


def test_placeholders_in_code_are_left_alone() -> None:
    page = "```\n<!-- table: nothing -->\n```\nsee `<!-- value: nothing:x -->`"
    assert placeholders.expand(page) == page


@pytest.mark.parametrize(
    "page",
    [
        "<!-- table: no_such_table -->",
        "<!-- table: particle_models data=no_such_set -->",
        "<!-- table: zoo colour=red -->",
        "<!-- card: no_such_model -->",
        "text <!-- table: zoo --> inline",
        "<!-- value: particle_models:gravel.Otsu.no_such_key -->",
        "<!-- value: no_such_file:a.b -->",
        "<!-- value: particle_models:gravel.Otsu.ap50:no_such_format -->",
        "<!-- value: particle_models -->",
    ],
)
def test_a_placeholder_that_names_nothing_raises(page: str) -> None:
    with pytest.raises(PlaceholderError):
        placeholders.expand(page, where="page.md")


def test_every_docs_page_expands() -> None:
    docs = ROOT / "docs"
    for page in sorted([*docs.glob("benchmarks/*.md"), *docs.glob("models/*.md")]):
        src_uri = page.relative_to(docs).as_posix()
        root = placeholders.root_of(src_uri)
        out = placeholders.expand(page.read_text(), root=root, where=src_uri)
        assert "<!-- table:" not in out and "<!-- value:" not in out and "<!-- card:" not in out


def test_readme_check_fails_when_stale_and_passes_when_fresh(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    examples = "".join(
        f"<!-- {name} -->\nold\n<!-- /{name} -->\n" for name in list(README_BLOCKS)[1:]
    )
    stale = "# x\n\n<!-- zoo-table -->\n| old | table |\n<!-- /zoo-table -->\n\n"
    readme.write_text(stale + examples + "more\n")
    assert cli.main(["readme", str(readme), "--check"]) == 1
    message = capsys.readouterr().err.strip()
    assert "stale" in message and len(message.splitlines()) == 1
    assert cli.main(["readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# x\n\n<!-- zoo-table -->\n\n| model |") and text.endswith("more\n")
    assert "(src/orescope/zoo/particles/card.yaml)" in text and "old" not in text
    assert "$ orescope demo --out demo-output\n" in text
    assert "| pyrrhotite | 68.9 | 82 |" in text  # readme_examples.json: 68.8656 % in 82 grains
    assert cli.main(["readme", str(readme), "--check"]) == 0
    readme.write_text("no markers\n")
    assert cli.main(["readme", str(readme), "--check"]) == 2


def test_the_readmes_generated_blocks_are_fresh() -> None:
    assert cli.main(["readme", str(ROOT / "README.md"), "--check"]) == 0


def test_the_generator_does_not_import_torch() -> None:
    code = (
        "import runpy, sys; runpy.run_path('docs/tables.py', run_name='docs_tables'); "
        "sys.exit('torch' in sys.modules or 'docgen.placeholders' not in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
