"""The configured executor: ``[executor] backend`` and ``workers`` (overridable per command)."""

from __future__ import annotations

from collections.abc import Callable

from ragloop.config import ExecutorSettings
from ragloop.executors.base import Executor, InlineExecutor


def _local(settings: ExecutorSettings) -> Executor:
    if settings.workers == 1:
        return InlineExecutor()  # one worker: no process to start, no models to load twice
    from ragloop.executors.local import LocalPoolExecutor

    return LocalPoolExecutor(settings.workers)


def _ray(settings: ExecutorSettings) -> Executor:
    from ragloop.executors.ray_executor import RayExecutor

    return RayExecutor(settings.workers, settings.ray_address)


EXECUTORS: dict[str, Callable[[ExecutorSettings], Executor]] = {"local": _local, "ray": _ray}


def build_executor(settings: ExecutorSettings) -> Executor:
    return EXECUTORS[settings.backend](settings)
