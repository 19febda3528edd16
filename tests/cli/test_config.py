"""az conventions (issue #10): ``AZURE_SUBSCRIPTION_ID`` and a user config file
(``$FLEET_CONFIG``, else ``~/.config/fleet/config.toml``: subscriptions, state_dir, output) give
defaults; flags win over the environment, the environment over the file; ``--sim`` searches the
simulated fleet's own subscriptions; a bad file is exit 2 with file:line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.clikit import Served, assert_short_failure, clean_env, fleet, served

UNKNOWN = "99999999-9999-4999-8999-999999999999"


@pytest.fixture(scope="module")
def emu() -> Iterator[Served]:
    with served("small") as info:
        yield info


def _env(tmp_path: Path, config: str | None, **extra: str) -> dict[str, str]:
    path = tmp_path / "config.toml"
    if config is not None:
        path.write_text(config)
    env = clean_env(FLEET_CONFIG=str(path), **extra)
    env.pop("FLEET_STATE_DIR", None)  # the session's; here the config file's state_dir counts
    env["XDG_DATA_HOME"] = str(tmp_path / "data")  # and never the user's own data directory
    return env


def _targets(emu: Served, env: dict[str, str], *more: str) -> list[str]:
    return ["targets", "--arm-endpoint", emu.endpoint, "--ca-cert", emu.ca_cert, "-n", "app-0*",
            *more]  # fmt: skip


def test_subscriptions_come_from_the_flag_the_environment_or_the_config_file(
    emu: Served, tmp_path: Path
) -> None:
    token = {"FLEET_ACCESS_TOKEN": "fleet-sim-token"}
    none = _env(tmp_path, None, **token)
    assert_short_failure(fleet(*_targets(emu, none), env=none), 2, "No subscription to search")
    from_file = _env(tmp_path, f'subscriptions = ["{emu.subscription}"]\n', **token)
    assert fleet(*_targets(emu, from_file), "-o", "json", env=from_file).returncode == 0
    env_wins = {**from_file, "AZURE_SUBSCRIPTION_ID": UNKNOWN}
    assert_short_failure(fleet(*_targets(emu, env_wins), env=env_wins), 4, UNKNOWN)
    flag_wins = fleet(*_targets(emu, env_wins, "--subscription", emu.subscription), env=env_wins)
    assert flag_wins.returncode == 0, flag_wins.stderr
    simulated = fleet("targets", "--sim", "-t", "env=prod", env=env_wins)  # the sim's own
    assert simulated.returncode == 0, simulated.stderr


def test_state_dir_and_output_come_from_the_config_file(tmp_path: Path) -> None:
    state = tmp_path / "my-state"
    env = _env(tmp_path, f'state_dir = "{state}"\noutput = "json"\n')
    ran = fleet("run", "--sim", "--profile", "small", "-n", "app-01", "--script", "uptime",
                "--yes", env=env)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["summary"]["total"] == 1  # output = "json"
    assert (state / "journal.sqlite3").exists()
    runs = fleet("runs", env=env)
    assert [r["job"] for r in json.loads(runs.stdout)] == ["adhoc"]
    as_table = fleet("runs", "-o", "table", env=env)  # the flag wins over the file
    assert "1 run\n" in as_table.stdout and "1 runs" not in as_table.stdout
    elsewhere = fleet("runs", "-o", "json", env={**env, "FLEET_STATE_DIR": str(tmp_path / "x")})
    assert json.loads(elsewhere.stdout) == []  # the environment wins over the file


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ('output = "json"\nsubscriptions = "not a list', 2, "not valid TOML"),
        ('# defaults\noutput = "json"\ncolour = "blue"\n', 3, "colour: unknown setting"),
        ('state_dir = "/x"\noutput = "yaml"\n', 2, "output: must be table, json or tsv"),
        ('subscriptions = ["prod"]\n', 1, "'prod' is not a subscription id"),
    ],
)
def test_a_bad_config_file_is_exit_2_with_file_and_line(
    tmp_path: Path, text: str, line: int, needle: str
) -> None:
    env = _env(tmp_path, text)
    proc = fleet("runs", env=env)
    assert_short_failure(proc, 2, f"config.toml:{line}: ", needle)
