"""Driving ``fleet serve`` as a subprocess in tests: a jobs directory, a webhook receiver (a
tiny aiohttp server on 127.0.0.1, in its own thread), waiting on the journal's history (never
sleep-then-count), and the emulator's ``/_sim`` API."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from fleet.history import History
from fleet.journal import Journal
from tests.simkit import ROOT

FLEET = [sys.executable, "-m", "fleet.cli.main"]
T = TypeVar("T")


@dataclass
class Receiver:
    """Records every POST body; ``fail_first`` answers 503 to that many requests first."""

    fail_first: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            self.attempts += 1
            if self.attempts <= self.fail_first:
                return web.Response(status=503)
            self.bodies.append(body)
        return web.json_response({"ok": True})

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [b for b in self.bodies if b.get("kind") == kind]


@contextmanager
def receiver(path: str = "/hook/s3cr3t-hook-token", fail_first: int = 0) -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (its URL carries a secret, as Slack's do)."""
    got = Receiver(fail_first=fail_first)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner: web.AppRunner | None = None

    async def start() -> None:
        nonlocal runner
        app = web.Application()
        app.router.add_post(path, got.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        got.url = f"http://127.0.0.1:{port}{path}"
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop)
    assert ready.wait(30), "the webhook receiver did not start"
    try:
        yield got
    finally:
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 120) -> T:
    """Poll ``check`` until it returns something truthy (a condition, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Serve:
    proc: subprocess.Popen[str]
    ready: dict[str, Any]
    state_dir: Path
    log: Path  # its stderr (a file: a pipe nobody reads would fill up and block it)

    def history(self) -> History:
        return History(Journal.open(self.state_dir, writable=False))

    def sim(self, what: str, body: dict[str, Any] | None = None) -> Any:
        """``GET`` (or ``PUT`` ``body``) ``/_sim/<what>`` of the emulator inside ``--sim``."""
        emu = self.ready["emulator"]
        ctx = ssl.create_default_context(cafile=emu["ca_cert"])
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{emu['endpoint']}/_sim/{what}", data=data, method="GET" if body is None else "PUT",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, context=ctx, timeout=30) as resp:
            return json.loads(resp.read())

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 90) -> str:
        """Signal it and return its stderr once it exited."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.communicate(timeout=timeout)
        return self.log.read_text()


def env_with(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEET_")}
    env.update(extra)
    return env


def start(args: list[str], state_dir: Path, env: dict[str, str], log: Path) -> Serve:
    """``fleet serve ARGS --state-dir STATE --listen 127.0.0.1:0``, once it says it is ready."""
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*FLEET, "serve", *args, "--state-dir", str(state_dir), "--listen", "127.0.0.1:0",
             "--log-format", "json", "--log-level", "info"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True,
        )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.communicate(timeout=30)
        raise AssertionError(f"fleet serve did not start ({proc.returncode}): {log.read_text()}")
    return Serve(proc, json.loads(line), state_dir, log)
