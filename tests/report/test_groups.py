"""Output normalisation and grouping, on outputs made from the emulator's health-check templates."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.model import Status, Target, TargetKind, TargetResult
from fleet.report.groups import group_results, normalize, summarize
from fleet.sim.model import SimVm
from fleet.sim.outcomes import vm_facts
from fleet.sim.profile_sections import DEFAULT_OUTCOMES

OUTCOMES = {o.name: o for o in DEFAULT_OUTCOMES}
SUB = "00000000-0000-0000-0000-0000000000aa"


def make_target(name: str, *, scale_set: str | None = None, rg: str = "rg-prod") -> Target:
    base = f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Compute"
    if scale_set:
        vm_id = f"{base}/virtualMachineScaleSets/{scale_set}/virtualMachines/{name}"
        kind = TargetKind.VMSS_UNIFORM
    else:
        vm_id, kind = f"{base}/virtualMachines/{name}", TargetKind.VM
    return Target(
        id=vm_id,
        name=name,
        kind=kind,
        subscription=SUB,
        resource_group=rg,
        location="eastus",
        zone="1",
        scale_set=scale_set,
    )


def health_result(
    name: str,
    outcome: str = "ok",
    *,
    os: str = "linux",
    seed: int = 0,
    computer_name: str | None = None,
    scale_set: str | None = None,
) -> TargetResult:
    """A result whose output is the emulator's template filled with this VM's own facts."""
    vm = SimVm(
        subscription_id=SUB,
        resource_group="rg-prod",
        name=name,
        location="eastus",
        os=os,
        vm_size="Standard_D2s_v5",
        vm_id="11111111-1111-1111-1111-111111111111",
        computer_name=computer_name or (name[:15] if os == "windows" else name),
    )
    facts = vm_facts(random.Random(seed), vm)
    template = OUTCOMES[outcome]
    facts |= {"script_first_line": "/opt/health.sh", "exit_code": str(template.exit_code)}
    windows = os == "windows"
    output = template.windows_output if windows and template.windows_output else template.output
    error = template.windows_error if windows and template.windows_error else template.error
    status = Status.SUCCEEDED if template.exit_code == 0 else Status.FAILED
    return TargetResult(
        target=make_target(name, scale_set=scale_set),
        status=status,
        exit_code=template.exit_code,
        output=output.format(**facts),
        error=error.format(**facts),
        execution_state="Succeeded" if status is Status.SUCCEEDED else "Failed",
        attempts=1,
        polls=1,
    )


def fleet_results(n_ok: int = 196, seed: int = 7) -> list[TargetResult]:
    """A mixed fleet: mostly healthy, plus 3 full disks and 1 stopped service."""
    results = [
        health_result(f"web-{i:03d}", os="windows" if i % 5 == 0 else "linux", seed=seed + i)
        for i in range(n_ok)
    ]
    results += [
        health_result("web-905", "disk-full", seed=1),
        health_result("app-906", "disk-full", seed=2),
        health_result("ci-runner-11", "disk-full", seed=3),
        health_result("db-900", "service-down", seed=4),
    ]
    return results


def test_normalize_removes_per_vm_noise_but_keeps_words() -> None:
    text = (
        "web-017 up 12 days, 3:04 at 2025-03-01T10:22:33.123Z, 10.1.2.3 fe80::20d:3aff:fe12:3456\n"
        "  id   3f2a1b4c5d6e7f80 vm 1b4e28ba-2fa1-11d2-883f-0016d3cca427 load 0.42, 0.37 disk 87%"
    )
    got = normalize(text, make_target("web-017"))
    assert got == (
        "<host> up <uptime> at <time>, <ip> <ip>\nid <hex> vm <guid> load <n>, <n> disk <n>"
    )
    assert normalize("disk full") != normalize("OK")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("up 3:04, load 1.5", "up 200 days, 23:59, load 0.01"),
        ("kernel 5.15.0-1064-azure", "kernel 6.8.0-1010-azure"),
        ("at 2024-12-31 23:59:59 UTC", "at 2025-01-01 00:00:01 UTC"),
        ("a   b\r\n\r\n c\t", "a b\nc"),
        ("took 12 ms", "took 1,234 ms"),
    ],
)
def test_normalize_equal_pairs(a: str, b: str) -> None:
    assert normalize(a) == normalize(b)


def test_normalize_replaces_only_the_targets_own_names() -> None:
    target = make_target("web-01")
    assert normalize("web-01 cannot reach web-01x", target) == "<host> cannot reach web-<n>x"
    # Windows computer names are cut at 15 characters.
    long = make_target("app-windows-server-7")
    assert normalize("host APP-WINDOWS-SER ok", long) == "host <host> ok"


def test_normalize_scale_set_computer_names() -> None:
    target = make_target("3", scale_set="web_ss")
    assert normalize("== health check: webss00000x ==", target) == "== health check: <host> =="


def test_health_check_fleet_collapses_per_os_family_and_separates_failures() -> None:
    results = fleet_results()
    groups = group_results(results)
    ok = [g for g in groups if g.status is Status.SUCCEEDED]
    # One group per distribution family (the OS line names it), never one per VM.
    families = {r.output.splitlines()[1].split("(")[0].split()[1] for r in results[:196]}
    assert len(ok) == len(families) <= 5
    assert sum(g.count for g in ok) == 196
    bad = [g for g in groups if g.status is Status.FAILED]
    assert [(g.count, g.exit_code, g.targets) for g in bad] == [
        (3, 1, ("app-906", "ci-runner-11", "web-905")),
        (1, 3, ("db-900",)),
    ]
    assert bad[0].summary == "ERROR: / is 100% full (threshold 90%)"
    assert bad[1].summary == "ERROR: 1 required service is not running"


def test_same_distribution_family_is_one_group() -> None:
    # Only Ubuntu releases (different versions, kernels, uptimes, disks, IPs, hostnames).
    results = [health_result(f"vm{i}", seed=s) for i, s in enumerate(range(400))]
    ubuntu = [r for r in results if "Ubuntu" in r.output]
    assert len(ubuntu) > 50
    groups = group_results(ubuntu)
    assert len(groups) == 1
    assert groups[0].count == len(ubuntu)
    assert groups[0].summary == "status: OK"
    assert groups[0].targets == tuple(sorted(r.target.name for r in ubuntu))


def test_ordering_largest_first_then_status_then_summary() -> None:
    def res(name: str, status: Status, reason: str = "", code: int | None = None) -> TargetResult:
        return TargetResult(make_target(name), status, reason=reason or None, exit_code=code)

    results = [
        res("a", Status.SKIPPED, "VM is deallocated"),
        res("b", Status.ACCESS_DENIED, "no runCommands/write permission"),
        res("c", Status.SUCCEEDED, code=0),
        res("d", Status.SKIPPED, "VM is stopped"),
        res("e", Status.SKIPPED, "VM is deallocated"),
    ]
    groups = group_results(results)
    assert [(g.count, g.status, g.summary) for g in groups] == [
        (2, Status.SKIPPED, "VM is deallocated"),
        (1, Status.SUCCEEDED, "(no output)"),
        (1, Status.SKIPPED, "VM is stopped"),
        (1, Status.ACCESS_DENIED, "no runCommands/write permission"),
    ]
    assert len({g.key for g in groups}) == 4


def test_exit_code_separates_groups() -> None:
    one = TargetResult(make_target("a"), Status.FAILED, exit_code=1, error="boom")
    two = TargetResult(make_target("b"), Status.FAILED, exit_code=2, error="boom")
    assert len(group_results([one, two])) == 2


@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.FAILED])
def test_same_stdout_with_different_stderr_is_two_groups(status: Status) -> None:
    """A health check that prints "OK" everywhere but warns on two VMs: the warning is what
    the operator must see, so stderr is part of what makes outputs "the same"."""
    code = 0 if status is Status.SUCCEEDED else 1

    def result(name: str, error: str) -> TargetResult:
        out = f"status: OK on {name}\n"
        return TargetResult(make_target(name), status, exit_code=code, output=out, error=error)

    quiet = [result(f"web-{i:02}", "") for i in range(5)]
    warned = [result(f"web-{i:02}", f"warning: {i}% of inodes left on /var\n") for i in (7, 9)]
    groups = group_results([*quiet, *warned])
    assert [(g.count, g.targets) for g in groups] == [
        (5, ("web-00", "web-01", "web-02", "web-03", "web-04")),
        (2, ("web-07", "web-09")),
    ]
    assert groups[0].sample_error == "" and groups[1].sample_error.startswith("warning: 7%")
    assert len({g.key for g in groups}) == 2


def test_stderr_that_differs_only_by_per_vm_noise_is_one_group() -> None:
    def result(i: int, name: str, pct: int) -> TargetResult:
        error = f"{name}: disk at {pct}% on 10.0.0.{i}\n"
        return TargetResult(make_target(name), Status.FAILED, exit_code=2, error=error)

    results = [
        result(i, n, p) for i, (n, p) in enumerate([("db-1", 91), ("db-2", 97), ("db-3", 93)])
    ]
    (group,) = group_results(results)
    assert group.count == 3 and group.summary == "db-1: disk at 91% on 10.0.0.0"


def test_sample_is_deterministic_and_raw() -> None:
    results = fleet_results(n_ok=3)
    disk = next(g for g in group_results(results) if g.exit_code == 1)
    # The sample comes from the member with the smallest id, output left as the VM printed it.
    assert "== health check: app-906 ==" in disk.sample_output
    assert "No space left on device" in disk.sample_error


@pytest.mark.parametrize(
    ("result", "label"),
    [
        (
            TargetResult(make_target("a"), Status.SUCCEEDED, output="x\nstatus:   OK\n\n"),
            "status: OK",
        ),
        (TargetResult(make_target("a"), Status.FAILED, output="o", error="e1\ne2\n"), "e2"),
        (TargetResult(make_target("a"), Status.FAILED, output="only out\n"), "only out"),
        (
            TargetResult(make_target("a"), Status.TIMED_OUT, reason="timed out after 600s"),
            "timed out after 600s",
        ),
        (
            TargetResult(make_target("a"), Status.SKIPPED, reason="VM is deallocated"),
            "VM is deallocated",
        ),
        (TargetResult(make_target("a"), Status.NOT_FOUND), "NotFound"),
    ],
)
def test_summary_labels(result: TargetResult, label: str) -> None:
    assert summarize(result) == label


def test_summary_is_one_bounded_line() -> None:
    result = TargetResult(make_target("a"), Status.FAILED, error="x" * 500)
    label = summarize(result)
    assert len(label) <= 160 and "\n" not in label


# Fragments that trigger the rules and their edges, glued together at random.
NOISY = st.sampled_from(
    ["0", "12", "2025-03-01", "T", "10:22", "3:04", ":", "::", ".", "-", ",", " ", "\t", "\n",
     "a", "f", "e8", "deadbeef12", "up ", "days, ", "min", "%", "/", "web-1", "<n>", "Z", "é"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(NOISY, max_size=25).map("".join) | st.text(max_size=100))
def test_normalize_is_total_and_idempotent(text: str) -> None:
    once = normalize(text, make_target("web-1"))
    assert normalize(once) == once


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(Status)), st.sampled_from([None, 0, 1]), st.text(max_size=30)
        ),
        max_size=30,
    )
)
def test_group_counts_add_up(rows: list[tuple[Status, int | None, str]]) -> None:
    results = [
        TargetResult(make_target(f"vm{i}"), status, exit_code=code, output=out)
        for i, (status, code, out) in enumerate(rows)
    ]
    groups = group_results(results)
    assert sum(g.count for g in groups) == len(results)
    assert sorted(n for g in groups for n in g.targets) == sorted(r.target.name for r in results)
    assert [g.count for g in groups] == sorted((g.count for g in groups), reverse=True)
