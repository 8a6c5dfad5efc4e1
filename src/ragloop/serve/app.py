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
from ragloop.serve.guards import (
    LOOPBACK_HOSTS,
    APIKeyGuard,
    BodyLimit,
    OriginGuard,
    RedactSecrets,
    SecurityHeaders,
)
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


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def check_exposure(settings: Settings, key: str | None) -> None:
    """Refuse to serve beyond loopback without a key, unless ``[serve] allow_no_key``: the
    Host check keeps browsers' pages out, but any other client sets Host freely."""
    serve = settings.serve
    if key is None and not serve.allow_no_key and not is_loopback(serve.host):
        raise ConfigError(
            f"[serve] host {serve.host!r} answers other machines, and no API key is set: "
            "anyone who reaches it could ask, upload and read every trace. Set [serve] "
            "api_key_env (see docs/guides/security.md), or allow it with "
            "`ragloop serve --allow-no-key` / [serve] allow_no_key = true",
            key="serve.host")


def create_app(pipeline, settings: Settings, *, data_dir: Path | str) -> FastAPI:
    key = api_key(settings)
    check_exposure(settings, key)
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
    app.add_middleware(APIKeyGuard, api_key=key, session_hours=serve.session_hours,
                       failures_per_minute=serve.login_failures_per_minute)
    app.add_middleware(OriginGuard, bind_host=serve.host, allowed_hosts=serve.allowed_hosts,
                       allowed_origins=serve.allowed_origins,
                       origin_checked_paths=(MCP_PATH,))  # checked first
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, refusals included
    return app
