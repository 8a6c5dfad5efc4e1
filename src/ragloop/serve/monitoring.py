"""What the server keeps for the production loop: the label and online-score tables beside
its traces, and the background monitor (``ragloop.monitor.worker``) whose model calls wait
for the model to be free of requests (``ModelGate.run_when_idle``)."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import CancelledError
from pathlib import Path

from ragloop.config import Settings
from ragloop.feedback.db import Database
from ragloop.feedback.labels import LabelStore
from ragloop.feedback.scores import ScoreStore
from ragloop.monitor.gated import GatedLLM
from ragloop.monitor.scorer import project_scorer
from ragloop.monitor.worker import MonitorStopped, MonitorWorker
from ragloop.serve.gate import ModelGate

log = logging.getLogger(__name__)


class Monitoring:
    def __init__(self, settings: Settings, data_dir: Path):
        self.settings = settings
        self.data_dir = Path(data_dir)
        self.db = Database.for_data_dir(data_dir)
        self.labels = LabelStore(self.db, train_share=settings.monitor.label_train_share)
        self.scores = ScoreStore(self.db)
        self.worker: MonitorWorker | None = None

    def start(self, pipeline, gate: ModelGate) -> MonitorWorker | None:
        """Start the background monitor when ``[monitor] enabled``; its model is the
        pipeline's judge model (none for a pipeline without one: the checks that need no
        model still run)."""
        monitor = self.settings.monitor
        if not monitor.enabled or self.worker is not None:
            return self.worker
        stopping = threading.Event()

        def on_model_thread(fn):
            try:
                return gate.run_when_idle(fn, idle_s=monitor.idle_s, stop=stopping)
            except (CancelledError, RuntimeError) as err:  # stopping, or the gate shut down
                raise MonitorStopped(str(err)) from None

        llm = None
        # looked up, not read: reading a Pipeline's judge_llm builds it, which belongs on
        # the model thread (GatedLLM resolves it there on first use)
        if hasattr(type(pipeline), "judge_llm") or "judge_llm" in vars(pipeline):
            llm = GatedLLM(lambda: pipeline.judge_llm, on_model_thread)
        scorer = project_scorer(self.settings, self.data_dir, llm, self.scores)
        self.worker = MonitorWorker(scorer, self.db, self.scores,
                                    sample_rate=monitor.sample_rate)
        self.worker.stopping = stopping  # one event stops the loop and its pending call
        return self.worker.start()

    def wake(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    def status(self) -> dict:
        worker = self.worker
        return {"enabled": self.settings.monitor.enabled, "running": worker is not None,
                **(worker.stats.as_dict() if worker else {}),
                "lag": worker.lag if worker else None,
                "sample_rate": self.settings.monitor.sample_rate,
                "judge_rate": self.settings.monitor.judge_rate}

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.db.close()
