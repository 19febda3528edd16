"""Fleet profile schema and loader: shipped profiles load; bad ones name file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fleet.sim import catalog
from fleet.sim.profile import Profile, ProfileError, load_profile, parse_profile

CONFIGS = Path(__file__).resolve().parents[2] / "fleet" / "sim" / "profiles"
SUB = "11111111-1111-1111-1111-111111111111"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def _minimal(**extra: object) -> dict[str, object]:
    rg = {"name": "rg-a", "location": "eastus", "vms": [{"count": 2, "name": "vm-{i}"}]}
    sub = {"id": SUB, "name": "s", "resource_groups": [rg]}
    return {"name": "t", "subscriptions": [sub], **extra}


@pytest.mark.parametrize("name", catalog.PROFILES.names())
def test_shipped_profiles_load(name: str) -> None:
    profile = catalog.load(name)
    assert isinstance(profile, Profile)
    assert profile.name == name
    assert profile == load_profile(CONFIGS / f"{name}.yaml")  # by name = by path


def test_defaults_fill_in() -> None:
    profile = parse_profile(_minimal())
    assert [p.token for p in profile.principals] == ["fleet-sim-token"]
    assert profile.principals[0].roles[0].role == "Contributor"
    assert profile.script.pending.median == 3
    assert profile.throttling.arm.reads.capacity == 250
    assert profile.throttling.arm.reads.refill_per_s == 25
    assert {o.name for o in profile.script.outcomes} >= {"ok", "disk-full"}
    assert profile.target_count() == 2


def test_bucket_pairs_are_named() -> None:
    throttling = {
        "arm": {"writes": [100, 5]},
        "compute": {"UpdateVM": {"resource": [2, 6], "subscription": [50, 150]}},
    }
    profile = parse_profile(_minimal(throttling=throttling))
    assert profile.throttling.arm.writes.capacity == 100
    update = profile.throttling.compute["UpdateVM"]
    assert update.resource is not None and update.resource.refill_per_min == 2
    assert update.resource.capacity == 6


def test_wrong_type_names_file_line_and_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        f"""
        name: bad
        subscriptions:
          - id: {SUB}
            name: prod
            resource_groups:
              - name: rg-a
                location: eastus
              - name: rg-b
                location: eastus
                vms:
                  - count: ten
                    name: "web-{{i:03d}}"
        """,
    )
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    expected = (
        f"{path}:11: subscriptions[0].resource_groups[1].vms[0].count: "
        "Input should be a valid integer"
    )
    assert message.startswith(expected)
    assert "(got 'ten')" in message


def test_unknown_field_is_rejected_with_its_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        f"""
        name: bad
        subscriptions:
          - id: {SUB}
            name: prod
            colour: blue
        """,
    )
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value) == f"{path}:5: subscriptions[0].colour: unknown field"


def test_bad_guid(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        name: bad
        subscriptions:
          - id: not-a-guid
            name: prod
        """,
    )
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    problem = info.value.problems[0]
    assert (problem.source, problem.line, problem.path) == (str(path), 3, "subscriptions[0].id")
    assert "GUID" in problem.message


def test_weights_summing_to_zero(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        f"""
        name: bad
        defaults:
          power_states: {{running: 0, deallocated: 0}}
        subscriptions:
          - id: {SUB}
            name: prod
        """,
    )
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value) == (f"{path}:3: defaults.power_states: weights must sum to more than 0")


def test_negative_weight_and_fraction_out_of_range() -> None:
    data = _minimal(defaults={"os_mix": {"linux": -1}, "agent_not_ready": 1.5})
    with pytest.raises(ProfileError) as info:
        parse_profile(data, source="inline")
    paths = {p.path for p in info.value.problems}
    assert paths == {"defaults.os_mix.linux", "defaults.agent_not_ready"}
    assert all(str(p).startswith("inline: ") for p in info.value.problems)


def test_pattern_without_placeholder_when_count_above_one(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        f"""
        name: bad
        subscriptions:
          - id: {SUB}
            name: prod
            resource_groups:
              - name: rg-a
                location: eastus
                vms:
                  - count: 3
                    name: web
        """,
    )
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert message.startswith(f"{path}:10: subscriptions[0].resource_groups[0].vms[0].name: ")
    assert "{i}" in message


def test_pattern_with_other_placeholder_is_rejected() -> None:
    data = _minimal()
    data["subscriptions"][0]["resource_groups"][0]["vms"][0]["name"] = "vm-{n}"  # type: ignore[index]
    with pytest.raises(ProfileError, match=r"vms\[0\]\.name: bad name pattern"):
        parse_profile(data)


def test_duplicate_names_and_unknown_references() -> None:
    rg = {"name": "rg-a", "location": "eastus", "vms": [{"name": "a"}, {"name": "A"}]}
    data = {
        "name": "t",
        "subscriptions": [{"id": SUB, "name": "s", "resource_groups": [rg, dict(rg, vms=[])]}],
        "principals": [
            {
                "name": "p",
                "token": "t1",
                "roles": [{"scope": f"/subscriptions/{SUB}/resourceGroups/nope", "role": "Reader"}],
            },
        ],
        "overrides": [{"names": ["a"], "outcome": "exploded"}],
    }
    with pytest.raises(ProfileError) as info:
        parse_profile(data)
    messages = {p.path: p.message for p in info.value.problems}
    assert "duplicate resource group" in messages["subscriptions[0].resource_groups[1].name"]
    assert "also produced by vms[0]" in messages["subscriptions[0].resource_groups[0].vms[1].name"]
    assert "'nope' is not in subscription" in messages["principals[0].roles[0].scope"]
    assert "unknown outcome 'exploded'" in messages["overrides[0].outcome"]


def test_unknown_template_placeholder() -> None:
    outcomes = [{"name": "ok", "output": "{hostname} {colour}"}]
    with pytest.raises(ProfileError, match=r"script\.outcomes\[0\]\.output: unknown placeholder"):
        parse_profile(_minimal(script={"outcomes": outcomes}))


def test_invalid_yaml_and_duplicate_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: a\nseed: 1\nseed: 2\n")
    with pytest.raises(ProfileError, match=r"bad\.yaml:3: duplicate key 'seed'"):
        load_profile(path)
    path.write_text("name: [unclosed\n")
    with pytest.raises(ProfileError, match=r"bad\.yaml:2: invalid YAML"):
        load_profile(path)


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read profile"):
        load_profile(tmp_path / "absent.yaml")
    path = _write(tmp_path, "- just\n- a list\n")
    with pytest.raises(ProfileError, match=r"bad\.yaml:1: a profile is a mapping"):
        load_profile(path)


def test_missing_required_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\n")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value) == f"{path}:1: subscriptions: required field is missing"
