"""Markdown tables for the docs and the README, generated from the committed results.

Every benchmark number on the site is read from ``bench/results/*.json`` and every model fact
from ``src/orescope/zoo/*/card.yaml`` here, so re-running a bench (or re-scoring a model)
updates the pages and the README's zoo table without anyone retyping a number. The functions
are pure: they read files and return Markdown. Pages name them in placeholders, whose syntax
:mod:`placeholders` describes; the mkdocs hook ``docs/hooks.py`` expands them on every page.

The modules, by job:

``results``
    reading the results files, the cards and Python constants; ``dig``; ``PlaceholderError``.
``formatting``
    number formats, the best value in bold, pipe tables (``Column``, ``records_table``).
``particles``, ``sections``, ``thinsections``, ``colour``, ``speed``
    the benchmark tables, by subject.
``models``, ``metrics``, ``training``, ``cards``
    the zoo table and its headlines, and a model's page from its card.
``placeholders``
    the registry ``TABLES`` of the tables that pages name, and the placeholders' expansion.
``readme``, ``cli``
    the README's generated blocks, and the command line.

Nothing here imports torch (nor ``orescope``): the docs build stays light.

Command line (from the repository root; ``docs/tables.py`` is its entry)::

    python docs/tables.py readme README.md          # rewrite README.md's generated blocks
    python docs/tables.py readme README.md --check  # exit 1 when one of them is stale
    python docs/tables.py show NAME [key=value ...] # print one table
    python docs/tables.py list                      # the table names
"""
