"""The configured executor: ``[run] executor`` and ``workers`` (overridable per command)."""

from __future__ import annotations

from collections.abc import Callable

from ragloop.config import RunSettings
from ragloop.run.base import Executor, InlineExecutor


def _local(settings: RunSettings) -> Executor:
    if settings.workers == 1:
        return InlineExecutor()  # one worker: no process to start, no models to load twice
    from ragloop.run.local import LocalPoolExecutor

    return LocalPoolExecutor(settings.workers)


def _ray(settings: RunSettings) -> Executor:
    from ragloop.run.ray_executor import RayExecutor

    return RayExecutor(settings.workers, settings.ray_address)


EXECUTORS: dict[str, Callable[[RunSettings], Executor]] = {"local": _local, "ray": _ray}


def build_executor(settings: RunSettings) -> Executor:
    return EXECUTORS[settings.executor](settings)
