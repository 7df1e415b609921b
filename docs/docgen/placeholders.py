"""The placeholders of the docs pages, and the registry of the tables they name.

``TABLES`` maps the names that pages use in placeholders to the table functions;
:func:`expand` substitutes the placeholders (the mkdocs hook ``docs/hooks.py`` calls it for
every page):

``<!-- table: NAME [key=value ...] -->``
    on a line of its own: the table ``NAME`` of ``TABLES``, called with the keyword arguments.
``<!-- card: NAME -->``
    on a line of its own: the whole page of the zoo model ``NAME``, rendered from its card.
``<!-- value: FILE:PATH[:FORMAT] -->``
    inline: one number. ``FILE`` is a results file's stem (``particle_models``),
    ``card/NAME``, or ``py/PATH`` for the literal constants of a repository Python file (a
    method's fixed thresholds, read without importing it). ``PATH`` is keys joined by dots,
    list items by index (``-1`` the last); a key holding a dot, a colon or a space is quoted
    ``"..."``. ``FORMAT`` is one of ``FORMATS`` or ``fN`` (N decimals), ``xN`` (N decimals
    and ×), ``eN`` (scientific); default ``score``. References joined by `` / ``, `` - ``,
    `` + `` or `` * `` (spaces around) give their quotient, difference, sum or product, left
    to right; the format then ends the last one. Example::

        <!-- value: particle_models:gravel."particles (zoo)".ap50:score -->

A name, file, key or format that does not exist raises :class:`PlaceholderError`: a page never
shows a blank where a number should be.
"""

from __future__ import annotations

import inspect
import posixpath
import re
import shlex
from collections.abc import Callable
from typing import Any

from .cards import card_page
from .colour import colour_correction, colour_lut
from .formatting import formatter
from .models import zoo
from .particles import (
    border_core_decoding,
    classical_particles,
    paper000,
    particle_learning_curve,
    particle_models,
    particle_sides,
    particle_size_estimate,
)
from .restore import restore_by_wetness, restore_methods, restore_training
from .results import PlaceholderError, dig, source
from .sections import (
    class_balance,
    ore_type_votes,
    section_comparison,
    section_refine,
    section_rows,
    section_scores,
    section_tiles,
    training_curves,
)
from .speed import (
    batch_scaling,
    fuzz_readers,
    model_layout,
    particle_memory,
    particle_stages,
    particle_throughput,
    resume_kills,
    section_throughput,
)
from .thinsections import quartz_comparison, thinsection_quartz, xpl_vs_ppl

TABLES: dict[str, Callable[..., str]] = {
    "zoo": zoo,
    "card": card_page,
    "particle_models": particle_models,
    "particle_sides": particle_sides,
    "particle_learning_curve": particle_learning_curve,
    "particle_size_estimate": particle_size_estimate,
    "classical_particles": classical_particles,
    "border_core_decoding": border_core_decoding,
    "paper000": paper000,
    "section_rows": section_rows,
    "training_curves": training_curves,
    "section_scores": section_scores,
    "ore_type_votes": ore_type_votes,
    "section_refine": section_refine,
    "section_tiles": section_tiles,
    "xpl_vs_ppl": xpl_vs_ppl,
    "thinsection_quartz": thinsection_quartz,
    "colour_lut": colour_lut,
    "class_balance": class_balance,
    "colour_correction": colour_correction,
    "quartz_comparison": quartz_comparison,
    "section_comparison": section_comparison,
    "particle_throughput": particle_throughput,
    "particle_memory": particle_memory,
    "resume_kills": resume_kills,
    "batch_scaling": batch_scaling,
    "particle_stages": particle_stages,
    "section_throughput": section_throughput,
    "model_layout": model_layout,
    "restore_methods": restore_methods,
    "restore_training": restore_training,
    "restore_by_wetness": restore_by_wetness,
    "fuzz_readers": fuzz_readers,
}


def render(name: str, /, **arguments: str) -> str:
    """The table ``name`` with its keyword arguments; unknown names and arguments raise.
    A ``root`` argument reaches only the tables that take one."""
    if name not in TABLES:
        raise PlaceholderError(f"unknown table {name!r} (known: {', '.join(TABLES)})")
    function = TABLES[name]
    accepted = inspect.signature(function).parameters
    if "root" in arguments and "root" not in accepted:
        arguments = {k: v for k, v in arguments.items() if k != "root"}
    unknown = [key for key in arguments if key not in accepted]
    if unknown:
        raise PlaceholderError(
            f"table {name!r} takes no argument {', '.join(unknown)} (it takes: "
            f"{', '.join(accepted) or 'none'})"
        )
    return function(**arguments)


def _outside_quotes(text: str, pattern: str) -> list[re.Match[str]]:
    """Matches of ``pattern`` in ``text`` that are not inside "..."."""
    return [m for m in re.finditer(pattern, text) if text.count('"', 0, m.start()) % 2 == 0]


