"""Request bodies of managed run commands: validation and normalisation into a ``RunCommandSpec``.

Owns what a PUT/PATCH body may contain (``VirtualMachineRunCommandProperties`` in the 2025-04-01
spec) and the 400s for bad ones. Pure: no clock, no I/O.

Unknown properties (top level, under ``properties`` or under ``source``) are ignored and never
echoed back, the way ARM treats unknown fields in general; read-only fields a client echoes back
(``provisioningState``, ``instanceView``, ``id``, ``type``) are ignored too.
Secrets (``protectedParameters``, ``runAsPassword``) live in the spec for comparison and
execution but are excluded from its ``repr`` and from :meth:`RunCommandSpec.public_properties`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fleet.sim.errors import ArmError, bad_request

SOURCE_KINDS = ("script", "scriptUri", "commandId", "galleryScriptReferenceId")
_SOURCE_EXTRAS = ("scriptUriManagedIdentity", "scriptShell")

# Built-in command ids of managed run commands and the script each stands for (D-RCL, D-RCW).
# Lower-case keys: ARM matches command ids case-insensitively; the request's spelling is echoed.
LINUX_COMMANDS = {"runshellscript": "", "ifconfig": "ifconfig"}
WINDOWS_COMMANDS = {
    "runpowershellscript": "",
    "ipconfig": "ipconfig /all",
    "enableremoteps": "Enable-PSRemoting -Force",
    "enableadminaccount": "net user Administrator /active:yes",
    "disablenla": "Set-ItemProperty -Name UserAuthentication -Value 0",
    "setrdpport": "Set-ItemProperty -Name PortNumber -Value $port",
    "resetrdpcert": "Remove-Item Cert:\\LocalMachine\\Remote Desktop\\*",
    "rdpsettings": "Get-ItemProperty 'HKLM:\\System\\CurrentControlSet\\Control\\Terminal Server'",
}
INT32_MAX = 2**31 - 1
# treatFailureAsDeploymentFailure exists from this api-version on; older versions ignore it.
TREAT_FAILURE_SINCE = "2023-03-01"

Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RunCommandSpec:
    """The writable, normalised fields of a run command (what decides "same body or not")."""

    location: str
    tags: dict[str, str]
    source: dict[str, Any]
    parameters: Params = ()
    protected_parameters: Params = field(default=(), repr=False)
    async_execution: bool = False
    timeout_s: int = 0
    run_as_user: str | None = None
    run_as_password: str | None = field(default=None, repr=False)
    output_blob_uri: str | None = field(default=None, repr=False)  # a SAS may be in the query
    error_blob_uri: str | None = field(default=None, repr=False)
    output_blob_identity: dict[str, str] | None = None
    error_blob_identity: dict[str, str] | None = None
    treat_failure: bool = False

    def public_properties(self) -> dict[str, Any]:
        """camelCase properties safe to echo: never ``protectedParameters``/``runAsPassword``."""
        props: dict[str, Any] = {
            "source": dict(self.source),
            "parameters": [{"name": n, "value": v} for n, v in self.parameters],
            "asyncExecution": self.async_execution,
            "timeoutInSeconds": self.timeout_s,
            "treatFailureAsDeploymentFailure": self.treat_failure,
        }
        optional = {
            "runAsUser": self.run_as_user,
            # ARM echoes the blob URIs without their SAS (azure-cli#26322, #24095 show the
            # responses); the handler receives the SAS apart, as a protected setting.
            "outputBlobUri": _without_query(self.output_blob_uri),
            "errorBlobUri": _without_query(self.error_blob_uri),
            "outputBlobManagedIdentity": self.output_blob_identity,
            "errorBlobManagedIdentity": self.error_blob_identity,
        }
        props.update({k: v for k, v in optional.items() if v is not None})
        return props

    def raw_properties(self) -> dict[str, Any]:
        """All properties including secrets, in request form (the base a PATCH merges into)."""
        props = self.public_properties()
        for key, uri in (
            ("outputBlobUri", self.output_blob_uri),
            ("errorBlobUri", self.error_blob_uri),
        ):
            if uri is not None:
                props[key] = uri
        props["protectedParameters"] = [
            {"name": n, "value": v} for n, v in self.protected_parameters
        ]
        if self.run_as_password is not None:
            props["runAsPassword"] = self.run_as_password
        return props

    @property
    def source_kind(self) -> str:
        return next(k for k in SOURCE_KINDS if k in self.source)

    def script_text(self, os_name: str) -> str:
        """The script the VM would run: inline text, a built-in's script, or the URI/reference."""
        kind = self.source_kind
        value: str = self.source[kind]  # _source admits only a string here
        if kind == "commandId":
            builtins = LINUX_COMMANDS if os_name == "linux" else WINDOWS_COMMANDS
            return builtins[value.lower()]
        return value


