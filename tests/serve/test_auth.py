"""Who may read the dashboard: loopback without a token; any other listen address only with
FLEET_SERVE_TOKEN set (refused at start otherwise); the token checked on every request (Bearer,
or Basic with the token as password, so a browser can log in); security headers everywhere."""

from __future__ import annotations

import base64

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from fleet.errors import SpecError
from fleet.serve.auth import (
    CSP,
    TOKEN_ENV,
    SecurityHeaders,
    TokenAuth,
    is_loopback,
    listen_policy,
    split_listen,
)

TOKEN = "k3y-Of-the-fleet-dashboard-0123456789"


def _app(token: str | None) -> Starlette:
    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("fleet")

    app = Starlette(routes=[Route("/", hello)])
    if token:
        app.add_middleware(TokenAuth, token=token)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so refusals carry it too
    return app


@pytest.mark.parametrize(
    ("listen", "host", "port", "loopback"),
    [
        ("127.0.0.1:8080", "127.0.0.1", 8080, True),
        ("127.9.9.9:1", "127.9.9.9", 1, True),
        ("[::1]:8080", "::1", 8080, True),
        ("localhost:80", "localhost", 80, True),
        ("0.0.0.0:8080", "0.0.0.0", 8080, False),
        ("10.1.2.3:8080", "10.1.2.3", 8080, False),
        ("[::]:8080", "::", 8080, False),
        ("dashboard.example:443", "dashboard.example", 443, False),
    ],
)
def test_listen_addresses(listen: str, host: str, port: int, loopback: bool) -> None:
    assert split_listen(listen) == (host, port)
    assert is_loopback(host) is loopback
    if loopback:
        assert listen_policy(listen, {}) is None
    else:
        with pytest.raises(SpecError, match=f"set {TOKEN_ENV}") as refused:
            listen_policy(listen, {})
        assert refused.value.exit_code == 2
    assert listen_policy(listen, {TOKEN_ENV: TOKEN}) == TOKEN


@pytest.mark.parametrize("bad", ["8080", "host:", ":8080", "host:http"])
def test_bad_listen_is_a_clear_error(bad: str) -> None:
    with pytest.raises(SpecError, match="expected HOST:PORT"):
        split_listen(bad)


def test_a_short_token_is_refused() -> None:
    with pytest.raises(SpecError, match="shorter than 16"):
        listen_policy("0.0.0.0:8080", {TOKEN_ENV: "password"})


def test_loopback_without_a_token_is_open_with_security_headers() -> None:
    reply = TestClient(_app(None)).get("/")
    assert reply.status_code == 200 and reply.text == "fleet"
    assert reply.headers["content-security-policy"] == CSP
    assert "script-src" not in CSP and "default-src 'none'" in CSP
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["x-content-type-options"] == "nosniff"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong-token-wrong-token", 401),
        (f"Bearer {TOKEN[:-1]}", 401),
        (f"Bearer {TOKEN}x", 401),
        (f"Token {TOKEN}", 401),
        ("Basic !!!not-base64", 401),
        (_basic("fleet", "nope"), 401),
        (f"Bearer {TOKEN}", 200),
        (f"bearer  {TOKEN} ", 200),
        (_basic("anyone", TOKEN), 200),
    ],
)
def test_the_token_is_required_on_every_request(authorization: str | None, status: int) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    reply = TestClient(_app(TOKEN)).get("/", headers=headers)
    assert reply.status_code == status
    if status == 401:
        assert TOKEN not in reply.text
        assert reply.headers["www-authenticate"].startswith('Basic realm="fleet"')
        assert reply.headers["content-security-policy"] == CSP  # on refusals too
