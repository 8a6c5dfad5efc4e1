from __future__ import annotations

import sys
from pathlib import Path

# the live-server helpers and the fake pipeline of the server tests
sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))
# ... and the trace helpers of the feedback tests
sys.path.insert(0, str(Path(__file__).parents[1] / "feedback"))