def _without_query(uri: str | None) -> str | None:
    return None if uri is None else uri.split("?", 1)[0]


def normalize_location(location: str) -> str:
    return location.replace(" ", "").lower()


def parse_put(
    body: Any, os_name: str, existing: RunCommandSpec | None, *, api_version: str
) -> RunCommandSpec:
    """Validate a PUT body; ``existing`` supplies the location when an update omits it."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", "BadRequest")
    location = _location(body, existing)
    props = body.get("properties")
    if not isinstance(props, dict):
        raise bad_request("The property 'properties' is required.", target="properties")
    tags = _tags(body.get("tags", {}))
    return _spec(props, os_name, location, tags, api_version)


def parse_patch(
    body: Any, os_name: str, existing: RunCommandSpec, *, api_version: str
) -> RunCommandSpec:
    """Merge a partial body (``VirtualMachineRunCommandUpdate``) into ``existing`` and validate."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", "BadRequest")
    patch = body.get("properties")
    patch = {} if patch is None else patch
    if not isinstance(patch, dict):
        raise bad_request("The property 'properties' must be an object.", target="properties")
    merged = existing.raw_properties()
    merged.update({k: v for k, v in patch.items() if v is not None})
    tags = _tags(body["tags"]) if body.get("tags") is not None else existing.tags
    return _spec(merged, os_name, existing.location, tags, api_version)


def _spec(
    props: dict[str, Any], os_name: str, location: str, tags: dict[str, str], api_version: str
) -> RunCommandSpec:
    treat = _bool(props, "treatFailureAsDeploymentFailure")
    return RunCommandSpec(
        location=location,
        tags=tags,
        source=_source(props.get("source"), os_name),
        parameters=_params(props, "parameters"),
        protected_parameters=_params(props, "protectedParameters"),
        async_execution=_bool(props, "asyncExecution"),
        timeout_s=_timeout(props.get("timeoutInSeconds")),
        run_as_user=_opt_str(props, "runAsUser"),
        run_as_password=_opt_str(props, "runAsPassword"),
        output_blob_uri=_opt_str(props, "outputBlobUri"),
        error_blob_uri=_opt_str(props, "errorBlobUri"),
        output_blob_identity=_identity(props, "outputBlobManagedIdentity"),
        error_blob_identity=_identity(props, "errorBlobManagedIdentity"),
        treat_failure=treat and api_version >= TREAT_FAILURE_SINCE,
    )


def _location(body: dict[str, Any], existing: RunCommandSpec | None) -> str:
    raw = body.get("location")
    if raw is None:
        if existing is None:
            raise bad_request("The property 'location' is required.", target="location")
        return existing.location
    if not isinstance(raw, str) or not raw.strip():
        raise bad_request("The property 'location' must be a non-empty string.", target="location")
    location = normalize_location(raw)
    if existing is not None and location != existing.location:
        message = (
            f"The resource already exists in location '{existing.location}'. A resource with "
            f"the same name cannot be created in location '{location}'."
        )
        raise ArmError(400, "InvalidResourceLocation", message, target="location")
    return location


# ARM's tag limits ("tag-resources" docs, limitations; terraform-provider-azurerm#4071): 50 per
# resource, names up to 512 and values up to 256 characters, names without < > % & \ ? /.
MAX_TAGS, MAX_TAG_NAME, MAX_TAG_VALUE = 50, 512, 256
_TAG_NAME_FORBIDDEN = set("<>%&\\?/")


