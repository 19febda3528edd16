"""The stored spec is secret-free; hashes follow what runs, never secret values."""

from __future__ import annotations

import dataclasses

from fleet.journal.spec_record import canonical_json, script_hash, spec_hash, spec_to_dict
from fleet.model import Mode, Parameter, ScriptSource, Secret, SourceKind
from tests.journal import PASSWORD, PROTECTED_VALUE, SAS, make_spec


def test_stored_spec_keeps_names_and_drops_secret_values() -> None:
    shown = spec_to_dict(make_spec())
    text = canonical_json(shown)
    for secret in (PROTECTED_VALUE, PASSWORD, SAS, "apt-get upgrade"):
        assert secret not in text
    script = shown["script"]
    assert script["protected_parameters"] == [{"name": "TOKEN", "value": "***"}]
    assert script["parameters"] == [{"name": "MODE", "value": "full"}]
    assert script["run_as_user"] == "patcher" and script["run_as_password"] == "***"
    assert script["windows"] == {
        "kind": "scriptUri",
        "value": "https://st.blob.core.windows.net/s/p.ps1?***",
    }
    assert script["default"]["kind"] == "script" and script["default"]["chars"] == 18


def test_secret_wrapped_plain_parameter_and_secret_echoed_elsewhere_are_scrubbed() -> None:
    spec = make_spec()
    script = dataclasses.replace(
        spec.script,
        parameters=(Parameter("KEY", Secret("plain-but-secret")),),
        run_as_user=f"user-{PASSWORD}",  # a secret in a field that is not secret
    )
    text = canonical_json(spec_to_dict(dataclasses.replace(spec, script=script)))
    assert "plain-but-secret" not in text and PASSWORD not in text


def test_spec_hash_ignores_secret_values_and_the_file_name() -> None:
    spec = make_spec()
    rotated = dataclasses.replace(
        spec,
        source="elsewhere.yaml",
        script=dataclasses.replace(
            spec.script,
            run_as_password=Secret("another-password"),
            protected_parameters=(Parameter("TOKEN", Secret("another-token")),),
        ),
    )
    assert spec_hash(rotated) == spec_hash(spec)
    assert script_hash(rotated) == script_hash(spec)


def test_hashes_change_when_what_runs_changes() -> None:
    spec = make_spec()
    other_script = make_spec(script="apt-get upgrade -y --with-new-pkgs")
    assert spec_hash(other_script) != spec_hash(spec)
    assert script_hash(other_script) != script_hash(spec)
    more_targets = dataclasses.replace(
        spec, selector=dataclasses.replace(spec.selector, resource_groups=("rg-web", "rg-db"))
    )
    assert spec_hash(more_targets) != spec_hash(spec)
    assert script_hash(more_targets) == script_hash(spec)


def test_command_id_sources_are_kept_verbatim() -> None:
    spec = make_spec()
    spec = dataclasses.replace(
        spec,
        script=dataclasses.replace(
            spec.script, default=ScriptSource(SourceKind.COMMAND_ID, "RunShellScript")
        ),
    )
    assert spec_to_dict(spec)["script"]["default"] == {
        "kind": "commandId",
        "value": "RunShellScript",
    }


def test_the_action_mode_is_part_of_the_spec_hash_and_managed_hashes_are_unchanged() -> None:
    spec = make_spec()
    action = dataclasses.replace(spec, mode=Mode.ACTION)
    assert "mode" not in spec_to_dict(spec)  # journals written before modes existed still match
    assert spec_to_dict(action)["mode"] == "action"
    assert spec_hash(action) != spec_hash(spec)
