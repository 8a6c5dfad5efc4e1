"""Run the server with the fake pipeline in its own process: ``python fake_server_main.py
DATA_DIR PORT`` (used by the kill test)."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).parent))

from serve_fake_pipeline import FakePipeline  # noqa: E402

from ragloop.config import Settings  # noqa: E402
from ragloop.serve.app import create_app  # noqa: E402

if __name__ == "__main__":
    data_dir, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(create_app(FakePipeline(), Settings(), data_dir=data_dir), host="127.0.0.1",
                port=port, log_level="warning")
