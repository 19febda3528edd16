"""``output_store_factory``: what ``Backend.outputs`` is — open a job's output container for one
run, with the credential that fits the account:

- an account key: ``FLEET_STORAGE_KEY`` (the operator's), else — when there is no Azure AD
  credential — the well-known development key of Azurite's ``devstoreaccount1`` (an emulator
  account: ``https://127.0.0.1:PORT/ACCOUNT``); SAS signed with it (``AccountKeySas``), fleet
  reads with it;
- otherwise Azure AD (the connection's credential, ``DefaultAzureCredential`` on Azure): one
  user delegation key per run signs every blob's SAS (``UserDelegationSas``), fleet reads with
  the credential (it needs Storage Blob Data Contributor on the container: reading blobs and
  ``generateUserDelegationKey``). Tested against Azurite with ``--oauth basic``, which serves
  user delegation keys and checks the SAS they sign.

``account_url`` may be replaced (``--sim`` points every job at its own Azurite) and the
container made if missing (only there: on Azure the container must exist, and a run whose
container is missing fails per target, as the handler reports it). The key is never printed.
"""

from __future__ import annotations

import contextlib
import os
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from azure.core.exceptions import AzureError, ResourceExistsError
from azure.core.pipeline.transport import AioHttpTransport

from fleet.errors import ConnectionSetupError
from fleet.model import OutputSpec, OutputStorage
from fleet.ports import OutputStore, OutputStoreFactory
from fleet.storage.sas import AccountKeySas, SasIssuer, UserDelegationSas
from fleet.storage.store import BlobOutputStore, call_error

KEY_ENV = "FLEET_STORAGE_KEY"
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's published development key (Azurite README, "Use the Azurite emulator"): not a secret.
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def account_name(account_url: str) -> str:
    """``https://NAME.blob.core.windows.net`` → NAME; ``https://127.0.0.1:PORT/NAME`` → NAME."""
    parts = urlsplit(account_url)
    if parts.hostname in _LOOPBACK:
        return parts.path.strip("/").split("/", 1)[0]
    return (parts.hostname or "").split(".", 1)[0]


def account_key(account_url: str, env: Mapping[str, str], *, aad: bool) -> str | None:
    """The key to sign and read with, or None for Azure AD (``aad``: a credential exists)."""
    if env.get(KEY_ENV):
        return env[KEY_ENV]
    if not aad and account_name(account_url) == AZURITE_ACCOUNT:
        return AZURITE_KEY
    return None


def output_store_factory(
    credential: Any = None,
    *,
    ca_cert: str | None = None,
    account_url: str | None = None,
    create_container: bool = False,
    env: Mapping[str, str] | None = None,
) -> OutputStoreFactory:
    """``credential``: an azure-identity async credential for Azure AD (None: keys only)."""

    @contextlib.asynccontextmanager
    async def open_store(spec: OutputSpec, until: datetime) -> AsyncIterator[OutputStore]:
        storage = spec.storage
        if account_url is not None:
            storage = replace(storage, account_url=account_url.rstrip("/"))
        environ = os.environ if env is None else env
        key = account_key(storage.account_url, environ, aad=credential is not None)
        async with _session(ca_cert) as session, _service(storage, key, credential, session) as svc:
            if create_container:
                with contextlib.suppress(ResourceExistsError):
                    await svc.create_container(storage.container)
            issuer = None if storage.identity else await _issuer(svc, storage, key, until)
            container = svc.get_container_client(storage.container)
            store = BlobOutputStore(container, storage, issuer)
            if key is None and issuer is not None:
                store.count("key")
            yield store

    return open_store


@contextlib.asynccontextmanager
async def _session(ca_cert: str | None) -> AsyncIterator[aiohttp.ClientSession]:
    """One pooled session (a CA file passed per request would open a TLS connection each
    time: ../shared/azure-sdk-notes.md)."""
    context = ssl.create_default_context(cafile=ca_cert)
    connector = aiohttp.TCPConnector(ssl=context, limit=64)
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
        yield session


def _service(
    storage: OutputStorage, key: str | None, credential: Any, session: aiohttp.ClientSession
) -> Any:
    from azure.storage.blob.aio import BlobServiceClient

    if key is not None:
        cred: Any = {"account_name": account_name(storage.account_url), "account_key": key}
    elif credential is not None:
        cred = credential
    else:
        message = (
            f"output storage {storage.account_url}: no credential for it — set {KEY_ENV} to the "
            "account key, or run against Azure with an Azure AD identity (DefaultAzureCredential)"
        )
        raise ConnectionSetupError(message)
    transport = AioHttpTransport(session=session, session_owner=False)
    return BlobServiceClient(
        storage.account_url, credential=cred, transport=transport, retry_policy=_retries()
    )


def _retries() -> Any:
    """Two quick retries (about 1 s, then 3 s), not the SDK's default 15 s, 18 s, 24 s: the
    completion watcher looks again within seconds anyway, and a run must not sit for minutes
    on an account it cannot reach."""
    from azure.storage.blob.aio import ExponentialRetry

    return ExponentialRetry(
        initial_backoff=1, increment_base=2, retry_total=2, random_jitter_range=1
    )


async def _issuer(svc: Any, storage: OutputStorage, key: str | None, until: datetime) -> SasIssuer:
    name = account_name(storage.account_url)
    if key is not None:
        return AccountKeySas(name, key)
    try:
        return await UserDelegationSas.fetch(svc, name, until)
    except AzureError as exc:
        err = call_error(exc)
        message = (
            f"output storage {storage.account_url}: cannot get a user delegation key to sign "
            f"the blobs' SAS ({err.code}: {err.message}) — fleet's identity needs Storage Blob "
            "Data Contributor on the account (or set FLEET_STORAGE_KEY)"
        )
        raise ConnectionSetupError(message) from None
