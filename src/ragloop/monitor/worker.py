"""The background scorer of ``ragloop serve``: a thread that follows the trace store in the
order traces are stored, scores those in ``[monitor] sample_rate`` and stores the scores.

It starts at the traces stored from its start on (``ragloop monitor run`` scores older
ones). Model work goes through the scorer's LLM, which the server gates (``monitor.gated``)
so a request never waits for more than one monitor call; when traffic is continuous the
monitor falls behind and catches up in the next quiet moment — ``lag`` says by how much.
One trace that cannot be scored is stored as an error and the thread goes on.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from ragloop.feedback.db import Database
from ragloop.feedback.scores import ScoreStore
from ragloop.feedback.window import newest_rowid, traces_after
from ragloop.monitor.checks import sampled
from ragloop.monitor.scorer import TraceScorer
from ragloop.records import OnlineScore, Trace

log = logging.getLogger(__name__)
BATCH = 20


class MonitorStopped(Exception):  # noqa: N818 - a signal, not a failure
    """The server is stopping: the monitor's pending model call will not run."""


@dataclass
class MonitorStats:
    scored: int = 0
    not_sampled: int = 0
    failed: int = 0  # traces whose scoring raised (stored as a "monitor" error row)
    last_error: str = ""

    def as_dict(self) -> dict:
        return {"scored": self.scored, "not_sampled": self.not_sampled, "failed": self.failed,
                "last_error": self.last_error}


def error_row(trace: Trace, err: BaseException) -> OnlineScore:
    return OnlineScore(trace_id=trace.id, metric="monitor", value=None, status="error",
                       detail=f"{type(err).__name__}: {err}"[:600], check="monitor",
                       created=datetime.now(UTC))


class MonitorWorker:
    def __init__(self, scorer: TraceScorer, db: Database, scores: ScoreStore, *,
                 sample_rate: float = 1.0, poll_s: float = 1.0, start_after: int | None = None):
        self.scorer = scorer
        self.db = db
        self.scores = scores
        self.sample_rate = sample_rate
        self.poll_s = poll_s
        self.cursor = newest_rowid(db) if start_after is None else start_after
        self.stats = MonitorStats()
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._thread = threading.Thread(target=self._loop, name="ragloop-monitor", daemon=True)

    # ---- control

    def start(self) -> MonitorWorker:
        self._thread.start()
        return self

    def wake(self) -> None:
        """A trace was stored: look now rather than at the next poll."""
        self._wake.set()

    def pause(self) -> None:
        """Stop taking new traces (the one being scored is finished)."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self._running.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def lag(self) -> int:
        """Traces stored that the monitor has not looked at yet."""
        return max(0, newest_rowid(self.db) - self.cursor)

    # ---- work

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self._running.wait()
            batch = [] if self.stopping.is_set() else traces_after(self.db, self.cursor, BATCH)
            if not batch:
                self._wake.wait(self.poll_s)
                self._wake.clear()
                continue
            for rowid, trace in batch:
                if self.stopping.is_set() or not self._running.is_set():
                    break
                try:
                    self.score_one(trace)
                except MonitorStopped:
                    return
                self.cursor = rowid

    def score_one(self, trace: Trace) -> None:
        if not sampled(trace.id, self.sample_rate):
            self.stats.not_sampled += 1
            return
        try:
            rows = self.scorer.score(trace)
        except MonitorStopped:
            raise
        except Exception as err:  # one trace's failure is recorded; the monitor goes on
            log.warning("monitor: scoring trace %s failed: %s", trace.id, err)
            self.stats.failed += 1
            self.stats.last_error = f"{type(err).__name__}: {err}"[:300]
            rows = [error_row(trace, err)]
        else:
            self.stats.scored += 1
        try:
            self.scores.put(rows)
        except sqlite3.IntegrityError:  # the trace was pruned while it was scored
            log.info("monitor: trace %s is gone; its scores were not kept", trace.id)