def _tags(raw: Any) -> dict[str, str]:
    """Tags are stored and returned exactly as sent (names keep their case)."""
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise bad_request("The property 'tags' must map strings to strings.", target="tags")
    if len(raw) > MAX_TAGS:
        raise bad_request(
            f"A resource may have at most {MAX_TAGS} tags; got {len(raw)}.", target="tags"
        )
    for name, value in raw.items():
        bad = not name or len(name) > MAX_TAG_NAME or _TAG_NAME_FORBIDDEN & set(name)
        if bad or len(value) > MAX_TAG_VALUE:
            message = (
                f"The tag '{name[:40]}' is invalid: names are 1-{MAX_TAG_NAME} characters "
                f"without < > % & \\ ? /, values at most {MAX_TAG_VALUE} characters."
            )
            raise bad_request(message, target="tags")
    return dict(raw)


def _source(raw: Any, os_name: str) -> dict[str, Any]:
    target = "properties.source"
    if not isinstance(raw, dict):
        raise bad_request(f"The property '{target}' is required.", target=target)
    given = [k for k in SOURCE_KINDS if raw.get(k) is not None]
    if len(given) != 1:
        message = (
            f"The property '{target}' must specify exactly one of "
            f"{', '.join(SOURCE_KINDS)}; got {len(given)}."
        )
        raise bad_request(message, target=target)
    kind = given[0]
    if not isinstance(raw[kind], str):
        raise bad_request(f"The property '{target}.{kind}' must be a string.", target=target)
    if kind == "commandId":
        _check_command_id(raw[kind], os_name)
    source = {kind: raw[kind]}
    if isinstance(raw.get("scriptUriManagedIdentity"), dict):
        source["scriptUriManagedIdentity"] = _identity(raw, "scriptUriManagedIdentity") or {}
    if isinstance(raw.get("scriptShell"), str):
        source["scriptShell"] = raw["scriptShell"]
    return source


def _check_command_id(command_id: str, os_name: str) -> None:
    builtins = LINUX_COMMANDS if os_name == "linux" else WINDOWS_COMMANDS
    if command_id.lower() not in builtins:
        message = (
            f"The command id '{command_id}' is not a valid built-in run command for a "
            f"{os_name.capitalize()} VM."
        )
        raise bad_request(message, target="properties.source.commandId")


def _params(props: dict[str, Any], key: str) -> Params:
    raw = props.get(key)
    if raw is None:
        return ()
    target = f"properties.{key}"
    if not isinstance(raw, list):
        raise bad_request(f"The property '{target}' must be an array.", target=target)
    out: list[tuple[str, str]] = []
    for i, item in enumerate(raw):
        ok = isinstance(item, dict) and isinstance(item.get("name"), str)
        if not ok or not isinstance(item.get("value"), str):
            message = (
                f"The property '{target}[{i}]' must be an object with string 'name' and 'value'."
            )
            raise bad_request(message, target=target)
        out.append((item["name"], item["value"]))
    return tuple(out)


def _bool(props: dict[str, Any], key: str) -> bool:
    raw = props.get(key, False)
    if raw is None:
        return False
    if not isinstance(raw, bool):
        raise bad_request(f"The property 'properties.{key}' must be a boolean.", target=key)
    return raw


def _timeout(raw: Any) -> int:
    if raw is None:
        return 0
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= INT32_MAX:
        message = "The property 'properties.timeoutInSeconds' must be a non-negative integer."
        raise bad_request(message, target="properties.timeoutInSeconds")
    return raw


def _opt_str(props: dict[str, Any], key: str) -> str | None:
    raw = props.get(key)
    if raw is not None and not isinstance(raw, str):
        raise bad_request(f"The property 'properties.{key}' must be a string.", target=key)
    return raw


def _identity(props: dict[str, Any], key: str) -> dict[str, str] | None:
    raw = props.get(key)
    if raw is None:
        return None
    ids = {k: raw[k] for k in ("clientId", "objectId") if isinstance(raw, dict) and k in raw}
    if (
        not isinstance(raw, dict)
        or len(ids) > 1
        or not all(isinstance(v, str) for v in ids.values())
    ):
        message = f"The property '{key}' must hold at most one of clientId or objectId (strings)."
        raise bad_request(message, target=key)
    return ids


def split_parameters(params: tuple[tuple[str, str], ...]) -> tuple[dict[str, str], list[str]]:
    """Linux handler semantics: named -> environment variables, unnamed -> positional args.

    Like the handler, parameters with an empty value are skipped.
    """
    env: dict[str, str] = {}
    args: list[str] = []
    for name, value in params:
        if value == "":
            continue
        if name:
            env[name] = value
        else:
            args.append(value)
    return env, args
