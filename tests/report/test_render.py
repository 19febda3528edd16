"""Terminal rendering: the summary table, clush-style groups and the progress display."""

from __future__ import annotations

import dataclasses
import io

from rich.console import Console

from fleet.model import Deleted, DeleteReason, Progress, Status, Target, TargetResult
from fleet.report.groups import group_results
from fleet.report.progress import ProgressDisplay, plain_line
from fleet.report.render import render_groups, render_summary
from fleet.secrets import Secrets
from tests.report.test_groups import fleet_results, health_result, make_target
from tests.report.test_json_report import make_report, skipped


def record() -> Console:
    return Console(record=True, width=100, file=io.StringIO(), color_system=None)


def test_summary_table_groups_and_samples() -> None:
    console = record()
    results = [*fleet_results(n_ok=196), skipped("off-1")]
    render_summary(console, make_report(results))
    text = console.export_text()
    lines = text.splitlines()
    assert any("Succeeded" in line and "196" in line for line in lines)
    assert any("Failed" in line and "4" in line for line in lines)
    assert any("total" in line and "201" in line for line in lines)
    # Healthy Linux and Windows VMs end in the same verdict: one line, no names listed.
    ok = [line for line in lines if line.startswith("196 targets: ")]
    assert len(ok) == 1 and ok[0].startswith("196 targets: status: OK (")
    assert "output variants" in ok[0]
    assert (
        "3 targets (app-906, ci-runner-11, web-905): ERROR: / is 100% full (threshold 90%)" in text
    )
    assert "1 target (db-900): ERROR: 1 required service is not running" in text
    assert "1 target (off-1): VM is deallocated" in text
    # Failure groups show their sample output, indented.
    assert "    df: write failed: /var/log/health.log: No space left on device" in lines
    assert "    nginx.service: inactive (dead)" in lines
    assert "429" in text and "12.3s waiting" in text


def test_summary_says_what_fleet_deleted_on_the_vms() -> None:
    ok = fleet_results(n_ok=3)
    freed = Deleted("fleet-old", DeleteReason.RECLAIMED)
    cleaned = Deleted("fleet-health", DeleteReason.CLEANUP)
    refused = Deleted("fleet-health", DeleteReason.CLEANUP, error="Conflict: busy")
    results = [
        dataclasses.replace(ok[0], deleted=(freed, cleaned)),
        dataclasses.replace(ok[1], deleted=(refused,)),
        ok[2],
    ]
    console = record()
    render_summary(console, dataclasses.replace(make_report(results), cleanup="always"))
    text = " ".join(console.export_text().split())
    assert (
        "fleet deleted 2 run commands of its own (1 to free a slot at Azure's limit of 25 per "
        "VM; cleanup: always); 1 could not be deleted (see the report)." in text
    )
    console = record()
    render_summary(console, make_report(ok))
    assert "fleet deleted" not in console.export_text()


def test_group_order_in_output() -> None:
    console = record()
    render_summary(console, make_report(fleet_results(n_ok=20)))
    text = console.export_text()
    assert text.index("20 targets:") < text.index("3 targets (") < text.index("1 target (db-900)")


def test_long_name_lists_are_truncated() -> None:
    results = [
        TargetResult(make_target(f"vm-{i:02d}"), Status.ACCESS_DENIED, reason="no permission")
        for i in range(25)
    ]
    console = record()
    render_groups(console, group_results(results), max_names=10)
    text = console.export_text()
    assert "25 targets (vm-00, vm-01," in text
    assert "vm-09, +15 more): no permission" in text
    assert "vm-10" not in text


def test_small_success_groups_list_names() -> None:
    console = record()
    render_groups(console, group_results([health_result("lonely-1", seed=3)]))
    assert "1 target (lonely-1): status: OK" in console.export_text()


def test_script_output_is_not_treated_as_markup() -> None:
    result = TargetResult(make_target("x"), Status.FAILED, exit_code=1, error="[red]oops[/red]\n")
    console = record()
    render_groups(console, group_results([result]))
    assert "[red]oops[/red]" in console.export_text()


def test_secrets_are_redacted_in_the_terminal() -> None:
    result = TargetResult(make_target("x"), Status.FAILED, exit_code=1, error="pw=hunter2\n")
    console = record()
    render_summary(console, make_report([result]), secrets=Secrets.of(["hunter2"]))
    text = console.export_text()
    assert "hunter2" not in text and "pw=***" in text


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_plain_mode_prints_throttled_lines() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    assert not console.is_terminal
    clock = FakeClock()
    with ProgressDisplay(console, plain_interval_s=5.0, clock=clock) as display:
        for second in range(12):
            clock.now = float(second)
            display.update(Progress(total=100, launched=second * 5, succeeded=second * 4))
    lines = out.getvalue().splitlines()
    # t=0, t=5, t=10, and the final state at t=11.
    assert len(lines) == 4
    assert lines[0].startswith("[00:00] 0/100 done (0%): launched 0, running 0")
    assert lines[-1] == plain_line(Progress(total=100, launched=55, succeeded=44))
    assert "\x1b[" not in out.getvalue()


def test_plain_line_content() -> None:
    p = Progress(
        total=5000,
        skipped=3,
        launched=4000,
        running=1000,
        succeeded=2990,
        failed=7,
        throttled=12,
        throttle_wait_s=34.56,
        elapsed_s=3725.0,
    )
    assert plain_line(p) == (
        "[1:02:05] 3,000/5,000 done (60%): launched 4,000, running 1,000, succeeded 2,990, "
        "failed 7, skipped 3; throttled 12 (34.6s waited)"
    )


