"""The managed run-command PUT body (ARM camelCase) for an invocation; the only place secrets
are revealed, right before they go on the wire. Every body carries fleet's marker (the tags of
``fleet.model.hygiene.marker_tags``), so fleet can tell its run commands from others' later.
"""

from __future__ import annotations

from typing import Any

from fleet.model import Invocation, OutputBlobs, Parameter, Secret, SourceKind, marker_tags


def _value(value: str | Secret) -> str:
    return value.reveal() if isinstance(value, Secret) else value


def wire_parameters(params: tuple[Parameter, ...]) -> list[dict[str, str]]:
    """Parameters as ARM takes them (secret values revealed: right before the wire)."""
    return [{"name": p.name, "value": _value(p.value)} for p in params]


def run_command_body(inv: Invocation, location: str) -> dict[str, Any]:
    source_key = {
        SourceKind.INLINE: "script",
        SourceKind.URI: "scriptUri",
        SourceKind.COMMAND_ID: "commandId",
    }[inv.source.kind]
    props: dict[str, Any] = {
        "source": {source_key: _value(inv.source.value)},
        "parameters": wire_parameters(inv.parameters),
        "asyncExecution": False,
        "timeoutInSeconds": inv.timeout_s,
        "treatFailureAsDeploymentFailure": False,
    }
    if inv.protected_parameters:
        props["protectedParameters"] = wire_parameters(inv.protected_parameters)
    if inv.run_as_user:
        props["runAsUser"] = inv.run_as_user
    if inv.run_as_password is not None:
        props["runAsPassword"] = inv.run_as_password.reveal()
    if inv.output_blobs is not None:
        props.update(_blob_properties(inv.output_blobs))
    tags = marker_tags(inv.job or inv.run_command.removeprefix("fleet-"), inv.run_id)
    return {"location": location, "tags": tags, "properties": props}


def _blob_properties(blobs: OutputBlobs) -> dict[str, Any]:
    """``outputBlobUri``/``errorBlobUri`` with their SAS (revealed here, for the wire only), or
    the managed identity the agent writes with (``{}`` = system-assigned)."""
    props: dict[str, Any] = {
        "outputBlobUri": blobs.stdout.writable_url(),
        "errorBlobUri": blobs.stderr.writable_url(),
    }
    if blobs.stdout.identity is not None:
        props["outputBlobManagedIdentity"] = blobs.stdout.identity
    if blobs.stderr.identity is not None:
        props["errorBlobManagedIdentity"] = blobs.stderr.identity
    return props
