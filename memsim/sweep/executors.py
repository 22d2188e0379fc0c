"""Executors: one submit / as-completed interface over local processes and Dask.

``executor.submit(fn, *args) -> handle`` starts a task; ``executor.as_completed()`` yields
``(handle, result, error)`` for every submitted task as it finishes (``error`` is the exception
when the task itself raised, else None); ``close()`` releases workers. Tasks are plain module
level functions with picklable arguments, so they run unchanged under ``spawn`` and on remote
Dask workers.

- ``InlineExecutor``: runs tasks in this process at submit time (``--workers 0``; debugging).
- ``LocalExecutor``: ``concurrent.futures.ProcessPoolExecutor`` on a ``spawn`` context (safe
  with threads, numba and on every OS). A worker that dies (OOM, SIGKILL) breaks the pool: the
  executor starts a new pool and resubmits every unfinished task, up to ``max_restarts`` times.
- ``DaskExecutor``: a ``distributed.Client`` on an existing scheduler (``tcp://host:port``) or a
  ``LocalCluster`` bound to 127.0.0.1. Dask reruns the tasks of a lost worker on the others, so a
  killed worker costs no point.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from memsim.errors import InputError


class InlineExecutor:
    """Runs each task immediately in the calling process."""

    workers = 1

    def __init__(self):
        self._done: deque = deque()
        self._ids = itertools.count()

    def submit(self, fn, *args):
        handle = next(self._ids)
        try:
            self._done.append((handle, fn(*args), None))
        except Exception as err:  # noqa: BLE001 - reported to the caller per task
            self._done.append((handle, None, err))
        return handle

    def as_completed(self):
        while self._done:
            yield self._done.popleft()

    def close(self) -> None:
        self._done.clear()


class LocalExecutor:
    """``workers`` local processes (spawn); survives a dying worker by restarting the pool."""

    def __init__(self, workers: int, max_restarts: int = 3):
        self.workers = max(1, int(workers))
        self.max_restarts = max_restarts
        self._ctx = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(self.workers, mp_context=self._ctx)
        self._tasks: dict = {}  # future -> (handle, fn, args)
        self._ids = itertools.count()
        self._restarts = 0

    def submit(self, fn, *args):
        handle = next(self._ids)
        self._tasks[self._pool.submit(fn, *args)] = (handle, fn, args)
        return handle

    def _restart(self) -> None:
        self._restarts += 1
        if self._restarts > self.max_restarts:
            raise RuntimeError(f"local workers died {self._restarts} times; giving up")
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = ProcessPoolExecutor(self.workers, mp_context=self._ctx)
        pending = list(self._tasks.values())
        self._tasks = {self._pool.submit(fn, *args): (h, fn, args) for h, fn, args in pending}

    def as_completed(self):
        while self._tasks:
            done, _ = wait(list(self._tasks), return_when=FIRST_COMPLETED)
            broken = False
            for future in done:
                try:
                    result, error = future.result(), None
                except BrokenProcessPool:
                    broken = True
                    continue
                except Exception as err:  # noqa: BLE001 - the task raised
                    result, error = None, err
                handle, _, _ = self._tasks.pop(future)
                yield handle, result, error
            if broken:
                self._restart()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _require_dask():
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise InputError("Dask is not installed: pip install 'memsim[dask]' (or "
                         "'dask[distributed]') to use --scheduler or --dask-local",
                         path="--scheduler") from None
    return distributed


class DaskExecutor:
    """Tasks on a Dask cluster: ``address`` (``tcp://host:port``) or a local cluster of
    ``local_workers`` single-threaded worker processes on 127.0.0.1."""

    def __init__(self, address: str | None = None, local_workers: int | None = None,
                 retries: int = 3):
        distributed = _require_dask()
        self._cluster = None
        self.retries = retries
        if address is None:
            n = max(1, int(local_workers or 1))
            self._cluster = distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=50)
            self.client = distributed.Client(self._cluster)
        else:
            try:
                self.client = distributed.Client(address, timeout="20s")
            except (OSError, TimeoutError, ValueError) as err:
                raise InputError(f"cannot reach the Dask scheduler ({err})", field="",
                                 path="--scheduler") from None
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        self._futures: dict = {}
        self._ids = itertools.count()
        self._ac = None

    def submit(self, fn, *args):
        handle = next(self._ids)
        # pure=False: every submission runs; retries cover a worker lost mid-task
        future = self.client.submit(fn, *args, pure=False, retries=self.retries)
        self._futures[future] = handle
        if self._ac is not None:
            self._ac.add(future)
        return handle

    def as_completed(self):
        from distributed import as_completed

        self._ac = as_completed(list(self._futures))
        for future in self._ac:
            handle = self._futures.pop(future)
            try:
                result, error = future.result(), None
            except Exception as err:  # noqa: BLE001 - the task raised
                result, error = None, err
            future.release()
            yield handle, result, error
        self._ac = None

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(workers: int | None = None, scheduler: str | None = None,
                  dask_local: int | None = None):
    """The executor the CLI options ask for (at most one of them): local processes by default
    (``workers``, default the CPU count)."""
    chosen = [o for o, v in (("--workers", workers), ("--scheduler", scheduler),
                             ("--dask-local", dask_local)) if v is not None]
    if len(chosen) > 1:
        raise InputError(f"choose one of --workers, --scheduler, --dask-local (got "
                         f"{' and '.join(chosen)})", path="memsim sweep")
    if scheduler is not None:
        return DaskExecutor(address=scheduler)
    if dask_local is not None:
        if dask_local < 1:
            raise InputError(f"--dask-local needs at least 1 worker (got {dask_local})",
                             path="memsim sweep")
        return DaskExecutor(local_workers=dask_local)
    if workers is None:
        import os

        workers = max(1, os.cpu_count() or 1)
    if workers < 0:
        raise InputError(f"--workers must be ≥ 0 (got {workers})", path="memsim sweep")
    return InlineExecutor() if workers == 0 else LocalExecutor(workers)
