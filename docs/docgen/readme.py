"""The README's generated blocks: the zoo table linking to the cards, and what the README's
examples printed and measured (``bench/readme_examples.py``'s run), each between its
``<!-- NAME -->`` and ``<!-- /NAME -->`` markers."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from .formatting import integer, markdown_table
from .models import zoo
from .results import PlaceholderError, results

README_CARD_LINK = "src/orescope/zoo/{name}/card.yaml"


def readme_example(name: str) -> str:
    """What a README example printed and measured, from ``bench/readme_examples.py``'s run."""
    run = results("readme_examples")[name]
    block = f"```text\n$ {run['command']}\n{run['printed']}\n```"
    if name == "particles":
        summary = run["summary"]
        sizes = [f"{summary[f'mass_P{p}_mm']:.1f} mm" for p in (20, 50, 80)]
        fit = f"{summary['rosin_rammler_x50']:.1f} mm, {summary['rosin_rammler_n']:.2f}"
        header = ["particles", "in the PSD", "P20 (mass)", "P50 (mass)", "P80 (mass)"]
        row = [integer(summary["particles"]), integer(summary["particles_in_psd"]), *sizes, fit]
        return block + "\n\n" + markdown_table([*header, "Rosin–Rammler x50, n"], [row])
    if name == "minerals":
        rows = [
            [m["mineral"], f"{m['area_percent']:.1f}", integer(m["grains"])] for m in run["modal"]
        ]
        return block + "\n\n" + markdown_table(["mineral", "area %", "grains"], rows)
    return block


README_BLOCKS: dict[str, Callable[[], str]] = {
    "zoo-table": partial(zoo, link=README_CARD_LINK),
    "example: demo": partial(readme_example, "demo"),
    "example: particles": partial(readme_example, "particles"),
    "example: minerals": partial(readme_example, "minerals"),
}


def readme_block(readme: str, name: str) -> tuple[int, int]:
    """Start and end offsets of the text between ``<!-- NAME -->`` and ``<!-- /NAME -->``."""
    start_marker, end_marker = f"<!-- {name} -->", f"<!-- /{name} -->"
    start = readme.find(start_marker)
    end = readme.find(end_marker)
    if start < 0 or end < start:
        raise PlaceholderError(f"no {start_marker} ... {end_marker} block")
    return start + len(start_marker), end


def readme_with_generated(readme: str) -> str:
    """``readme`` with every generated block (the zoo table linking to the cards, the
    examples' output) regenerated between its markers."""
    for name, render_block in README_BLOCKS.items():
        start, end = readme_block(readme, name)
        readme = readme[:start] + "\n\n" + render_block() + "\n\n" + readme[end:]
    return readme
