"""Admission to the model: one job at a time, a bounded number waiting, the rest told to
come back later (503 + Retry-After) instead of hanging.

The embedded model is not re-entrant, so jobs run on a single worker thread. ``capacity``
counts the running job plus those waiting for it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


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
        self._mean_job_s = 1.0  # running mean, for Retry-After

    def retry_after(self) -> int:
        return max(1, math.ceil(self._mean_job_s))  # about when the running job frees a place

    def admit(self) -> None:
        """Reserve a place or raise ``QueueFullError``; pair with ``release``."""
        if self.pending >= self.capacity:
            raise QueueFullError(self.retry_after(), self.capacity)
        self.pending += 1

    def release(self) -> None:
        self.pending -= 1

    def record_duration(self, seconds: float) -> None:
        self._mean_job_s = 0.8 * self._mean_job_s + 0.2 * seconds

    async def run(self, fn: Callable[[], T], *, admitted: bool = False) -> T:
        """Run ``fn`` on the model thread (admitting it first unless already admitted)."""
        if not admitted:
            self.admit()
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            return await loop.run_in_executor(self._executor, fn)
        finally:
            self.record_duration(loop.time() - start)
            self.release()

    def submit(self, fn: Callable[[], None]):
        """Run ``fn`` on the model thread, for an already admitted streaming job whose
        caller releases the place itself."""
        return asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
