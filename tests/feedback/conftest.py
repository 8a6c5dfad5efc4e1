from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from feedback_helpers import Recorder  # noqa: E402

from ragloop.feedback.store import TraceStore  # noqa: E402


@pytest.fixture
def store(tmp_path):
    s = TraceStore(tmp_path / "traces.sqlite")
    yield s
    s.close()


@pytest.fixture
def recorder(store):
    return Recorder(store)
