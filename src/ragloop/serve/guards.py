"""ASGI guards in front of every route: who may call (Host and Origin), the API key, and the
request body size.

Host and Origin (``OriginGuard``), with or without a key: a request whose ``Host`` header is
not a name this server answers to is refused (a DNS-rebinding page reaches 127.0.0.1 under its
own name; only ``/healthz`` answers any name), and a state-changing request (POST, PUT,
PATCH, DELETE) sent by a page of another origin is refused (a cross-site form or no-cors
``fetch``); on ``origin_checked_paths`` (``/mcp``: the MCP spec asks servers to check the
``Origin`` of every connection) a foreign ``Origin`` is refused whatever the method. Loopback
names and ``[serve] host`` are allowed; ``[serve] allowed_hosts`` and
``allowed_origins`` add the names of a real deployment. Clients that are not browsers send
no ``Origin`` and are not affected.

The key (``APIKeyGuard``) is read from the env var named by ``[serve] api_key_env``. API
clients send it as ``Authorization: Bearer KEY`` or ``X-API-Key``. A browser logs in once by
posting the key to ``/login`` (a form on the 401 page); the answer is an HttpOnly,
SameSite=Strict cookie holding a random session token the server remembers (for ``[serve]
session_hours``, until ``/logout``, or until the server restarts), so the key itself never
travels in a URL and never lands in an access log. A client that keeps sending wrong keys is
answered 429 for a while (``[serve] login_failures_per_minute``). Only ``/healthz`` is open.

Every answer says it may not be framed by another site (``SecurityHeaders``): eval reports
under ``/runs`` only by this server's own page, everything else by nobody.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

from ragloop.redact import MASK, redact_text, secret_pattern

OPEN_PATHS = frozenset({"/healthz"})
COOKIE = "ragloop_session"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
MAX_LOGIN_BYTES = 4096
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})
MAX_SESSIONS = 1000  # remembered at once; the oldest goes first
MAX_TRACKED_CLIENTS = 10_000  # clients whose recent failed logins are counted

LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>ragloop: API key
</title></head><body style="font-family:sans-serif;max-width:30em;margin:4em auto">
<h1>ragloop</h1><p>This server needs an API key.</p>{message}
<form method="post" action="/login"><input name="api_key" type="password"
placeholder="API key" autocomplete="current-password" autofocus> <button>Open</button></form>
</body></html>"""


def _json_error(status: int, message: str, code: str, headers=()) -> tuple[dict, dict]:
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error",
                                 "code": code}}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode()), *headers]}
    return start, {"type": "http.response.body", "body": body}


async def _send_json_error(send, status: int, message: str, code: str, headers=()) -> None:
    start, body = _json_error(status, message, code, headers)
    await send(start)
    await send(body)


def _headers(scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1")
            for k, v in scope.get("headers", [])}


# ------------------------------------------------------------------ Host and Origin


