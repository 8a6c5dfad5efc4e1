"""`ragloop serve`: the HTTP API and web page."""

from __future__ import annotations

import typer

from ragloop.cli.common import console, fail, state
from ragloop.errors import RagloopError


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(ctx: typer.Context,
              host: str = typer.Option(None, help="Address to bind ([serve] host)."),
              port: int = typer.Option(None, help="Port ([serve] port)."),
              allow_no_key: bool = typer.Option(
                  False, "--allow-no-key",
                  help="Serve beyond loopback without an API key ([serve] allow_no_key)."),
              log_level: str = typer.Option("info", help="uvicorn log level.")):
        """Serve the API (/v1/ask, /v1/chat/completions, ...) and the web page at /."""
        import uvicorn

        from ragloop.checks import check_settings
        from ragloop.pipeline import Pipeline
        from ragloop.serve.app import create_app
        from ragloop.serve.server import uvicorn_config

        st = state(ctx)
        try:
            project = st.project
            # a config that cannot answer a question never serves
            check_settings(project.settings, path=project.config_path)
            serve_settings = project.settings.serve.model_copy(update={
                "host": host or project.settings.serve.host,
                "port": port or project.settings.serve.port,
                "allow_no_key": allow_no_key or project.settings.serve.allow_no_key})
            settings = project.settings.model_copy(update={"serve": serve_settings})
            pipeline = Pipeline(project, use_cache=st.use_cache)
            app_ = create_app(pipeline, settings, data_dir=project.data_dir)
        except RagloopError as err:
            fail(err)
        host, port = serve_settings.host, serve_settings.port
        console.print(f"ragloop serving {project.root} on http://{host}:{port}/")
        if host in ("0.0.0.0", "::", "") and not serve_settings.allowed_hosts:
            console.print("only requests to localhost/127.0.0.1 are answered; add the names "
                          "clients use to \\[serve] allowed_hosts", highlight=False)
        with pipeline:
            uvicorn.Server(uvicorn_config(app_, serve_settings, log_level=log_level)).run()
