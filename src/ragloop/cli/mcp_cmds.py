"""`ragloop mcp`: the project's MCP server over stdio, for an agent or IDE that starts it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from ragloop.cli.common import fail, state
from ragloop.errors import RagloopError


def register(app: typer.Typer) -> None:
    @app.command()
    def mcp(ctx: typer.Context,
            project: Path = typer.Option(None, "--project", "-p",
                                         help="Project folder (as the global -p; MCP client "
                                              "configs often put it after the command).",
                                         show_default=False)):
        """Serve the project to MCP clients (Claude Desktop, IDEs, agents) over stdio: the
        tools search, ask, list_documents, get_document, record_feedback. Stdout carries
        the protocol; messages go to stderr."""
        from ragloop.checks import check_settings
        from ragloop.pipeline import Pipeline
        from ragloop.serve.mcp.server import run_stdio

        st = state(ctx)
        if project is not None:
            st = dataclasses.replace(st, project_dir=project)
        try:
            project_ = st.project
            check_settings(project_.settings, path=project_.config_path)
            pipeline = Pipeline(project_, use_cache=st.use_cache)
        except RagloopError as err:
            fail(err)
        with pipeline:
            run_stdio(pipeline, project_.settings, project_.data_dir)
