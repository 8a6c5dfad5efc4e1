"""`ragloop index`: the project's index as a whole (moving it to another backend, merging
its segments)."""

from __future__ import annotations

import typer

from ragloop.cli.common import EXIT_USAGE, console, fail, state
from ragloop.errors import RagloopError


def register(app: typer.Typer) -> None:
    index_app = typer.Typer(help="The project's index: migrate it to another backend, "
                                 "optimize it.",
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

    @index_app.command()
    def optimize(ctx: typer.Context):
        """Merge the embedded index's segments into one (one HNSW graph to search, deleted
        rows dropped). Rewrites the whole index: run it after a bulk load, not per commit."""
        import time

        from ragloop.index.embedded import EmbeddedStore
        from ragloop.index.factory import build_store

        project = state(ctx).project
        try:
            with build_store(project.settings.index, project.data_dir) as store:
                if not isinstance(store, EmbeddedStore):
                    fail(f"index optimize applies to the embedded backend; the "
                         f"{project.settings.index.backend} backend keeps one index per "
                         "table (reclaim deleted rows with the server's own VACUUM)",
                         EXIT_USAGE)
                before = store.stats()["segments"]
                start = time.perf_counter()
                merged = store.writer().optimize()
                after = store.stats()["segments"]
        except RagloopError as err:
            fail(err)
        if not merged:
            console.print(f"nothing to merge ({before} segment(s), no deleted rows)")
            return
        console.print(f"merged {before} segments into {after} in "
                      f"{time.perf_counter() - start:.1f} s", highlight=False)
