"""Wires a :class:`fleet.ports.Backend` for one ARM connection: credential, pooled clients with the
throttle policy installed, target selection, run commands (managed and action), the built-in
command catalog and VM restarts.

Connections: Azure with ``DefaultAzureCredential`` (public, US Government or China cloud), or a
custom ARM endpoint (an emulator, Azure Stack) with a CA file and a bearer token from
``FLEET_ACCESS_TOKEN``.

Throttling: every backend of one identity (ARM endpoint and principal, ``fleet.azure.identity``)
in this process draws from one set of buckets (``fleet.azure.registry``); given a
``BucketMemory`` (the journal's state directory), a keeper shares them with the identity's
other fleet processes and remembers them across a crash (``fleet.azure.bucket_keeper``).
``ConnectionSettings(limits=...)`` replaces the published limits with others (an endpoint with
other limits) in buckets of this backend's own, neither shared in the process nor through the
state directory; ``limits=ThrottleLimits.unlimited()`` turns the client-side limiter off (a
control run: requests go out as they come, 429s are still waited out).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet.azure.action_commands import AzureActionCommands
from fleet.azure.bucket_keeper import keeping
from fleet.azure.bucket_set import BucketSet
from fleet.azure.catalog import AzureCommandCatalog
from fleet.azure.clients import ArmClients, ArmConnection, StaticTokenCredential
from fleet.azure.identity import identity_key
from fleet.azure.limits import ThrottleLimits
from fleet.azure.machines import AzureMachines
from fleet.azure.registry import shared_buckets
from fleet.azure.run_commands import AzureRunCommands
from fleet.azure.targets import AzureTargets
from fleet.azure.throttle_state import ThrottleState
from fleet.errors import ConnectionSetupError
from fleet.model import Secret
from fleet.ports import Backend, BucketMemory, OutputStoreFactory

#: Given the connection's credential, what opens a job's output container (fleet.storage).
OutputsFor = Callable[[Any], OutputStoreFactory]

# Two retry loops, one per kind of failure. azure-core's pipeline order is per-call policies ->
# RetryPolicy -> per-retry policies (fleet's ThrottlePolicy) -> auth -> transport
# (../shared/azure-sdk-notes.md), so every attempt RetryPolicy makes goes through fleet's policy.
# * azure-core's RetryPolicy (outer loop) handles 5xx/408 responses and connection/read errors:
#   at most RETRY_TOTAL retries, backoff RETRY_BACKOFF_FACTOR x 2^(n-1) s (Retry-After if given).
#   It would also retry 429s, but only within its status budget (retry_status=3: 4 attempts),
#   after which it raises — far too early for a fleet that is meant to wait throttling out.
# * fleet's ThrottlePolicy (inner loop, per attempt) handles 429 only: it pauses the bucket Azure
#   named for Retry-After and resends, as often as needed until the call's deadline if it has one
#   (``fleet_deadline=``; none is set here, so the wait ends only when the engine cancels the
#   call). Only when a deadline is spent does a 429 (or ThrottleDeadlineExceeded, status 429)
#   reach RetryPolicy, which counts it against its budget; its later attempts find the deadline
#   past and fail without sending.
# Neither loop ever re-sends a run-command PUT after a failure of unknown outcome: the PUT is
# made with retry_total=0 (``fleet.azure.send_once.SEND_ONCE``), so RetryPolicy hands its
# connection error or 5xx straight to the engine, which reads the run command before deciding
# (issue #18). ThrottlePolicy's re-send after a 429 stays: Azure refused that request unread.
RETRY_TOTAL = 6
RETRY_BACKOFF_FACTOR = 0.5

CLOUDS: dict[str, tuple[str, str]] = {  # name -> (ARM endpoint, authority host)
    "public": ("https://management.azure.com", "login.microsoftonline.com"),
    "usgov": ("https://management.usgovcloudapi.net", "login.microsoftonline.us"),
    "china": ("https://management.chinacloudapi.cn", "login.chinacloudapi.cn"),
}


@dataclass(frozen=True)
class ConnectionSettings:
    cloud: str = "public"
    arm_endpoint: str | None = None  # custom endpoint: emulator or Azure Stack
    ca_cert: str | None = None
    token: Secret | None = None  # static bearer token for a custom endpoint
    subscriptions: tuple[str, ...] = ()
    # Share of Azure's published limits fleet allows itself while it cannot see other clients
    # (a bucket whose counts show them paces at the full refill less theirs: bucket_model rule 3)
    safety: float = 0.9
    time_scale: float = 1.0  # an emulator running K times faster than Azure
    simulated: bool = False  # fleet's embedded emulator (--sim), not Azure
    # The limits fleet keeps to; None: Azure's published ones times safety, time-scaled. Set
    # them for an endpoint with other limits (an emulator profile, Azure Stack).
    limits: ThrottleLimits | None = None


def _credential(settings: ConnectionSettings) -> Any:
    if settings.token is not None:
        return StaticTokenCredential(settings.token.reveal())
    if settings.arm_endpoint:
        message = (
            "A custom ARM endpoint needs a bearer token: set FLEET_ACCESS_TOKEN "
            "(fleet never reads tokens from the command line)."
        )
        raise ConnectionSetupError(message)
    from azure.identity.aio import DefaultAzureCredential

    authority = CLOUDS[settings.cloud][1]
    return DefaultAzureCredential(authority=authority)


def _check_ca(path: str) -> None:
    """The CA file must be a readable PEM certificate (checked before any request)."""
    if not Path(path).is_file():
        message = f"--ca-cert {path!r}: no such file (give the PEM of the CA to trust)."
        raise ConnectionSetupError(message)
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError) as exc:
        why = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        message = f"--ca-cert {path!r} is not a usable PEM CA certificate ({why})."
        raise ConnectionSetupError(message) from None


def _endpoint(settings: ConnectionSettings) -> tuple[str, str]:
    if settings.cloud not in CLOUDS:
        message = f"Unknown cloud {settings.cloud!r}: use one of {', '.join(CLOUDS)}."
        raise ConnectionSetupError(message)
    endpoint = (settings.arm_endpoint or CLOUDS[settings.cloud][0]).rstrip("/")
    if not endpoint.startswith("https://"):
        message = (
            f"The ARM endpoint {endpoint!r} must use https:// (Azure SDK bearer "
            "authentication refuses plain HTTP)."
        )
        raise ConnectionSetupError(message)
    if settings.ca_cert:
        _check_ca(settings.ca_cert)
    scope_host = CLOUDS[settings.cloud][0] if not settings.arm_endpoint else endpoint
    return endpoint, scope_host + "/.default"


@asynccontextmanager
async def azure_backend(
    settings: ConnectionSettings,
    *,
    memory: BucketMemory | None = None,
    outputs: OutputsFor | None = None,
) -> AsyncIterator[Backend]:
    """The backend of one connection. ``memory``: where throttle buckets are shared with other
    fleet processes and remembered across a crash (``fleet.journal.buckets.BucketJournal``);
    ``outputs``: how jobs with ``output:`` reach their blob container (the caller wires
    ``fleet.storage``; it gets this connection's credential for Azure AD)."""
    endpoint, scope = _endpoint(settings)
    if settings.arm_endpoint and settings.token is not None:
        scope = "https://management.azure.com/.default"  # emulators accept any scope
    credential = _credential(settings)
    identity = identity_key(endpoint, settings.token.reveal() if settings.token else None)
    try:
        with _buckets(settings, identity) as (buckets, first):
            throttle = ThrottleState(buckets)  # one per connection, one policy per client
            conn = ArmConnection(
                credential,
                endpoint=endpoint,
                ca_cert=settings.ca_cert,
                credential_scopes=(scope,),
                throttle=throttle,
                client_kwargs={
                    "retry_total": RETRY_TOTAL, "retry_backoff_factor": RETRY_BACKOFF_FACTOR
                },
            )  # fmt: skip
            shared = memory if settings.limits is None else None
            subs = settings.subscriptions
            async with (
                ArmClients(conn) as clients,
                keeping(buckets, shared, identity, subs, first=first),
            ):
                catalog = AzureCommandCatalog(clients)
                yield Backend(
                    targets=AzureTargets(clients, settings.subscriptions),
                    run_commands=AzureRunCommands(clients),
                    arm_counters=throttle.counters,
                    time_scale=settings.time_scale,
                    action_commands=AzureActionCommands(clients, catalog),
                    catalog=catalog,
                    subscriptions=settings.subscriptions,
                    outputs=None if outputs is None else outputs(credential),
                    machines=AzureMachines(clients),
                    simulated=settings.simulated,
                )
    finally:
        close = getattr(credential, "close", None)
        if close is not None:
            await close()


@contextmanager
def _buckets(settings: ConnectionSettings, identity: str) -> Iterator[tuple[BucketSet, bool]]:
    """The identity's shared buckets under Azure's published limits, or private ones under the
    limits the settings name (an endpoint with other limits; none at all for a control run)."""
    if settings.limits is not None:
        yield BucketSet(settings.limits), True
        return
    limits = ThrottleLimits.published(settings.safety, time_scale=settings.time_scale)
    with shared_buckets(identity, lambda: BucketSet(limits)) as found:
        yield found
