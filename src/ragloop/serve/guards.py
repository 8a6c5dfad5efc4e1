"""ASGI guards in front of every route: the API key and the request body size.

The key is read from the env var named by ``[serve] api_key_env``. API clients send it as
``Authorization: Bearer KEY`` or ``X-API-Key``. A browser loading the page or the report
cannot set headers, so ``GET ?api_key=KEY`` is accepted too and answered with a same-site
cookie, which is honoured for GET requests only (so it cannot be used to post on a user's
behalf). Only ``/healthz`` is open.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

OPEN_PATHS = frozenset({"/healthz"})
COOKIE = "ragloop_api_key"

LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>ragloop: API key
</title></head><body style="font-family:sans-serif;max-width:30em;margin:4em auto">
<h1>ragloop</h1><p>This server needs an API key.</p>
<form method="get" action="/"><input name="api_key" type="password" placeholder="API key"
autofocus> <button>Open</button></form></body></html>"""


def _json_error(status: int, message: str, code: str, headers=()) -> tuple[dict, dict]:
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error",
                                 "code": code}}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode()), *headers]}
    return start, {"type": "http.response.body", "body": body}


class APIKeyGuard:
    def __init__(self, app, api_key: str | None):
        self.app = app
        self.api_key = api_key

    def _presented(self, scope) -> tuple[str | None, bool]:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip(), False
        if "x-api-key" in headers:
            return headers["x-api-key"], False
        if scope.get("method") == "GET":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if "api_key" in query:
                return query["api_key"][0], True
            cookie = SimpleCookie(headers.get("cookie", ""))
            if COOKIE in cookie:
                return cookie[COOKIE].value, False
        return None, False

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.api_key or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        key, from_query = self._presented(scope)
        if key is None or not hmac.compare_digest(key.encode(), self.api_key.encode()):
            reason = "missing API key" if key is None else "wrong API key"
            if scope["path"] == "/" and scope.get("method") == "GET":
                body = LOGIN_PAGE.encode()
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                        (b"www-authenticate", b"Bearer")]})
                return await send({"type": "http.response.body", "body": body})
            start, body = _json_error(
                401, f"{reason}: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                "unauthorized", [(b"www-authenticate", b"Bearer")])
            await send(start)
            return await send(body)
        if not from_query:
            return await self.app(scope, receive, send)

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                cookie = f"{COOKIE}={key}; Path=/; HttpOnly; SameSite=Strict"
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", cookie.encode())]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class BodyLimit:
    """413 for bodies over ``max_bytes``: by Content-Length up front, else while reading."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        message = (f"request body is larger than the limit of {self.max_bytes} bytes "
                   f"([serve] max_body_mb)")
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                start, body = _json_error(413, message, "body_too_large")
                await send(start)
                return await send(body)
        received = 0
        rejected = False

        async def counting_receive():
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > self.max_bytes:
                    # answer now and tell the app the client left, so it stops reading
                    rejected = True
                    start, body = _json_error(413, message, "body_too_large")
                    await send(start)
                    await send(body)
                    return {"type": "http.disconnect"}
            return event

        async def guarded_send(event):
            if not rejected:
                await send(event)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not rejected:
                raise