def _hostname(netloc: str) -> str:
    """``host`` of ``host[:port]`` or ``[v6]:port``, lower-cased."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1:netloc.find("]")] if "]" in netloc else netloc
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def _host_pattern(pattern: str) -> re.Pattern:
    """``name``, ``*.domain`` (any subdomain) or ``*`` (any host)."""
    pattern = pattern.strip().lower()
    if pattern == "*":
        return re.compile(r".*")
    if pattern.startswith("*."):
        return re.compile(r"(?:[^.]+\.)+" + re.escape(pattern[2:]))
    return re.compile(re.escape(_hostname(pattern)))


class OriginGuard:
    """403 for an unknown ``Host`` (any method) and for a state-changing request (any
    request, on ``origin_checked_paths``) from a page of another origin (see the module
    docstring)."""

    def __init__(self, app, *, bind_host: str = "127.0.0.1",
                 allowed_hosts: Iterable[str] = (), allowed_origins: Iterable[str] = (),
                 origin_checked_paths: Iterable[str] = ()):
        self.app = app
        self.origin_checked_paths = frozenset(origin_checked_paths)
        names = [*LOOPBACK_HOSTS, *allowed_hosts]
        if bind_host not in WILDCARD_BINDS:
            names.append(bind_host)
        self.host_patterns = [_host_pattern(n) for n in names]
        self.allowed_origins = {o.strip().lower().rstrip("/") for o in allowed_origins}

    def host_allowed(self, host: str) -> bool:
        name = _hostname(host)
        return bool(name) and any(p.fullmatch(name) for p in self.host_patterns)

    def origin_allowed(self, origin: str, host: str) -> bool:
        origin = origin.strip().lower().rstrip("/")
        if origin in self.allowed_origins:
            return True
        parts = urlsplit(origin)
        # same origin: the page was served by this server under the name it asked for
        return parts.scheme in ("http", "https") and parts.netloc == host.strip().lower()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = _headers(scope)
        host = headers.get("host", "")
        # /healthz is open to any name: probes (a container's, a load balancer's) use an IP
        if not self.host_allowed(host) and scope["path"] not in OPEN_PATHS:
            return await _send_json_error(
                send, 403, f"Host {host!r} is not one this server answers to; add it to "
                           f"[serve] allowed_hosts to serve under that name", "host_not_allowed")
        if scope.get("method") in STATE_CHANGING or scope["path"] in self.origin_checked_paths:
            origin = headers.get("origin")
            if origin is not None and not self.origin_allowed(origin, host):
                return await _send_json_error(
                    send, 403, f"cross-origin request from {origin!r} refused; a page of "
                               f"another origin may not change state here (allow it with "
                               f"[serve] allowed_origins)", "origin_not_allowed")
            fetch_site = headers.get("sec-fetch-site", "")
            if origin is None and fetch_site in ("cross-site", "same-site"):
                return await _send_json_error(
                    send, 403, f"cross-site request refused (Sec-Fetch-Site: {fetch_site})",
                    "origin_not_allowed")
        return await self.app(scope, receive, send)


# ------------------------------------------------------------------ the API key


class Sessions:
    """Browser sessions: random tokens, each valid for ``lifetime_s`` or until ended."""

    def __init__(self, lifetime_s: float, clock=time.monotonic):
        self.lifetime_s = lifetime_s
        self.clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def start(self) -> str:
        token = secrets.token_urlsafe(32)
        self._expiry[token] = self.clock() + self.lifetime_s
        while len(self._expiry) > MAX_SESSIONS:
            self._expiry.popitem(last=False)
        return token

    def valid(self, token: str) -> bool:
        expiry = self._expiry.get(token)
        if expiry is None:
            return False
        if expiry <= self.clock():
            del self._expiry[token]
            return False
        return True

    def end(self, token: str) -> None:
        self._expiry.pop(token, None)


class FailureLimit:
    """At most ``per_minute`` wrong keys from one client in any minute; past that its
    requests that need the key are answered 429 until the oldest failure is a minute old.
    While limited nothing is checked, so guessing gains nothing from the 429s."""

    WINDOW_S = 60.0

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.get(client)
        if failures is None:
            return deque()
        horizon = self.clock() - self.WINDOW_S
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[client]
        return failures

    def retry_after(self, client: str) -> int | None:
        """Seconds to wait when ``client`` is limited, else None."""
        failures = self._recent(client)
        if len(failures) < self.per_minute:
            return None
        return max(1, math.ceil(failures[0] + self.WINDOW_S - self.clock()))

    def failed(self, client: str) -> None:
        failures = self._failures.setdefault(client, deque())
        failures.append(self.clock())
        self._failures.move_to_end(client)
        while len(self._failures) > MAX_TRACKED_CLIENTS:
            self._failures.popitem(last=False)


def _client(scope) -> str:
    client = scope.get("client")
    return client[0] if client else ""


def _session_cookie(headers: dict[str, str]) -> str | None:
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # noqa: BLE001 - a malformed Cookie header is just no session
        return None
    return cookie[COOKIE].value if COOKIE in cookie else None


class APIKeyGuard:
    def __init__(self, app, api_key: str | None, *, session_hours: float = 12.0,
                 failures_per_minute: int = 10):
        self.app = app
        self.api_key = api_key
        self.sessions = Sessions(session_hours * 3600)
        self.limit = FailureLimit(failures_per_minute)

    def _authorised(self, headers: dict[str, str]) -> tuple[bool, str]:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return self._same(auth[7:].strip(), self.api_key), "wrong API key"
        if "x-api-key" in headers:
            return self._same(headers["x-api-key"], self.api_key), "wrong API key"
        token = _session_cookie(headers)
        if token is not None:
            return self.sessions.valid(token), "expired or wrong session"
        return False, "missing API key"

    @staticmethod
    def _same(given: str, expected: str | None) -> bool:
        return expected is not None and hmac.compare_digest(given.encode(), expected.encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope.get("method")
        if path == LOGOUT_PATH and method == "POST":
            token = _session_cookie(_headers(scope))
            if token is not None:
                self.sessions.end(token)  # the cookie is worthless from now on, kept or not
            return await _redirect(send, "/", f"{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; "
                                              f"Max-Age=0")
        if not self.api_key or path in OPEN_PATHS:
            if path == LOGIN_PATH and method == "POST":
                return await self._login(scope, receive, send)
            return await self.app(scope, receive, send)
        client = _client(scope)
        wait = self.limit.retry_after(client)
        if wait is not None:
            return await _send_json_error(
                send, 429, f"too many wrong API keys from this client; retry after {wait} s "
                           "([serve] login_failures_per_minute)", "too_many_failures",
                [(b"retry-after", str(wait).encode())])
        if path == LOGIN_PATH and method == "POST":
            return await self._login(scope, receive, send)
        headers = _headers(scope)
        ok, reason = self._authorised(headers)
        if ok:
            return await self.app(scope, receive, send)
        if reason == "wrong API key":  # a stale cookie (after a restart) is no guess
            self.limit.failed(client)
        if path == "/" and method == "GET":
            return await _login_page(send, 401, "")
        await _send_json_error(
            send, 401, f"{reason}: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            "unauthorized", [(b"www-authenticate", b"Bearer")])

    async def _login(self, scope, receive, send):
        body = b""
        while True:
            event = await receive()
            if event["type"] != "http.request":
                return
            body += event.get("body", b"")
            if len(body) > MAX_LOGIN_BYTES:
                return await _send_json_error(send, 413, "login form is too large",
                                              "body_too_large")
            if not event.get("more_body"):
                break
        if not self.api_key:  # no key configured: nothing to log in to
            return await _redirect(send, "/")
        given = parse_qs(body.decode("utf-8", "replace")).get("api_key", [""])[0]
        if not self._same(given, self.api_key):
            self.limit.failed(_client(scope))
            return await _login_page(send, 401, "<p style='color:#b00'>Wrong API key.</p>")
        # Secure when the page was reached over https (behind a proxy: X-Forwarded-Proto,
        # which uvicorn trusts from the proxy addresses in --forwarded-allow-ips)
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        max_age = int(self.sessions.lifetime_s)
        await _redirect(send, "/", f"{COOKIE}={self.sessions.start()}; Path=/; HttpOnly; "
                                   f"SameSite=Strict; Max-Age={max_age}{secure}")


async def _redirect(send, location: str, cookie: str | None = None) -> None:
    headers = [(b"location", location.encode()), (b"content-length", b"0")]
    if cookie:
        headers.append((b"set-cookie", cookie.encode()))
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _login_page(send, status: int, message: str) -> None:
    body = LOGIN_PAGE.format(message=message).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/html; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b"Bearer")]})
    await send({"type": "http.response.body", "body": body})


class RedactSecrets(logging.Filter):
    """Scrubs the API key, in any URL encoding of it (in a path or a query), and the value
    of every secret-looking query parameter (``api_key=``, ``key=``, ``token=``,
    ``api-key=`` ...) from log records, so a client that still puts a key in a URL does
    not leave it in the access log."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.patterns = [secret_pattern(s) for s in secrets if s]

    def _clean(self, value):
        if not isinstance(value, str):
            return value
        for pattern in self.patterns:
            value = pattern.sub(MASK, value)
        return redact_text(value)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(a) for a in record.args)
        record.msg = self._clean(record.msg)
        return True


