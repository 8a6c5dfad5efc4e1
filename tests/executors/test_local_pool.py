"""The local process pool: results in order, bounded in flight, one thread per worker, and a
worker that dies loses only its items in flight, which are retried once and reported if they
kill a worker again."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ragloop.executors.base import InlineExecutor
from ragloop.executors.local import LocalPoolExecutor


class Square:
    def __call__(self, n: int) -> tuple[int, int, str]:
        time.sleep(0.1)  # long enough for both workers to take items
        return n * n, os.getpid(), os.environ.get("OMP_NUM_THREADS", "")


class DieOn:
    """Kills its worker process on ``poison`` items; with ``once``, only the first time."""

    def __init__(self, poison: set[int], marker: Path | None = None):
        self.poison = poison
        self.marker = marker

    def __call__(self, n: int) -> int:
        if n in self.poison and (self.marker is None or not self.marker.exists()):
            if self.marker is not None:
                self.marker.touch()
            os._exit(1)
        return n * 10


def test_results_come_in_order_from_several_one_thread_workers():
    with LocalPoolExecutor(2) as pool:
        outcomes = list(pool.map(Square(), range(20)))
    assert [o.result[0] for o in outcomes] == [n * n for n in range(20)]
    assert len({o.result[1] for o in outcomes}) == 2 and os.getpid() not in {
        o.result[1] for o in outcomes}
    assert {o.result[2] for o in outcomes} == {"1"}


def test_a_worker_that_dies_once_is_retried_and_nothing_is_lost(tmp_path):
    with LocalPoolExecutor(2) as pool:
        outcomes = list(pool.map(DieOn({5}, tmp_path / "died"), range(12)))
    assert [o.result for o in outcomes] == [n * 10 for n in range(12)]
    assert all(o.error is None for o in outcomes)


def test_an_item_that_kills_every_worker_is_reported_and_the_rest_complete():
    with LocalPoolExecutor(2) as pool:
        outcomes = list(pool.map(DieOn({3}), range(8)))
    assert [o.item for o in outcomes] == list(range(8))
    assert [o.item for o in outcomes if o.error] == [3]
    assert "died" in outcomes[3].error
    assert [o.result for o in outcomes if not o.error] == [n * 10 for n in range(8) if n != 3]


def test_inline_runs_in_this_process():
    (outcome,) = InlineExecutor().map(Square(), [3])
    assert outcome.result[:2] == (9, os.getpid())
