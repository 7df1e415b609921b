"""Images processed side by side on a CPU: one worker process per core, one torch thread each.

Decoding, measuring and writing an image run on one core while the other waits; two images at
a time, one per core, keep both busy, and on 2 cores that beats one image with two torch
threads (bench/particle_throughput.py measures both). Processes, not threads: the
per-particle loops hold the GIL, and torch's Python dispatch would wait for it.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from typing import TypeVar

import cv2
import torch
from rich.progress import track

Item = TypeVar("Item")
Result = TypeVar("Result")


def cpu_cores() -> int:
    """Cores this process may run on (its affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_count(requested: int | None, items: int, on_cpu: bool) -> int:
    """``requested`` workers, or one per core by default; never more than there are items.

    Only 1 where workers cannot start cheaply: off Linux (no safe ``fork``; a fresh
    interpreter would spend seconds importing torch) or when the model runs on a GPU.
    """
    if requested is not None and requested < 1:
        raise ValueError(f"workers must be at least 1, got {requested}")
    forkable = sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()
    if not (forkable and on_cpu):
        return 1
    return max(1, min(requested or cpu_cores(), items))


def _use_threads(torch_threads: int, opencv_threads: int) -> tuple[int, int]:
    """Set torch's and OpenCV's thread counts; returns the previous ones."""
    previous = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(torch_threads)
    cv2.setNumThreads(opencv_threads)
    return previous


def map_in_order(
    function: Callable[[Item], Result],
    items: list[Item],
    workers: int,
    description: str,
    progress: bool = True,
) -> Iterator[Result]:
    """``function`` of every item, yielded in the items' order, by ``workers`` processes
    (forked, so the loaded model is shared, not reloaded) with the cores split among them;
    in this process when ``workers`` is 1. ``function`` must be a module-level function (or
    a ``functools.partial`` of one) and its results picklable."""
    if workers <= 1:
        yield from map(function, track(items, description=description, disable=not progress))
        return
    threads = max(1, cpu_cores() // workers)
    # set before forking, so that no worker inherits a thread pool it would have to resize:
    # OpenCV's hangs when resized in a forked child
    previous = _use_threads(threads, threads)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.imap(function, items)
            yield from track(
                results, total=len(items), description=description, disable=not progress
            )
    finally:
        _use_threads(*previous)
