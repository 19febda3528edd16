"""The benchmark's processes: a fresh ``fleet sim serve`` per contender (stopped with SIGTERM),
the contender's own process (resource use read with ``os.wait4``), and ground-truth reads from
the emulator's loopback ``/_sim`` API. Every process is bounded: ready-line and exit deadlines,
SIGTERM then SIGKILL.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SIM_TOKEN = "fleet-sim-token"  # the operator principal of the bench profiles (the default)


@dataclass(frozen=True)
class Usage:
    """Resource use of one finished child process."""

    exit_code: int
    cpu_s: float
    peak_rss_mb: float
    killed: bool = False


def _usage(status: int, rusage: resource.struct_rusage, killed: bool) -> Usage:
    code = os.waitstatus_to_exitcode(status)
    cpu = rusage.ru_utime + rusage.ru_stime
    return Usage(code, round(cpu, 2), round(rusage.ru_maxrss / 1024, 1), killed)  # KiB on Linux


def wait_bounded(proc: subprocess.Popen[Any], deadline_s: float) -> Usage:
    """Wait for ``proc`` (SIGTERM at the deadline, SIGKILL 10 s later); its own rusage."""
    end, killed, term_sent = time.monotonic() + deadline_s, False, False
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not reap it again
            return _usage(status, rusage, killed)
        now = time.monotonic()
        if now > end and not term_sent:
            proc.send_signal(signal.SIGTERM)
            term_sent, killed = True, True
        elif now > end + 10:
            proc.kill()
        time.sleep(0.05)


class EmulatorProcess:
    """``fleet sim serve --profile P --time-scale K --seed N`` as a context manager;
    ``azurite``: with ``--azurite`` (its ready line then names the storage account)."""

    def __init__(
        self,
        profile: str,
        time_scale: float,
        seed: int,
        headers: str | None = None,
        *,
        azurite: bool = False,
    ) -> None:
        self.cmd = [
            sys.executable,
            "-m",
            "fleet.cli.main",
            "sim",
            "serve",
            "--profile",
            profile,
            "--time-scale",
            f"{time_scale:g}",
            "--seed",
            str(seed),
            *(["--throttle-headers", headers] if headers else []),
            *(["--azurite"] if azurite else []),
        ]
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}
        self.usage: Usage | None = None

    def __enter__(self) -> EmulatorProcess:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 90.0)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("{"):
            self.__exit__()
            message = f"the emulator did not start: {' '.join(self.cmd)}"
            raise RuntimeError(message)
        self.info = json.loads(line)
        self._ssl = ssl.create_default_context(cafile=self.info["ca_cert"])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            self.usage = wait_bounded(self.proc, 20.0)

    def truth(self, what: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """``GET /_sim/{what}`` (stats, executions, inventory, background): the emulator's
        ground truth; with a ``body``, ``POST`` it (``background``: start other clients' load)."""
        url = f"{self.info['endpoint']}/_sim/{what}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, context=self._ssl, timeout=120) as resp:
            truth: dict[str, Any] = json.loads(resp.read())
            return truth


def run_contender(
    config: dict[str, Any], workdir: Path, deadline_s: float
) -> tuple[dict[str, Any], Usage]:
    """Run ``python -m fleet.bench.contenders`` on ``config``; (its output, its resource use)."""
    name = config["contender"]
    cfg_path, out_path = workdir / f"{name}.config.json", workdir / f"{name}.out.json"
    cfg_path.write_text(json.dumps(config), encoding="utf-8")
    out_path.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "fleet.bench.contenders", str(cfg_path), str(out_path)]
    proc = subprocess.Popen(cmd)
    usage = wait_bounded(proc, deadline_s)
    if out_path.is_file():
        output = json.loads(out_path.read_text(encoding="utf-8"))
    else:  # killed past its deadline, or crashed: nothing finished that we can prove
        output = {
            "contender": name,
            "elapsed_s": deadline_s,
            "finished": False,
            "outcomes": {},
            "progress_done": None,
            "crashed": True,
        }
    return output, usage
