"""``Secrets``: every secret a job carries (script and gates), redaction of text, results and
JSON-like structures, SAS signatures masked even when fleet never knew them."""

from __future__ import annotations

import dataclasses

from fleet.model import (
    HealthGate,
    Parameter,
    RolloutPolicy,
    ScriptSource,
    ScriptSpec,
    Secret,
    SourceKind,
    Status,
    TargetResult,
)
from fleet.secrets import Secrets, redact_uri
from tests.journal import PASSWORD, PROTECTED_VALUE, SAS, make_spec, make_target


def test_from_spec_collects_every_secret_longest_first() -> None:
    values = Secrets.from_spec(make_spec()).values
    assert set(values) == {PROTECTED_VALUE, PASSWORD, SAS}
    assert [len(v) for v in values] == sorted((len(v) for v in values), reverse=True)


def test_secret_valued_plain_parameters_and_gate_scripts_count_too() -> None:
    spec = make_spec()
    gate_script = ScriptSpec(
        ScriptSource(SourceKind.INLINE, "check"),
        protected_parameters=(Parameter("GATE_TOKEN", Secret("gate-token-value")),),
    )
    spec = dataclasses.replace(
        spec,
        script=dataclasses.replace(
            spec.script, parameters=(Parameter("KEY", Secret("plain-but-secret")),)
        ),
        rollout=RolloutPolicy(gates=(HealthGate("health", gate_script),)),
    )
    values = set(Secrets.from_spec(spec).values)
    assert {"plain-but-secret", "gate-token-value", PROTECTED_VALUE} <= values


def test_redact_replaces_longest_first_and_masks_any_sas_signature() -> None:
    secrets = Secrets.of(["abc", "abcdef"])
    assert secrets.redact("x abcdef y abc") == "x *** y ***"
    unknown = "https://acct.blob.core.windows.net/c/f.sh?sv=2024&sig=UnknownSig%3D&se=1"
    assert Secrets().redact(f'PUT "{unknown}": dial tcp') == (
        'PUT "https://acct.blob.core.windows.net/c/f.sh?<redacted>": dial tcp'
    )
    assert Secrets().redact("query sv=2024&sig=Bare%3D&se=1") == "query sv=2024&sig=***&se=1"
    assert Secrets().redact("see https://h.example/x?a=1 and sig") == (
        "see https://h.example/x?a=1 and sig"
    )


def test_short_values_are_not_secrets_and_nothing_is_printed() -> None:
    secrets = Secrets.of(["ab", Secret("hunter2")])
    assert secrets.values == ("hunter2",)
    assert "hunter2" not in repr(secrets) and "hunter2" not in str(secrets)


def test_scrub_walks_nested_json_and_masks_secret_keys_on_request() -> None:
    data = {"a": ["x secret-1 y", {"b": "secret-1"}], "n": 3, "none": None, "token": "t"}
    secrets = Secrets.of(["secret-1"])
    assert secrets.scrub(data) == {
        "a": ["x *** y", {"b": "***"}], "n": 3, "none": None, "token": "t"
    }  # fmt: skip
    assert secrets.scrub(data, mask_keys=True)["token"] == "***"
    assert secrets.scrub(("secret-1",)) == ("***",)


def test_redact_result_covers_output_error_and_reason() -> None:
    result = TargetResult(
        make_target(1), Status.FAILED, reason="pw hunter2", output="hunter2\n", error="hunter2!"
    )
    clean = Secrets.of(["hunter2"]).redact_result(result)
    assert (clean.reason, clean.output, clean.error) == ("pw ***", "***\n", "***!")
    assert Secrets().redact_result(result) is result


def test_redact_uri() -> None:
    assert redact_uri(f"https://acct.blob.core.windows.net/s/fix.sh?{SAS}") == (
        "https://acct.blob.core.windows.net/s/fix.sh?<redacted>"
    )
    assert redact_uri("https://user:pw@h.example/x") == "https://h.example/x"
    assert redact_uri("https://h.example/x") == "https://h.example/x"
