"""Admission to the model: one job at a time, a bounded number waiting, the rest told to
come back later (503 + Retry-After) instead of hanging.

The embedded model is not re-entrant, so jobs run on a single worker thread. ``capacity``
counts the running job plus those waiting for it.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import CancelledError, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
RECENT_JOBS = 50


class QueueFullError(Exception):
    def __init__(self, retry_after_s: int, capacity: int):
        self.retry_after_s = retry_after_s
        self.capacity = capacity
        super().__init__(f"the model queue is full ({capacity} requests); "
                         f"retry after {retry_after_s} s")


class ModelGate:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self.pending = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragloop-model")
        # how long recent jobs ran on the model thread (not their wait in the queue)
        self._durations: deque[float] = deque(maxlen=RECENT_JOBS)
        self.last_active = time.monotonic()  # when a request last took or left a place

    def retry_after(self) -> int:
        """Seconds until a place is likely free: a place frees when the running job ends,
        so the median recent job time (robust to one slow job), at least 1 s."""
        if not self._durations:
            return 1
        return max(1, math.ceil(statistics.median(self._durations)))

    def admit(self) -> None:
        """Reserve a place or raise ``QueueFullError``; pair with ``release``."""
        if self.pending >= self.capacity:
            raise QueueFullError(self.retry_after(), self.capacity)
        self.pending += 1
        self.last_active = time.monotonic()

    def release(self) -> None:
        self.pending -= 1
        self.last_active = time.monotonic()

    def record_duration(self, seconds: float) -> None:
        self._durations.append(seconds)

    def _timed(self, fn: Callable[[], T]) -> Callable[[], T]:
        def job() -> T:
            start = time.perf_counter()
            try:
                return fn()
            finally:
                self.record_duration(time.perf_counter() - start)
        return job

    async def run(self, fn: Callable[[], T], *, admitted: bool = False) -> T:
        """Run ``fn`` on the model thread (admitting it first unless already admitted)."""
        if not admitted:
            self.admit()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._timed(fn))
        finally:
            self.release()

    def submit(self, fn: Callable[[], None]):
        """Run ``fn`` on the model thread, for an already admitted streaming job whose
        caller releases the place itself."""
        return asyncio.get_running_loop().run_in_executor(self._executor, self._timed(fn))

    def run_when_idle(self, fn: Callable[[], T], *, idle_s: float, stop: threading.Event,
                      poll_s: float = 0.05) -> T:
        """Run ``fn`` on the model thread once no request has held or waited for a place
        for ``idle_s``; block the calling thread (not the event loop) until it is done.
        For background work (the monitor): it takes no place, so it neither fills the
        queue nor moves ``retry_after``, and a request that arrives while ``fn`` runs waits
        for that one job only. Raises ``CancelledError`` when ``stop`` is set first or the
        gate shuts down."""
        while not stop.is_set():
            if self.pending == 0 and time.monotonic() - self.last_active >= idle_s:
                return self._executor.submit(fn).result()
            stop.wait(poll_s)
        raise CancelledError("stopping")

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
