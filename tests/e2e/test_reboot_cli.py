"""Reboots from the CLI: ``fleet plan`` says the reboot policy and what it may cost, a reboot
that cannot say when it is required is refused before anything is sent (exit 2, naming the
flag), and ``--help`` lists the reboot flags."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_cli_run import fleet

SMALL = ("--sim", "--profile", "small", "--tag", "env=test", "--script", "uptime")


def test_plan_says_the_reboot_policy_and_its_cost(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text("name: p\ntargets: {tags: {env: test}}\nscript: {inline: uptime}\n")
    args = ("--sim", "--profile", "small", "--reboot", "always", "--reboot-timeout", "10m")
    proc = fleet("plan", str(job), *args)
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())  # the table wraps its caption
    assert "reboot always, waiting up to 600 s" in out
    assert "every VM takes its reboot_timeout" in out
    assert "plus up to 19 restarts (a write each, and a few reads per VM) for reboots" in out


def test_if_required_without_a_way_to_know_is_refused_before_anything_runs() -> None:
    proc = fleet("run", *SMALL, "--reboot", "if-required", "--yes")
    assert proc.returncode == 2
    assert "--reboot: if-required needs a way to know: --reboot-exit-codes" in proc.stderr
    assert "Traceback" not in proc.stderr
    bad = fleet("run", *SMALL, "--reboot", "when-needed", "--yes")
    assert bad.returncode == 2 and "--reboot: 'when-needed' is not a reboot policy" in bad.stderr


def test_help_lists_the_reboot_flags() -> None:
    out = fleet("run", "--help", env={"COLUMNS": "200"}).stdout
    for flag in ("--reboot ", "--reboot-exit-codes", "--reboot-marker", "--reboot-timeout"):
        assert flag in out, flag
