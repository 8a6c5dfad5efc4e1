"""The executor interface.

``Executor.map(task, items)`` runs ``task(item)`` for every item and yields an ``Outcome``
per item, in the order of ``items``, keeping a bounded number in flight (memory stays
bounded however many items there are). ``task`` must pickle: a worker unpickles it once and
keeps it, so whatever it loads lazily (an embedder, an LLM) stays loaded for every later
item — long-lived workers.

Failures: an exception raised by the task is the caller's (it is re-raised in the caller);
a worker that dies (killed, out of memory) loses only its items in flight, which are retried
once on a fresh worker and, if that fails too, come back as an ``Outcome`` with ``error`` set
so the caller reports them. Nothing a caller already committed is touched.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from ragloop.registry import Registry

T = TypeVar("T")
R = TypeVar("R")
H = TypeVar("H")

RETRIES = 1  # attempts on a fresh worker after a worker died with the item

# ``[executor] backend`` → ``build(settings: ExecutorSettings) -> Executor``, registered with
# ``@EXECUTORS.register("name")`` in a module of this package (or a ``ragloop.executors``
# entry point)
EXECUTORS: Registry = Registry("executor", key="executor.backend", package="ragloop.executors",
                               group="ragloop.executors")


@dataclass
class Outcome(Generic[T, R]):
    item: T
    result: R | None = None
    error: str | None = None  # set when the item was lost with its worker (after retries)


class Window(Generic[T, H]):
    """``items`` submitted ahead of their results, at most ``size`` in flight (what keeps an
    executor's memory bounded), handed back as (item, handle) oldest first — so results come
    in the order of ``items``. ``submit(item)`` returns whatever the executor waits on."""

    def __init__(self, items: Iterable[T], submit: Callable[[T], H], size: int):
        self._source = iter(items)
        self._submit = submit
        self.size = size
        self._pending: deque[tuple[T, H]] = deque()

    def __iter__(self) -> Iterator[tuple[T, H]]:
        while True:
            while len(self._pending) < self.size:
                item = next(self._source, _END)
                if item is _END:
                    break
                self._pending.append((item, self._submit(item)))
            if not self._pending:
                return
            yield self._pending.popleft()

    def drain(self) -> list[tuple[T, H]]:
        """Take back everything still in flight (a dead worker may have lost it); the
        window refills from the remaining items on the next step."""
        lost = list(self._pending)
        self._pending.clear()
        return lost


_END = object()


@runtime_checkable
class Executor(Protocol):
    name: str
    workers: int

    def map(self, task: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]: ...

    def close(self) -> None: ...


class InlineExecutor:
    """In the calling process, one item at a time: what a one-worker local run uses."""

    name = "inline"
    workers = 1

    def map(self, task: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        for item in items:
            yield Outcome(item, task(item))

    def close(self) -> None:
        pass

    def __enter__(self) -> InlineExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
