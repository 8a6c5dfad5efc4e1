from __future__ import annotations

import sys
from pathlib import Path

# the live-server helpers and the fake pipeline of the server tests
sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))
# ... and the fake pipeline of the eval tests (a run's config.json without a model)
sys.path.insert(0, str(Path(__file__).parents[1] / "evals"))
