"""The ``ragloop`` command: thin wrappers that parse arguments, call the library and print.

Each command group lives in its own module with a ``register(app)`` function.
"""

from __future__ import annotations

import importlib

from ragloop.cli.common import app

COMMAND_MODULES = (
    "ragloop.cli.demo_cmds",
    "ragloop.cli.project_cmds",
    "ragloop.cli.models_cmds",
    "ragloop.cli.serve_cmds",
    "ragloop.cli.feedback_cmds",
    "ragloop.cli.ingest_cmds",
    "ragloop.cli.eval_cmds",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    app()
