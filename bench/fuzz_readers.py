"""Fuzz every reader of user files for a while: mutated seed files (tests/readers.py) until the
time is up; every outcome must be a read or one clean InputError naming the file. Prints and
writes bench/results/fuzz_readers.json: examples tried, failures found and the slowest example
per reader (a failure found is kept as a regression test in tests/test_readers_fuzz.py, then
fixed).

    python bench/fuzz_readers.py [--seconds 600] [--jobs 2] [--readers png tiff ...] [--update]

A mutated header can claim any size up to the pixel limit, and decoding a gigapixel of zeros
takes minutes while proving nothing new, so the fuzzing runs with ``ORESCOPE_MAX_PIXELS`` at
``--max-pixels`` (2^22); the refusal of larger headers is tested on its own. An example that
takes longer than ``--hang`` seconds (20) is a failure: a reader that hangs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

from orescope.errors import InputError
from orescope.io.images import MAX_PIXELS_VARIABLE

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from readers import READERS, mutated, seeds  # noqa: E402  (the targets the tests run too)


class Hang(BaseException):
    """An example that took longer than the limit (not an Exception: readers that catch
    every Exception must not swallow it)."""


def _hang(signum: int, frame: object) -> None:
    raise Hang


def fuzz(reader: str, seconds: float, hang_s: int, kept: Path) -> dict:
    """Examples tried on ``reader`` within ``seconds`` (runs of 200, each from a new random
    seed), the slowest one's seconds, and the first failure, if any (its file written to
    ``kept``)."""
    suffix, read = READERS[reader]
    tried = [0]
    slowest = [0.0]
    last = [b""]

    # no shrinking: a hang would be retried for minutes; the failing file is kept instead
    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.generate,),
    )
    @given(data=st.data())
    def target(data: st.DataObject) -> None:
        content = data.draw(mutated(data.draw(st.sampled_from(seeds(reader)))))
        tried[0] += 1
        last[0] = content
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"input{suffix}"
            path.write_bytes(content)
            started = time.monotonic()
            signal.alarm(hang_s)
            try:
                with contextlib.suppress(InputError):
                    read(path)
            finally:
                signal.alarm(0)
            slowest[0] = max(slowest[0], time.monotonic() - started)

    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        try:
            target()
        except (Exception, HypothesisException, Hang):
            first = traceback.format_exc(limit=3)
            kept.write_bytes(last[0])
            return {"examples": tried[0], "failures": 1, "slowest_s": slowest[0], "first": first}
    return {"examples": tried[0], "failures": 0, "slowest_s": slowest[0]}


def fuzz_one(reader: str, seconds: float, hang_s: int, out: Path) -> dict:
    """:func:`fuzz` in a worker process of its own (its own alarm; the libraries' warnings
    about broken files, millions of lines, kept quiet)."""
    signal.signal(signal.SIGALRM, _hang)
    logging.disable(logging.WARNING)
    kept = out.with_name(f"fuzz_failure_{reader}{READERS[reader][0]}")
    return fuzz(reader, seconds, hang_s, kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="per reader")
    parser.add_argument("--readers", nargs="+", choices=sorted(READERS), default=sorted(READERS))
    parser.add_argument("--max-pixels", type=int, default=2**22)
    parser.add_argument("--hang", type=int, default=20, help="seconds an example may take")
    parser.add_argument("--jobs", type=int, default=1, help="readers fuzzed at once")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/fuzz_readers.json")
    parser.add_argument(
        "--update", action="store_true", help="keep the other readers' results already in --out"
    )
    args = parser.parse_args()
    os.environ[MAX_PIXELS_VARIABLE] = str(args.max_pixels)
    results = json.loads(args.out.read_text()) if args.update and args.out.is_file() else {}
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {
            reader: pool.submit(fuzz_one, reader, args.seconds, args.hang, args.out)
            for reader in args.readers
        }
        for reader, future in futures.items():
            found = future.result()
            results[reader] = {"seconds": args.seconds, "max_pixels": args.max_pixels, **found}
            print(f"{reader}: {found['examples']} examples, {found['failures']} failures")
            args.out.write_text(json.dumps(results, indent=2) + "\n")  # as each finishes
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
