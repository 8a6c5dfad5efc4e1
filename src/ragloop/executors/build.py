"""The configured executor: ``[executor] backend`` and ``workers`` (overridable per
command), from the ``EXECUTORS`` registry."""

from __future__ import annotations

from ragloop.config import ExecutorSettings
from ragloop.executors.base import EXECUTORS, Executor


def build_executor(settings: ExecutorSettings) -> Executor:
    return EXECUTORS.get(settings.backend)(settings)
