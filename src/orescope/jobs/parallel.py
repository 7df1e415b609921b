"""Tasks side by side, one way for every job: in this process (the default), on a local Dask
cluster of one-core worker processes (``--workers N``), or on any Dask cluster
(``--scheduler``).

Processes, not threads: the per-particle loops hold the GIL, and torch's Python dispatch would
wait for it. Dask's distributed scheduler runs the same tasks on a workstation's cores and on a
cluster. Two one-core workers do 1.7 times the work of one, but on 2 cores one process, whose
torch uses both, is faster still (bench/batch_scaling.py), so one is the default; more cores
and clusters are where workers pay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import dask

from orescope.errors import InputError

Mapper = Callable[..., Iterable[Any]]
SCHEDULER_TIMEOUT_S = 20  # a scheduler that does not answer by then is reported
# the thread pools a local worker keeps to one core: BLAS and OpenMP (torch), and OpenCV's
ONE_CORE = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENCV_FOR_THREADS_NUM")


def worker_count(requested: int | None, items: int, on_cpu: bool) -> int:
    """``requested`` workers, or one (this process) by default; never more than there are
    items, and one when the model runs on a GPU."""
    if requested is not None and requested < 1:
        raise ValueError(f"workers must be at least 1, got {requested}")
    if not on_cpu:
        return 1
    return max(1, min(requested or 1, items))


@contextmanager
def task_map(
    workers: int, scheduler: str | None = None, lost: Callable[[str], Any] | None = None
) -> Iterator[Mapper]:
    """The ``map(task, items)`` every job runs its tasks with (images, chunks of a volume),
    yielding the results in the items' order as they come: this process's own ``map`` for one
    worker and no scheduler; else the Dask cluster at ``scheduler``, or a local one of
    ``workers`` processes with one thread each (torch, BLAS and OpenCV on one core each).
    Each worker loads a model once, on its first task, and keeps it (``shared_model``). A
    task whose worker dies is retried once on another; if that one dies too, ``lost(why)``
    stands in for its result (by default the run stops with Dask's error).

    Raises
    ------
    InputError
        When no scheduler answers at ``scheduler`` within :data:`SCHEDULER_TIMEOUT_S`.
    """
    if not scheduler and workers <= 1:
        yield map
        return
    from distributed import Client

    with ExitStack() as stack:
        address = scheduler
        if address is None:
            address = stack.enter_context(local_cluster(workers)).scheduler_address
        try:
            client = stack.enter_context(Client(address, timeout=f"{SCHEDULER_TIMEOUT_S}s"))
        except (OSError, TimeoutError):
            reason = f"no Dask scheduler answered at {address} within {SCHEDULER_TIMEOUT_S} s"
            raise InputError(address, reason) from None
        yield lambda task, items: (
            _result(future, lost) for future in client.map(task, items, pure=False)
        )


@contextmanager
def local_cluster(workers: int) -> Iterator[Any]:
    """A local Dask cluster of ``workers`` worker processes of one thread each (torch, BLAS
    and OpenCV on one core each), handing out one task at a time a worker, so that a worker
    that dies takes no other task along, and retrying such a task once."""
    from distributed import LocalCluster

    one_core = {f"distributed.nanny.pre-spawn-environ.{name}": 1 for name in ONE_CORE}
    once = {
        "distributed.scheduler.allowed-failures": 1,
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with dask.config.set({**one_core, **once}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        with cluster:
            yield cluster


def _result(future: Any, lost: Callable[[str], Any] | None) -> Any:
    """A task's result; ``lost(why)`` when its workers died and ``lost`` is given."""
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        if lost is None:
            raise
        return lost("its worker process died, and again on a second try")
