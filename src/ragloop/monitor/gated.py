"""An ``LLMClient`` whose every call runs where a runner puts it.

In ``ragloop serve`` the runner is the model gate's "when idle" path: the embedded model is
not re-entrant and answers come first, so each call the monitor makes (one likelihood pass,
one judge verdict) is its own short job on the model thread, given only while no request
holds or waits for the model. Splitting the work per call bounds what a request that
arrives meanwhile can wait for to one such call.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

T = TypeVar("T")
Runner = Callable[[Callable[[], Any]], Any]


def run_here(fn: Callable[[], T]) -> T:
    """The runner of a batch (``ragloop monitor run``): the call runs in this thread."""
    return fn()


class GatedLLM:
    def __init__(self, resolve: Callable[[], Any], run: Runner = run_here):
        self._resolve = resolve  # builds or returns the client (on the runner's thread)
        self._run = run

    @cached_property
    def client(self):
        return self._run(self._resolve)

    def complete(self, *args, **kwargs):
        return self._run(lambda: self.client.complete(*args, **kwargs))

    def token_logprobs(self, *args, **kwargs):
        return self._run(lambda: self.client.token_logprobs(*args, **kwargs))

    def __getattr__(self, name: str):  # model_id, backend, usage ...: the client's own
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.client, name)
