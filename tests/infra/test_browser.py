"""The shared chromium, driven by Playwright over CDP: the ground the dashboard's browser tests
(issue 13) stand on. A page from a tiny loopback HTTP server is opened, clicked and captured."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>fleet browser check</title></head>
<body>
  <h1 id="status">3 targets failing</h1>
  <button id="ack" onclick="fetch('/ack', {method: 'POST'}).then(r => r.text()).then(t => {
    document.getElementById('status').textContent = t; })">Acknowledge</button>
</body></html>
"""


class _Handler(BaseHTTPRequestHandler):
    acks: list[str]

    def do_GET(self) -> None:
        self._reply(PAGE, "text/html; charset=utf-8")

    def do_POST(self) -> None:
        self.acks.append(self.path)
        self._reply(b"acknowledged by the server", "text/plain")

    def _reply(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def site() -> Iterator[tuple[str, list[str]]]:
    acks: list[str] = []
    handler = type("Handler", (_Handler,), {"acks": acks})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", acks
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_page_opens_clicks_and_is_captured(
    page: Any, site: tuple[str, list[str]], artifacts: Path
) -> None:
    url, acks = site
    page.goto(url)
    assert page.title() == "fleet browser check"
    assert page.locator("#status").inner_text() == "3 targets failing"
    page.click("#ack")
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('acknowledged')"
    )
    assert page.locator("#status").inner_text() == "acknowledged by the server"
    assert acks == ["/ack"]
    shot = artifacts / "acknowledged.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_test_gets_a_fresh_context(page: Any, site: tuple[str, list[str]]) -> None:
    """No cookies or storage leak between tests sharing the one chromium."""
    url, _ = site
    page.goto(url)
    assert page.context.cookies() == []
    page.context.add_cookies([{"name": "seen", "value": "1", "url": url}])
    assert [c["name"] for c in page.context.cookies()] == ["seen"]
    assert len(page.context.browser.contexts) >= 1
