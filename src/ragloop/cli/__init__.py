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
    "ragloop.cli.mcp_cmds",
    "ragloop.cli.feedback_cmds",
    "ragloop.cli.ingest_cmds",
    "ragloop.cli.eval_cmds",
    "ragloop.cli.ask_cmds",
    "ragloop.cli.chat_cmds",
    "ragloop.cli.search_cmds",
    "ragloop.cli.train_cmds",
    "ragloop.cli.documents_cmds",
    "ragloop.cli.index_cmds",
    "ragloop.cli.monitor_cmds",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def _one_line(text: str | None) -> str | None:
    """The first paragraph of a docstring on one line: what `--help` lists per command."""
    if not text:
        return None
    return " ".join(text.strip().split("\n\n")[0].split())


for _info in app.registered_commands:
    _info.short_help = _info.short_help or _one_line(_info.help or _info.callback.__doc__)
for _group in app.registered_groups:
    _group.short_help = _group.short_help or _one_line(
        _group.help or _group.typer_instance.info.help)


def main() -> None:
    """The ``ragloop`` command. A full disk is one line saying so, not a traceback: what was
    stored before is kept (every store commits in transactions)."""
    import sqlite3
    import sys

    from ragloop.cli.common import EXIT_FATAL, err_console, shown
    from ragloop.errors import describe_os_error, is_disk_full

    try:
        app()
    except (OSError, sqlite3.Error) as err:
        if not is_disk_full(err):
            raise
        err_console.print(f"[bold red]error:[/] {shown(describe_os_error(err))}",
                          highlight=False)
        sys.exit(EXIT_FATAL)
