"""Every failure an operator can cause or meet ends in one or two lines and a documented exit code,
never a traceback (issue #10): Azure unreachable, a TLS certificate not trusted, a CA file that
is missing or not PEM, a refused token, RBAC denied, an unknown subscription (exit code 4 for
"cannot use Azure", 2 for bad input), a bad ``--port``, state-directory problems (3), a bug
(70, with the traceback only under ``--debug``). Real CLI processes against a served emulator."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.cli.clikit import FLEET, Served, assert_short_failure, clean_env, fleet, served
from tests.simkit import PROFILES, ROOT

OTHER_SUB = "99999999-9999-4999-8999-999999999999"
PRINCIPALS = """
principals:
  - name: operator
    token: fleet-sim-token
    roles: [{scope: "/", role: Contributor}]
  - name: elsewhere
    token: reader-elsewhere
    roles: [{scope: "/", role: None}]    # signed in, but no role anywhere
"""


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    profile = tmp_path_factory.mktemp("profile") / "rbac.yaml"
    profile.write_text((PROFILES / "small.yaml").read_text() + PRINCIPALS)
    with served(str(profile)) as info:
        yield info


def _run(emu: Served, *flags: str) -> list[str]:
    return ["run", *flags, "-n", "app-0*", "--script", "uptime", "--yes"]


def _env(token: str = "fleet-sim-token") -> dict[str, str]:
    return clean_env(FLEET_ACCESS_TOKEN=token)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def test_unreachable_endpoint_is_exit_4(emu: Served) -> None:
    endpoint = f"https://127.0.0.1:{_closed_port()}"
    args = [a if a != emu.endpoint else endpoint for a in emu.args()]
    proc = fleet(*_run(emu, *args), env=_env())
    assert_short_failure(proc, 4, "cannot reach", endpoint, "--arm-endpoint")


def test_untrusted_certificate_is_exit_4(emu: Served, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    wrong = [a if a != emu.ca_cert else str(other) for a in emu.args()]
    for args in (wrong, emu.args(ca=False)):  # another CA's certificate; the system's store
        proc = fleet(*_run(emu, *args), env=_env())
        assert_short_failure(proc, 4, "not trusted", "--ca-cert")
    assert emu.truth("stats")["total_requests"] == 0  # TLS never completed: nothing arrived


def test_ca_file_missing_or_not_pem_is_bad_input(emu: Served, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    for path, needle in ((tmp_path / "absent.pem", "no such file"), (junk, "not a usable PEM")):
        args = [a if a != emu.ca_cert else str(path) for a in emu.args()]
        assert_short_failure(fleet(*_run(emu, *args), env=_env()), 2, needle)


def test_refused_token_is_exit_4(emu: Served) -> None:
    proc = fleet(*_run(emu, *emu.args()), env=_env("not-a-valid-token"))
    assert_short_failure(proc, 4, "401", "FLEET_ACCESS_TOKEN")
    assert "not-a-valid-token" not in proc.stderr


def test_rbac_denied_is_exit_4(emu: Served) -> None:
    proc = fleet("targets", *emu.args(), "-n", "app-0*", env=_env("reader-elsewhere"))
    assert_short_failure(proc, 4, "403", "Reader")


def test_unknown_subscription_is_exit_4(emu: Served) -> None:
    args = ["--arm-endpoint", emu.endpoint, "--ca-cert", emu.ca_cert, "--subscription", OTHER_SUB]
    proc = fleet(*_run(emu, *args), env=_env())
    assert_short_failure(proc, 4, OTHER_SUB, "--subscription")


def test_bad_port_is_bad_input() -> None:
    proc = fleet("sim", "serve", "--port", "99999", timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "--port" in proc.stderr


def test_state_directory_problems_are_exit_3(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "journal.sqlite3").write_text("garbage, not SQLite\n")
    for state, needle in ((a_file, "cannot create"), (corrupt, "not a fleet journal")):
        proc = fleet(
            "run", "--sim", "--profile", "small", "-n", "app-01", "--script", "uptime",
            "--state-dir", str(state), "--yes",
        )  # fmt: skip
        assert_short_failure(proc, 3, needle, "--state-dir")


BUG = (
    "import fleet.cli.run_cmd as r\n"
    "async def boom(*a, **k):\n    raise RuntimeError('boom in select')\n"
    "r.select = boom\n"
    "import fleet.cli.main as m; m.main()\n"
)


def test_a_bug_is_exit_70_with_the_traceback_only_under_debug() -> None:
    args = ["targets", "--sim", "--profile", "small", "-n", "app-01"]
    plain = subprocess.run(
        [FLEET[0], "-c", BUG, *args], cwd=ROOT, capture_output=True, text=True,
        timeout=120, env=clean_env(),
    )  # fmt: skip
    assert_short_failure(plain, 70, "internal error", "boom in select", "--debug")
    debug = subprocess.run(
        [FLEET[0], "-c", BUG, "--debug", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=120, env=clean_env(),
    )  # fmt: skip
    assert debug.returncode == 70 and "Traceback" in debug.stderr, debug.stderr
    assert "boom in select" in debug.stderr


def test_version() -> None:
    from fleet import __version__

    proc = fleet("--version", timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"fleet {__version__}"


def test_a_report_that_cannot_be_written_is_exit_5_and_the_device_stays(tmp_path: Path) -> None:
    """``--report /dev/full`` said "report written" and exited 0 (as root it even replaced the
    device node with a file). A private copy of /dev/full where mknod is allowed."""
    full = tmp_path / "full"
    try:
        os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except OSError:
        full = Path("/dev/full")
    proc = fleet("run", "--sim", "--profile", "small", "-n", "app-01", "--script", "uptime",
                 "--yes", "--report", str(full))  # fmt: skip
    assert proc.returncode == 5 and "Traceback" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]  # after the run's own lines, one error line
    assert last.startswith("error: cannot write the report to") and "No space left" in last
    assert "--report PATH" in last and "report written" not in proc.stderr
    assert stat.S_ISCHR(full.stat().st_mode)
    run_id = proc.stderr.split("fleet show ")[1].split()[0]
    shown = fleet("show", run_id, "-o", "json")  # the journal has what the report would have
    assert shown.returncode == 0 and '"total": 1' in shown.stdout


def test_action_mode_with_output_storage_is_refused_before_anything_is_sent(emu: Served) -> None:
    """``--mode action`` cannot keep full outputs: the action run command takes no output
    blobs. Exit 2, one line naming the flag and both ways out, no request to the emulator."""
    before = emu.truth("stats")["total_requests"]
    container = ["--output-container", "https://127.0.0.1:1/out", "--completion", "storage"]
    proc = fleet(*_run(emu, *emu.args(), "--mode", "action", *container), env=_env())
    assert_short_failure(proc, 2, "--output-container: an action run command", "mode: managed")
    assert emu.truth("stats")["total_requests"] == before
