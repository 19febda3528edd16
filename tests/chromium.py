"""One headless Debian chromium with a DevTools port on 127.0.0.1, for Playwright to reach over
CDP (``connect_over_cdp``). Tests only: fleet itself never drives a browser.

Playwright's own browser download does not work on this machine, so Playwright drives Debian's
chromium (``/usr/bin/chromium``, installed by ``make install`` as root; ``FLEET_CHROMIUM``
overrides it). The flags are the ones known to work here: without the background-networking
ones chromium keeps dialling Google's hosts, which the closed network refuses. A fresh
``--user-data-dir`` per start; ``--remote-debugging-port=0`` lets chromium pick the port, which
its "DevTools listening on ws://..." line names.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet.util.procs import ProcessRef, find_executable, read_log, spawn, wait_ready

DEFAULT = Path("/usr/bin/chromium")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)  # fmt: skip
READY = re.compile(r"DevTools listening on (ws://127\.0\.0\.1:(\d+)/\S+)")
FIX = (
    "run `make install` as root (it runs `apt-get install chromium`), or install Debian's "
    "chromium yourself (`sudo apt-get install chromium`), or set FLEET_CHROMIUM to a chromium "
    "binary"
)


@dataclass(frozen=True)
class BrowserInfo:
    """``cdp_url`` is what ``playwright.chromium.connect_over_cdp`` takes."""

    cdp_url: str
    ws_url: str
    process: ProcessRef

    def to_dict(self) -> dict[str, Any]:
        return {"cdp_url": self.cdp_url, "ws_url": self.ws_url, **self.process.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BrowserInfo:
        return cls(data["cdp_url"], data["ws_url"], ProcessRef.from_dict(data))


def find_chromium() -> Path:
    return find_executable(
        "chromium", env="FLEET_CHROMIUM", candidates=[DEFAULT], name="chromium", fix=FIX
    )


def start_chromium(
    workdir: Path, timeout: float = 60.0
) -> tuple[subprocess.Popen[bytes], BrowserInfo]:
    """Start chromium with a fresh profile under ``workdir``; return once DevTools listens."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "chromium.log"
    argv = [
        str(find_chromium()), *FLAGS, f"--user-data-dir={workdir / 'profile'}", "about:blank",
    ]  # fmt: skip
    proc = spawn(argv, name="chromium", log_path=log_path, cwd=workdir)

    def listening() -> re.Match[str] | None:
        return READY.search(read_log(log_path))

    match = wait_ready(proc, listening, name="chromium", log_path=log_path, timeout=timeout)
    info = BrowserInfo(
        f"http://127.0.0.1:{match.group(2)}", match.group(1), ProcessRef.of(proc.pid)
    )
    return proc, info
