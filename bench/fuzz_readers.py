"""Fuzz every reader of user files for a while: mutated seed files (tests/readers.py) until the
time is up; every outcome must be a read or one clean InputError naming the file. Prints and
writes bench/results/fuzz_readers.json: examples tried and failures found per reader (a failure
found is kept as a regression test in tests/test_readers_fuzz.py, then fixed).

    python bench/fuzz_readers.py [--seconds 600] [--readers png tiff ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

from orescope.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from readers import READERS, mutated, seeds  # noqa: E402  (the targets the tests run too)


def fuzz(reader: str, seconds: float) -> dict:
    """Examples tried on ``reader`` within ``seconds`` (runs of 200, each from a new random
    seed) and the first failure, if any."""
    suffix, read = READERS[reader]
    tried = [0]

    @settings(
        max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(data=st.data())
    def target(data: st.DataObject) -> None:
        content = data.draw(mutated(data.draw(st.sampled_from(seeds(reader)))))
        tried[0] += 1
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"input{suffix}"
            path.write_bytes(content)
            with contextlib.suppress(InputError):
                read(path)

    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        try:
            target()
        except (Exception, HypothesisException):
            return {"examples": tried[0], "failures": 1, "first": traceback.format_exc(limit=3)}
    return {"examples": tried[0], "failures": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="per reader")
    parser.add_argument("--readers", nargs="+", choices=sorted(READERS), default=sorted(READERS))
    args = parser.parse_args()
    results = {}
    for reader in args.readers:
        results[reader] = {"seconds": args.seconds, **fuzz(reader, args.seconds)}
        found = results[reader]
        print(f"{reader}: {found['examples']} examples, {found['failures']} failures")
    output = ROOT / "bench" / "results" / "fuzz_readers.json"
    output.write_text(json.dumps(results, indent=2))
    print(f"written {output}")


if __name__ == "__main__":
    main()