def test_plain_line_says_how_many_running_targets_are_rebooting() -> None:
    p = Progress(total=10, launched=6, running=4, rebooting=3, succeeded=2, elapsed_s=61.0)
    assert plain_line(p) == (
        "[01:01] 2/10 done (20%): launched 6, running 4 (3 rebooting), succeeded 2, "
        "failed 0, skipped 0; throttled 0 (0.0s waited)"
    )


def test_progress_live_mode_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=True, color_system=None)
    with ProgressDisplay(console, title="health") as display:
        display.update(Progress(total=10, launched=4, running=2, succeeded=1, failed=1))
        display.update(Progress(total=10, launched=10, succeeded=9, failed=1, throttled=3))
    text = out.getvalue()
    assert "health" in text and "done 10/10" in text and "failed 1" in text
    assert "429s 3" in text


def test_patched_hosts_fold_into_one_line_that_names_none_and_keeps_a_success_code() -> None:
    def patched(name: str, distro: str, code: int) -> TargetResult:
        verdict = "REBOOT REQUIRED" if code else "no reboot required"
        out = f"{distro} update log\n{name}: patched; {verdict}\n"
        return TargetResult(make_target(name), Status.SUCCEEDED, exit_code=code, output=out)

    results = [
        *(patched(f"web-{i:03}", "apt" if i % 2 else "dnf", 0) for i in range(6)),
        patched("web-100", "apt", 100), patched("web-101", "dnf", 100),
    ]  # fmt: skip
    console = record()
    render_groups(console, group_results(results))
    lines = console.export_text().splitlines()
    names = ", ".join(f"web-{i:03}" for i in range(6))
    assert (
        lines[0] == f"6 targets ({names}): <host>: patched; no reboot required (2 output variants)"
    )
    assert lines[1] == (
        "2 targets (web-100, web-101): <host>: patched; REBOOT REQUIRED (2 output variants)"
        "  [Succeeded, exit 100]"
    )


def test_a_narrow_summary_keeps_the_run_id_on_one_line() -> None:
    """An empty run's status table is 20 columns wide: its title used to wrap the run id
    ("20261130-122118-5986" / "b5"), so `fleet run ... | grep RUN_ID` missed it."""
    run_id = "20261130-122118-5986b5"
    console = record()
    render_summary(console, dataclasses.replace(make_report([]), run_id=run_id))
    assert any(run_id in line for line in console.export_text().splitlines())


def test_a_plain_progress_line_is_one_log_line_at_any_width() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False)  # stderr in CI: 80 columns
    p = Progress(total=5000, launched=4000, running=1000, succeeded=2990, failed=7, skipped=3)
    with ProgressDisplay(console) as display:
        display.update(p)
    assert out.getvalue() == plain_line(p) + "\n" and len(plain_line(p)) > 80


def test_scale_set_instances_fold_with_vms_and_no_line_names_one_computer() -> None:
    """A scale-set instance prints its computer name (vmss-api000001 for vmss-api_1, Azure's
    prefix + 6 base-36 characters), not its instance name: the demo's rolling patch printed
    "9 targets (vmss-api_1, ..., web-002, ...): vmss-api000001: patched" and four such lines,
    one per computer name, instead of one line naming none of them."""

    def patched(target: Target, host: str, distro: str) -> TargetResult:
        out = f"{distro} update log\n{host}: patched; no reboot required\n"
        return TargetResult(target, Status.SUCCEEDED, exit_code=0, output=out)

    results = [
        *(patched(make_target(f"vmss-api_{i}", scale_set="vmss-api"), f"vmss-api00000{i}",
                  "apt" if i % 2 else "dnf") for i in range(1, 5)),
        *(patched(make_target(f"web-00{i}"), f"web-00{i}", "apt") for i in range(1, 4)),
    ]  # fmt: skip
    console = record()
    render_groups(console, group_results(results), max_names=3)
    (line,) = console.export_text().splitlines()
    assert line.startswith("7 targets: <host>: patched; no reboot required (")
    assert "vmss-api0000" not in line


def test_a_run_without_an_end_gives_no_duration_or_request_counts() -> None:
    """fleet show of an interrupted run said "Run interrupted in 0.0s. ARM requests: none":
    the journal has neither its end nor its request counts."""
    for ended, said in (("interrupted", "interrupted"), ("running", "in flight")):
        console = record()
        render_summary(console, dataclasses.replace(make_report([]), ended=ended))
        text = console.export_text()
        assert f"Run {said}, started " in text and "no duration or ARM counts yet" in text
        assert "0.0s" not in text and "ARM requests: none" not in text


def test_a_long_label_is_whole_in_a_pipe_and_cut_on_a_terminal() -> None:
    """Azure's AuthorizationFailed message names the action past 160 characters: `fleet run |
    grep runCommands/write` found "...perform action 'Microsoft.Compu…"."""
    reason = (
        "AuthorizationFailed: The client 'operator' with object id "
        "'bdd640fb-0667-4ad1-9c80-317fa3b1799d' does not have authorization to perform action "
        "'Microsoft.Compute/virtualMachines/runCommands/write' over scope '/subscriptions/1111'"
    )
    results = [
        TargetResult(make_target(f"fin-0{i}"), Status.ACCESS_DENIED, reason=reason) for i in (1, 2)
    ]
    piped = record()
    render_groups(piped, group_results(results))
    assert f"2 targets (fin-01, fin-02): {reason}  [AccessDenied]" in piped.export_text()
    terminal = Console(record=True, width=400, file=io.StringIO(), force_terminal=True)
    render_groups(terminal, group_results(results))
    (line,) = terminal.export_text().splitlines()
    assert "…" in line and "runCommands/write" not in line  # the terminal keeps its one line
