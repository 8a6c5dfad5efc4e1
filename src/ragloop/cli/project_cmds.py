"""`ragloop init` and `ragloop config`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ragloop.cli.common import console, fail, state
from ragloop.errors import RagloopError
from ragloop.project import Project
from ragloop.redact import redact_data


def register(app: typer.Typer) -> None:
    @app.command()
    def init(directory: Path = typer.Argument(Path("."), help="Folder to make a project of."),
             name: str = typer.Option(None, help="Project name (default: the folder name).")):
        """Create a project: a commented default ragloop.toml and a data folder."""
        try:
            project = Project.init(directory, name=name)
        except RagloopError as err:
            fail(err)
        console.print(f"Created {project.config_path}")
        console.print(f"Next: [bold]ragloop -p {directory} ingest DOCS/[/] then "
                      f"[bold]ragloop -p {directory} ask \"...\"[/]")

    @app.command("config")
    def show_config(ctx: typer.Context):
        """Validate ragloop.toml (keys, values, strategy names, model files) and print the
        effective settings, defaults included."""
        from ragloop.checks import check_serve_key, check_settings

        try:
            project = state(ctx).project
            check_settings(project.settings, path=project.config_path)
            check_serve_key(project.settings)
        except RagloopError as err:
            fail(err)
        # passwords of URLs ([index] url, base_url) masked: this output gets pasted around
        console.print_json(json.dumps(redact_data(project.settings.model_dump(mode="json"))))
