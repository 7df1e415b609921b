"""``python -m orescope``: the command line, where the ``orescope`` script is not on the PATH."""

from orescope.cli.main import app

app(prog_name="orescope")
