"""The MCP server on ``ragloop serve``: streamable HTTP at ``/mcp``, a route of the app like
any other, so the app's guards (Host and Origin, API key, body size) stand in front of it.

The SDK's own DNS-rebinding check is off: ``OriginGuard`` makes it for every route and knows
``[serve] allowed_hosts`` and ``allowed_origins``, which the SDK's would not.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import BaseRoute

from ragloop.serve.mcp.server import build_mcp_server
from ragloop.serve.state import ServerState

MCP_PATH = "/mcp"


def mcp_endpoint(state: ServerState) -> tuple[list[BaseRoute], AbstractAsyncContextManager]:
    """The routes serving ``/mcp`` and the context its sessions run in (the app's lifespan
    enters it: the SDK's session manager runs once per app)."""
    server = build_mcp_server(state)
    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
    return list(app.routes), server.session_manager.run()
