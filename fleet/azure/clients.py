"""Client factory: the real azure-mgmt-* async clients for public/sovereign clouds or a custom
ARM endpoint (the emulator, Azure Stack), sharing one pooled aiohttp session.

Throttling: every client's pipeline gets its *own* ``ThrottlePolicy`` (azure-core links a policy
to one pipeline through ``policy.next``), and all of them hold the connection's one
``ThrottleState`` — Azure's limits are per subscription/region/resource, not per client.

Why a shared session: passing ``connection_verify=ca.pem`` makes the SDK open a TLS connection per
request (5-7x slower); ``use_env_settings=False`` stops aiohttp from reading ``.netrc`` on every
request. The session's middleware keeps aiohttp from re-sending a write by itself
(``fleet.azure.send_once``). Tokens are never logged: ``StaticTokenCredential`` keeps its token
out of ``repr``.
"""

from __future__ import annotations

import copy
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
import azure.mgmt.compute
import azure.mgmt.resource.resources
import azure.mgmt.resourcegraph
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.pipeline.policies import AsyncHTTPPolicy
from azure.core.pipeline.transport import AioHttpTransport
from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.resource.resources.aio import ResourceManagementClient
from azure.mgmt.resourcegraph.aio import ResourceGraphClient

from fleet.azure.pipeline import management_policies
from fleet.azure.send_once import send_writes_once
from fleet.azure.throttle_policy import ThrottlePolicy
from fleet.azure.throttle_state import ThrottleState

ARM_SCOPE = "https://management.azure.com/.default"
# The SDKs' own user-agent monikers, as each client's configuration sets them
_COMPUTE = f"mgmt-compute/{azure.mgmt.compute.__version__}"
_RESOURCES = f"mgmt-resource/{azure.mgmt.resource.resources.__version__}"
_GRAPH = f"mgmt-resourcegraph/{azure.mgmt.resourcegraph.__version__}"


class StaticTokenCredential:
    """An async credential returning a fixed bearer token (``FLEET_ACCESS_TOKEN``, the emulator)."""

    def __init__(self, token: str, expires_in: int = 3600) -> None:
        self._token = token
        self._expires_on = int(time.time()) + expires_in

    def __repr__(self) -> str:
        return "StaticTokenCredential(token=<redacted>)"

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, self._expires_on)

    async def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(self._token, self._expires_on)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticTokenCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


@dataclass
class ArmConnection:
    """Everything needed to build clients for one ARM endpoint.

    ``throttle``: the shared state of fleet's throttle policy (None: no policy installed).
    ``client_kwargs`` go to every client; ``per_retry_policies`` there are added after fleet's
    policy. A policy instance given there (``retry_policy=``, ``per_call_policies=``, ...) is
    copied for each client if it is an ``AsyncHTTPPolicy``: azure-core links such a policy to
    one pipeline by setting its ``next``, so one instance shared by several clients would send
    every client's requests down the last pipeline built. SansIO policies are used as given
    (azure-core wraps them per pipeline).
    """

    credential: Any
    endpoint: str = "https://management.azure.com"
    ca_cert: str | None = None
    credential_scopes: Sequence[str] = (ARM_SCOPE,)
    throttle: ThrottleState | None = None
    client_kwargs: dict[str, Any] = field(default_factory=dict)
    max_connections: int = 256


def _own(value: Any) -> Any:
    """A policy for one pipeline: a copy if it is linked by ``next`` (see ArmConnection)."""
    return copy.copy(value) if isinstance(value, AsyncHTTPPolicy) else value


class ArmClients:
    """Async context manager owning one aiohttp session and the three management clients.

    ``compute(subscription)`` and ``resources(subscription)`` are cached per subscription;
    ``graph`` is tenant-wide.
    """

    def __init__(self, conn: ArmConnection) -> None:
        self.conn = conn
        self._session: aiohttp.ClientSession | None = None
        self._compute: dict[str, ComputeManagementClient] = {}
        self._resources: dict[str, ResourceManagementClient] = {}
        self._graph: ResourceGraphClient | None = None

    def _transport(self) -> Any:
        """A transport for one new client, over the shared pooled session."""
        assert self._session is not None, "use ArmClients as an async context manager"
        return AioHttpTransport(session=self._session, session_owner=False)

    def _per_retry_policies(self) -> list[Any]:
        """The per-retry policies of one new client: a new ThrottlePolicy on the shared state."""
        policies: list[Any] = []
        if self.conn.throttle is not None:
            policies.append(ThrottlePolicy(self.conn.throttle))
        policies.extend(_own(p) for p in self.conn.client_kwargs.get("per_retry_policies", ()))
        return policies

    def _kwargs(self, sdk_moniker: str, *, decode: bool) -> dict[str, Any]:
        """Keyword arguments for one new client (called once per client built): its pipeline is
        ``fleet.azure.pipeline``'s trimmed one unless the connection gives ``policies``."""
        kwargs: dict[str, Any] = {
            "base_url": self.conn.endpoint,
            "credential_scopes": list(self.conn.credential_scopes),
            "transport": self._transport(),
            "use_env_settings": False,
        }
        for key, value in self.conn.client_kwargs.items():
            if key.endswith("_policies"):
                kwargs[key] = [_own(p) for p in value]
            else:
                kwargs[key] = _own(value)
        policies = self._per_retry_policies()
        if policies:
            kwargs["per_retry_policies"] = policies
        if "policies" not in kwargs:
            scopes = kwargs["credential_scopes"]
            kwargs["policies"] = management_policies(
                self.conn.credential, scopes, sdk_moniker, decode=decode, options=kwargs
            )
        return kwargs

    def compute(self, subscription: str) -> ComputeManagementClient:
        key = subscription.lower()
        if key not in self._compute:
            self._compute[key] = ComputeManagementClient(
                self.conn.credential, subscription, **self._kwargs(_COMPUTE, decode=False)
            )
        return self._compute[key]

    def resources(self, subscription: str) -> ResourceManagementClient:
        key = subscription.lower()
        if key not in self._resources:
            self._resources[key] = ResourceManagementClient(
                self.conn.credential, subscription, **self._kwargs(_RESOURCES, decode=True)
            )
        return self._resources[key]

    @property
    def graph(self) -> ResourceGraphClient:
        if self._graph is None:
            self._graph = ResourceGraphClient(
                self.conn.credential, **self._kwargs(_GRAPH, decode=True)
            )
        return self._graph

    async def __aenter__(self) -> ArmClients:
        ssl_ctx: ssl.SSLContext | bool = True
        if self.conn.ca_cert:
            ssl_ctx = ssl.create_default_context(cafile=self.conn.ca_cert)
        connector = aiohttp.TCPConnector(ssl=ssl_ctx, limit=self.conn.max_connections)
        self._session = aiohttp.ClientSession(
            connector=connector, trust_env=False, middlewares=(send_writes_once,)
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        clients: list[Any] = [*self._compute.values(), *self._resources.values()]
        if self._graph is not None:
            clients.append(self._graph)
        for client in clients:
            await client.close()
        if self._session is not None:
            await self._session.close()
