"""Threads of the calling process: for work whose parts are shared and thread-safe (an eval
run's examples through one pipeline; the local model serialises its own calls). Tasks need
not pickle. Results come in the order of the items, at most ``2 × workers`` in flight."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ragloop.executors.base import Outcome, R, T, Window


class ThreadExecutor:
    name = "threads"

    def __init__(self, workers: int, *, prefix: str = "ragloop"):
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=prefix)

    def map(self, task: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        window = Window(items, lambda item: self._pool.submit(task, item), 2 * self.workers)
        try:
            for item, future in window:
                yield Outcome(item, future.result())
        finally:
            for _, future in window.drain():  # interrupted: drop what has not started
                future.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ThreadExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
