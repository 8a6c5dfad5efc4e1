"""How ``ragloop serve`` runs the app under uvicorn: the bind address and the connection
timeouts. uvicorn closes an idle keep-alive connection after an answer, but a connection
that opens and never sends a request (or trickles its headers a byte at a time) would be
held forever: ``HeaderDeadline`` gives every request's headers ``[serve] header_timeout_s``
from when the connection opens or its previous answer ends."""

from __future__ import annotations

import asyncio

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ragloop.config import ServeSettings


class HeaderDeadline(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers."""

    header_timeout_s = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request line and headers are in
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)


def protocol(header_timeout_s: float) -> type[H11Protocol]:
    return type("HeaderDeadline", (HeaderDeadline,), {"header_timeout_s": header_timeout_s})


def uvicorn_config(app, serve: ServeSettings, *, log_level: str = "info") -> uvicorn.Config:
    """The uvicorn configuration ``ragloop serve`` runs ``app`` with."""
    return uvicorn.Config(app, host=serve.host, port=serve.port, log_level=log_level,
                          http=protocol(serve.header_timeout_s),
                          timeout_keep_alive=serve.keep_alive_s, lifespan="on")