def _split(text: str, pattern: str) -> list[str]:
    pieces, start = [], 0
    for match in _outside_quotes(text, pattern):
        pieces.append(text[start : match.start()])
        start = match.end()
    return [*pieces, text[start:]]


def _unquote(key: str) -> str:
    key = key.strip()
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key


def _reference(operand: str, where: str) -> tuple[Any, str | None]:
    """The value of ``FILE:PATH[:FORMAT]`` and its format (None when not given)."""
    parts = _split(operand.strip(), r":")
    if len(parts) not in (2, 3) or not parts[0].strip() or not parts[1].strip():
        raise PlaceholderError(f"{where}: expected FILE:PATH[:FORMAT], got {operand.strip()!r}")
    path = [_unquote(key) for key in _split(parts[1].strip(), r"\.")]
    value = dig(source(parts[0].strip()), path, f"{where} {parts[0].strip()}")
    return value, parts[2].strip() if len(parts) == 3 else None


OPERATIONS: dict[str, Callable[[float, float], float]] = {
    "/": lambda a, b: a / b,
    "-": lambda a, b: a - b,
    "+": lambda a, b: a + b,
    "*": lambda a, b: a * b,
}


def value(body: str, where: str = "value") -> str:
    """The text of a ``<!-- value: ... -->`` placeholder's body (see the module's docstring)."""
    where = f"{where} {body.strip()!r}"
    pieces = _split(body.strip(), r"\s+[-+*/]\s+")
    operators = [m[0].strip() for m in _outside_quotes(body.strip(), r"\s+[-+*/]\s+")]
    results_ = [_reference(piece, where) for piece in pieces]
    if any(fmt is not None for _, fmt in results_[:-1]):
        raise PlaceholderError(f"{where}: only the last reference may name a format")
    number, fmt = results_[0][0], results_[-1][1] or "score"
    for operator, (operand, _) in zip(operators, results_[1:], strict=True):
        number = OPERATIONS[operator](float(number), float(operand))
    try:
        return formatter(fmt)(number)
    except (TypeError, ValueError) as error:
        if isinstance(error, PlaceholderError):
            raise
        raise PlaceholderError(f"{where}: cannot format {number!r} as {fmt}") from None


BLOCK = re.compile(r"^(?P<indent>[ \t]*)<!--\s*(?P<kind>table|card)\s*:(?P<body>.*?)-->[ \t]*$")
ANY = re.compile(r"<!--\s*(?P<kind>table|card|value)\s*:(?P<body>.*?)-->")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+).+?\1")


def _block(match: re.Match[str], root: str, where: str) -> str:
    words = shlex.split(match["body"])
    if not words:
        raise PlaceholderError(f"{where}: {match['kind']} placeholder without a name")
    if match["kind"] == "card":
        if len(words) != 1:
            raise PlaceholderError(f"{where}: a card placeholder takes one name, got {words}")
        markdown = render("card", name=words[0], root=root)
    else:
        arguments = {}
        for word in words[1:]:
            key, equals, argument = word.partition("=")
            if not equals:
                raise PlaceholderError(f"{where}: table argument {word!r} is not key=value")
            arguments[key] = argument
        markdown = render(words[0], root=root, **arguments)
    indent = match["indent"]
    return "\n".join(indent + line if line else line for line in ["", *markdown.splitlines(), ""])


def expand(markdown: str, root: str = "", where: str = "page") -> str:
    """``markdown`` with every placeholder replaced by its generated Markdown.

    ``root`` is the relative way from the page to the docs root (``"../"`` for
    ``models/particles.md``), for links that tables make. Placeholders in fenced code blocks
    and code spans are left as they are, so a page can show the syntax. A table or card
    placeholder must stand on a line of its own (with only indentation before it).
    """
    out = []
    fenced = False
    for number, line in enumerate(markdown.split("\n"), 1):
        here = f"{where}:{number}"
        if FENCE.match(line):
            fenced = not fenced
            out.append(line)
            continue
        if fenced:
            out.append(line)
            continue
        if block := BLOCK.match(line):
            out.append(_block(block, root, here))
            continue
        spans = [m.span() for m in CODE_SPAN.finditer(line)]

        def replace(
            match: re.Match[str], spans: list[tuple[int, int]] = spans, here: str = here
        ) -> str:
            if any(start <= match.start() < end for start, end in spans):
                return match[0]
            if match["kind"] != "value":
                raise PlaceholderError(
                    f"{here}: a {match['kind']} placeholder must stand on a line of its own"
                )
            return value(match["body"], here)

        out.append(ANY.sub(replace, line))
    return "\n".join(out)


def root_of(src_uri: str) -> str:
    """The relative way from a page (its path in docs/) to the docs root."""
    depth = posixpath.dirname(src_uri).count("/") + 1 if posixpath.dirname(src_uri) else 0
    return "../" * depth
