"""Ray: long-lived actors on a cluster (or a local one), one CPU each. Each actor unpickles
the task once and keeps it, so the embedder/LLM it loads stays loaded. Needs the ``[ray]``
extra (``pip install 'ragloop[ray]'``).

``address`` is passed to ``ray.init``: empty starts a local cluster of ``workers`` CPUs;
"auto" or "ray://host:10001" joins an existing one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ragloop.errors import ConfigError
from ragloop.executors.base import EXECUTORS, RETRIES, Outcome, R, T, Window
from ragloop.executors.local import _ONE_THREAD


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("[executor] backend = \"ray\" needs Ray: pip install 'ragloop[ray]'") \
            from None
    return ray


class RayExecutor:
    name = "ray"

    def __init__(self, workers: int, address: str = ""):
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.address = address
        self._started_ray = False
        self._actors: list[Any] = []
        self._task: Any = None
        self._actor_class: Any = None

    def _init(self) -> None:
        ray = _ray()
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "runtime_env": {"env_vars": dict(_ONE_THREAD)}}
            if self.address:
                kwargs["address"] = self.address
            else:
                kwargs["num_cpus"] = self.workers
            ray.init(**kwargs)
            self._started_ray = True
        if self._actor_class is None:
            @ray.remote(num_cpus=1, max_restarts=0)
            class _Worker:
                def __init__(self, task):
                    self.task = task

                def run(self, item):
                    return self.task(item)

                def pid(self):
                    import os
                    return os.getpid()

            self._actor_class = _Worker

    def _spawn(self) -> Any:
        return self._actor_class.remote(self._task_ref)

    def _start(self, task: Any) -> None:
        ray = _ray()
        self._init()
        if self._task is not task:
            self._kill_actors()
            self._task = task
            self._task_ref = ray.put(task)
            self._actors = [self._spawn() for _ in range(self.workers)]

    def pids(self) -> list[int]:
        """Process ids of the live actors (for tests that kill one)."""
        ray = _ray()
        return ray.get([a.pid.remote() for a in self._actors])

    def map(self, task: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        ray = _ray()
        self._start(task)
        turns = itertools.count()

        def submit(item: T) -> tuple[Any, int, Any]:  # round robin over the actors
            at = next(turns) % len(self._actors)
            actor = self._actors[at]
            return actor.run.remote(item), at, actor

        for item, (ref, at, actor) in Window(items, submit, 2 * self.workers):
            try:
                yield Outcome(item, ray.get(ref))
            except ray.exceptions.RayActorError:
                if self._actors[at] is actor:  # its other items fail too: replace it once
                    self._actors[at] = self._spawn()
                yield self._retry(item, at)

    def _retry(self, item: T, at: int) -> Outcome:
        ray = _ray()
        for _ in range(RETRIES):
            try:
                return Outcome(item, ray.get(self._actors[at].run.remote(item)))
            except ray.exceptions.RayActorError:
                self._actors[at] = self._spawn()
        return Outcome(item, error="its Ray worker died twice (retried once)")

    def _kill_actors(self) -> None:
        if self._actors:
            ray = _ray()
            for actor in self._actors:
                ray.kill(actor)
        self._actors = []

    def close(self) -> None:
        if self._actor_class is None:
            return
        self._kill_actors()
        self._task = None
        if self._started_ray:
            _ray().shutdown()
            self._started_ray = False
        self._actor_class = None

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@EXECUTORS.register("ray")
def build_ray(settings) -> RayExecutor:
    return RayExecutor(settings.workers, settings.ray_address)