# ------------------------------------------------------------------ framing


class SecurityHeaders:
    """Headers on every answer: no framing by other sites (clickjacking: a page that frames
    the UI and clicks for the user), no MIME sniffing. An eval report under ``/runs`` and the
    monitoring report may be framed by this server's own page (its report and dashboard
    tabs), nothing else by anyone."""

    FRAMED_BY_SELF = ("/runs/", "/monitor/report")

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        own = scope["path"].startswith(self.FRAMED_BY_SELF)
        added = [(b"x-frame-options", b"SAMEORIGIN" if own else b"DENY"),
                 (b"content-security-policy",
                  b"frame-ancestors 'self'" if own else b"frame-ancestors 'none'"),
                 (b"x-content-type-options", b"nosniff"),
                 (b"referrer-policy", b"same-origin")]

        async def send_with_headers(event):
            if event["type"] == "http.response.start":
                event = {**event, "headers": [*event.get("headers", []), *added]}
            await send(event)

        return await self.app(scope, receive, send_with_headers)


# ------------------------------------------------------------------ body size


class BodyLimit:
    """413 for bodies over their route's limit: uploads (``/v1/documents``) may be up to
    ``upload_bytes``, every other route up to ``max_bytes`` (JSON questions, feedback...).
    Checked by Content-Length up front, else while reading."""

    def __init__(self, app, max_bytes: int, *, upload_bytes: int | None = None,
                 upload_paths: Iterable[str] = ("/v1/documents",)):
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes if upload_bytes is not None else max_bytes
        self.upload_paths = frozenset(upload_paths)

    def _limit(self, path: str) -> tuple[int, str]:
        if path in self.upload_paths:
            return self.upload_bytes, "[serve] max_body_mb"
        return self.max_bytes, "[serve] max_json_kb"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, setting = self._limit(scope["path"])
        message = f"request body is larger than the limit of {limit} bytes ({setting})"
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                return await _send_json_error(send, 413, message, "body_too_large")
        received = 0
        rejected = False

        async def counting_receive():
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit:
                    # answer now and tell the app the client left, so it stops reading
                    rejected = True
                    await _send_json_error(send, 413, message, "body_too_large")
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
