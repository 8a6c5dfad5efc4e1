"""The FastAPI app: ``create_app(pipeline, settings, data_dir=...)``.

``pipeline`` is a ``ragloop.pipeline.Pipeline`` (its models load on first use, so building
one is cheap); the caller owns it and closes it after the server stops.
"""

from __future__ import annotations

import asyncio
import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ragloop import __version__
from ragloop.config import Settings
from ragloop.errors import ConfigError
from ragloop.serve import api, chat_routes, errors, monitor_routes, openai_routes, pages
from ragloop.serve.guards import APIKeyGuard, BodyLimit, OriginGuard, RedactSecrets
from ragloop.serve.mcp.http import MCP_PATH, mcp_endpoint
from ragloop.serve.state import ServerState

ACCESS_LOGGERS = ("uvicorn.access", "uvicorn.error")


def api_key(settings: Settings) -> str | None:
    """The API key from the env var ``[serve] api_key_env`` names; None when auth is off."""
    name = settings.serve.api_key_env
    if not name:
        return None
    key = os.environ.get(name, "")
    if not key:
        raise ConfigError(f"[serve] api_key_env names {name!r}, but that environment "
                          f"variable is empty or unset", key="serve.api_key_env")
    return key


def create_app(pipeline, settings: Settings, *, data_dir: Path | str) -> FastAPI:
    key = api_key(settings)
    state = ServerState.build(pipeline, settings, Path(data_dir))
    redact = RedactSecrets([key] if key else [])
    mcp_routes, mcp_sessions = mcp_endpoint(state)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        for name in ACCESS_LOGGERS:
            logging.getLogger(name).addFilter(redact)
        state.monitoring.start(state.pipeline, state.gate)
        try:
            async with mcp_sessions:
                yield
        finally:
            for name in ACCESS_LOGGERS:
                logging.getLogger(name).removeFilter(redact)
            state.close()

    app = FastAPI(title="ragloop", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # their pages load scripts from a CDN
                  description="Answers with citations over your documents, traces, feedback.")
    app.state.ragloop = state
    app.state.upload_lock = asyncio.Lock()  # see api.upload_documents
    errors.install(app)

    @app.get("/healthz")
    async def healthz():
        """Liveness, open without the API key."""
        return {"status": "ok", "version": __version__, "queue": state.gate.pending,
                "queue_size": state.gate.capacity}

    app.include_router(api.router)
    app.include_router(monitor_routes.router)
    app.include_router(openai_routes.router)
    app.include_router(chat_routes.router)
    app.include_router(pages.router)
    app.router.routes.extend(mcp_routes)  # /mcp: the MCP server, streamable HTTP
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    serve = settings.serve
    app.add_middleware(BodyLimit, max_bytes=serve.max_json_kb * 1024,
                       upload_bytes=int(serve.max_body_mb * 1024 * 1024))
    app.add_middleware(APIKeyGuard, api_key=key)
    app.add_middleware(OriginGuard, bind_host=serve.host, allowed_hosts=serve.allowed_hosts,
                       allowed_origins=serve.allowed_origins,
                       origin_checked_paths=(MCP_PATH,))  # outermost: checked first
    return app
