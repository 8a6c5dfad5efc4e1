"""A local pool of worker processes, each pinned to one thread (``ModelSpec.threads``), so
N workers use N cores without oversubscribing them."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ragloop.executors.base import (
    EXECUTORS,
    RETRIES,
    Executor,
    InlineExecutor,
    Outcome,
    R,
    T,
    Window,
)

_TASK: Any = None  # the task this worker process unpickled once and keeps

_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "TOKENIZERS_PARALLELISM": "false"}


def _init(task: Any) -> None:
    global _TASK
    os.environ.update(_ONE_THREAD)
    _TASK = task


def _run(item: Any) -> Any:
    return _TASK(item)


class LocalPoolExecutor:
    name = "local"

    def __init__(self, workers: int):
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._task: Any = None

    def _fresh_pool(self, task: Any) -> ProcessPoolExecutor:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        # spawn: a forked copy of a process that already runs ONNX/llama.cpp threads can hang
        self._pool = ProcessPoolExecutor(self.workers,
                                         mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init, initargs=(task,))
        self._task = task
        return self._pool

    def _submit(self, item: Any) -> Future | None:
        try:
            return self._pool.submit(_run, item)
        except BrokenProcessPool:  # a worker died since the last result was read
            return None

    def map(self, task: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        if self._pool is None or self._task is not task:
            self._fresh_pool(task)
        window = Window(items, self._submit, 2 * self.workers)
        for item, future in window:
            try:
                if future is None:
                    raise BrokenProcessPool(f"worker died before {item!r} was sent")
                yield Outcome(item, future.result())
            except BrokenProcessPool:
                # a worker died: what was in flight is lost (what finished is kept); retry
                # the lost items one at a time on a fresh pool, so one that kills its worker
                # again is the only one reported
                in_flight = [(item, future), *window.drain()]
                self._fresh_pool(task)
                for lost_item, lost_future in in_flight:
                    if lost_future is not None and lost_future.done() \
                            and lost_future.exception() is None:
                        yield Outcome(lost_item, lost_future.result())
                    else:
                        yield self._retry(task, lost_item)

    def _retry(self, task: Any, item: T) -> Outcome:
        error = "its worker process died"
        for _ in range(RETRIES):
            try:
                return Outcome(item, self._pool.submit(_run, item).result())
            except BrokenProcessPool:
                self._fresh_pool(task)
                error = "its worker process died twice (retried once)"
        return Outcome(item, error=error)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> LocalPoolExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@EXECUTORS.register("local")
def build_local(settings) -> Executor:
    if settings.workers == 1:
        return InlineExecutor()  # one worker: no process to start, no models to load twice
    return LocalPoolExecutor(settings.workers)
