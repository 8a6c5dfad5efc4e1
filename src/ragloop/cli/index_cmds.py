"""`ragloop index`: the project's index as a whole (moving it to another backend)."""

from __future__ import annotations

import typer

from ragloop.cli.common import EXIT_USAGE, console, fail, state
from ragloop.errors import RagloopError


def register(app: typer.Typer) -> None:
    index_app = typer.Typer(help="The project's index: migrate it to another backend.",
                            no_args_is_help=True)
    app.add_typer(index_app, name="index")

    @index_app.command()
    def migrate(ctx: typer.Context,
                to: str = typer.Option(..., "--to", help="Target backend, e.g. postgres."),
                url: str = typer.Option(None, "--url", help="Target server URL (default: "
                                                            "[index] url / url_env)."),
                url_env: str = typer.Option(None, "--url-env",
                                            help="Environment variable holding the URL."),
                schema: str = typer.Option(None, "--schema", help="Postgres schema "
                                                                  "(default: [index] "
                                                                  "pg_schema).")):
        """Copy the project's index into another backend without embedding again."""
        from ragloop.index.factory import build_store
        from ragloop.index.migrate import copy_index

        project = state(ctx).project
        current = project.settings.index
        if to == current.backend:
            fail(f"the index already uses backend '{to}'", EXIT_USAGE)
        overrides = {"backend": to, **{k: v for k, v in (("url", url), ("url_env", url_env),
                                                          ("pg_schema", schema)) if v}}
        target_settings = current.model_copy(update=overrides)
        try:
            with build_store(current, project.data_dir) as source, \
                    build_store(target_settings, project.data_dir) as target:
                copied = copy_index(source, target, on_progress=lambda n: console.print(
                    f"  {n} documents copied"))
        except RagloopError as err:
            fail(err)
        console.print(f"copied {copied} documents into the {to} index; set [index] backend = "
                      f"\"{to}\" in ragloop.toml to use it")
