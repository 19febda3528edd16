"""Who may read ``fleet serve``'s web app: anyone on this machine when it listens on loopback,
only holders of the bearer token otherwise.

- ``listen_policy(listen, environ)``: the token to require (``FLEET_SERVE_TOKEN``), or None; a
  ``SpecError`` (exit 2, before anything starts) for a non-loopback address without a token,
  or with a token too short to be one.
- ``TokenAuth``: ASGI middleware that answers 401 to any HTTP request without the token —
  ``Authorization: Bearer <token>``, or HTTP Basic with the token as the password (so a browser
  can be let in: it prompts for Basic credentials by itself). Compared in constant time.
  A token, once set, is required on loopback too.

Security headers every response carries (no script, no framing, no referrer, no sniffing) are
added by ``SecurityHeaders``; the web app is read-only and runs no JavaScript.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from collections.abc import Mapping

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleet.errors import SpecError

TOKEN_ENV = "FLEET_SERVE_TOKEN"
MIN_TOKEN = 16
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def split_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:8080"`` / ``"[::1]:8080"`` / ``"localhost:8080"`` → host and port."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not host:
        message = f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8080."
        raise SpecError(message)
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def listen_policy(listen: str, environ: Mapping[str, str]) -> str | None:
    """The bearer token the web app must require on ``listen`` (None: loopback, none set)."""
    host, _ = split_listen(listen)
    token = environ.get(TOKEN_ENV, "")
    if token and len(token) < MIN_TOKEN:
        message = (
            f"{TOKEN_ENV} is set but shorter than {MIN_TOKEN} characters: use a random token, "
            "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
        )
        raise SpecError(message)
    if not token and not is_loopback(host):
        message = (
            f"--listen {listen}: {host} is not a loopback address, so the dashboard needs a "
            f"bearer token: set {TOKEN_ENV} (at least {MIN_TOKEN} characters) and send it as "
            "`Authorization: Bearer <token>`. Or listen on 127.0.0.1."
        )
        raise SpecError(message)
    return token or None


def _presented(headers: Headers) -> str | None:
    """The token a request presents: a Bearer credential, or the password of Basic ones."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


class TokenAuth:
    """401 for every HTTP request that does not present ``token``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = _presented(Headers(scope=scope))
            if given is None or not hmac.compare_digest(given.encode("utf-8"), self._token):
                denied = PlainTextResponse(
                    "401: this fleet dashboard needs its bearer token "
                    "(Authorization: Bearer <FLEET_SERVE_TOKEN>).\n",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Basic realm="fleet", Bearer realm="fleet"'},
                )
                await denied(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Adds the Content-Security-Policy and friends to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
