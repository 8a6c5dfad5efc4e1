"""Ray smoke test on a local 2-worker cluster (needs the [ray] extra; CI installs it): the
same index as one process, and a worker killed mid-run loses nothing committed — its batch
is retried on a replacement actor."""

from __future__ import annotations

import json
import os
import signal
import sys

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")

import fakes  # noqa: E402
from fakes import FakeEmbedder  # noqa: E402
from ingest.fake_store import FakeStore  # noqa: E402
from ragloop.config import IngestSettings  # noqa: E402
from ragloop.executors.ray_executor import RayExecutor  # noqa: E402
from ragloop.ingest.sync import ingest_paths  # noqa: E402


class KillOnce:
    """Wraps a task; the first call in any worker (a marker file says whether one happened)
    kills that worker with SIGKILL, as an out-of-memory kill would."""

    def __init__(self, task, marker):
        self.task, self.marker = task, marker

    def __call__(self, item):
        if not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return self.task(item)


class KillingRayExecutor(RayExecutor):
    marker = ""

    def map(self, task, items):
        return super().map(KillOnce(task, self.marker), items)


# the workers do not have tests/ on their path: ship these modules' code by value
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
ray.cloudpickle.register_pickle_by_value(fakes)


def _corpus(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"_id": f"d{i}", "title": f"Record {i}",
                                          "text": f"Unique{i} marker. " + "filler " * 40})
                              + "\n" for i in range(60)))
    return corpus


def test_ray_two_workers_build_the_same_index_and_survive_a_killed_worker(tmp_path):
    corpus = _corpus(tmp_path)
    settings = IngestSettings(batch_docs=10)
    alone = FakeStore()
    ingest_paths([corpus], settings=settings, store=alone, embedder=FakeEmbedder(),
                 progress=False)
    executor = KillingRayExecutor(2)
    executor.marker = str(tmp_path / "killed")
    with executor:
        store = FakeStore()
        report = ingest_paths([corpus], settings=settings, store=store,
                              embedder=FakeEmbedder(), progress=False, executor=executor)
        assert os.path.exists(executor.marker)  # one worker was killed mid-run
        assert report.added == 60 and report.ok and len(store.docs) == 60
        pids = executor.pids()
        assert len(set(pids)) == 2 and os.getpid() not in pids
    for doc_id, (document, chunks, vectors, _) in alone.docs.items():
        assert store.docs[doc_id][0] == document and store.docs[doc_id][1] == chunks
        assert np.allclose(store.docs[doc_id][2], vectors)
