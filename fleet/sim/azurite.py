"""Azurite, Microsoft's Azure Storage emulator (npm package ``azurite``), as a local blob service.

Owns finding the ``azurite-blob`` executable (``FLEET_AZURITE``, else this checkout's
``node_modules/.bin`` where ``make install`` puts the version pinned in ``package-lock.json``
with ``npm ci``, else ``PATH``), starting it on 127.0.0.1 with a port of its own choosing
(``--blobPort 0``: its ready line names the port), in-memory persistence and
``--loose --skipApiVersionCheck --disableTelemetry --silent`` (without the API-version skip it
refuses the current azure-storage-blob: ../shared/azure-sdk-notes.md), and stopping it with its
process group.

HTTPS by default, with a throwaway CA from :mod:`fleet.sim.tls`: real storage accounts are
HTTPS, and azure-core sends bearer tokens (user-delegation keys, managed identity) only over
TLS. azure-storage-blob trusts the CA through ``connection_verify=info.ca_cert`` (verified:
append blobs written and read through a SAS URL over HTTPS, tests/infra/test_azurite.py).
``tls=False`` serves plain HTTP.

Imports nothing of fleet but ``fleet.util`` and ``fleet.sim``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.sim.tls import make_server_pems
from fleet.util.procs import OwnedService, ProcessRef, find_executable, read_log, spawn, wait_ready

# The well-known development account every Azurite serves (published in Azurite's README and
# Microsoft's "Use the Azurite emulator" page); not a secret.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
CHECKOUT = Path(__file__).resolve().parents[2]
READY = re.compile(r"Blob service successfully listens on (https?://\S+?)/?\s")
FIX = (
    "run `make install` (it runs `npm ci` for the azurite pinned in package-lock.json), "
    "or set FLEET_AZURITE to an azurite-blob executable"
)


@dataclass(frozen=True)
class AzuriteInfo:
    """What a storage client needs: ``account_url`` is ``<endpoint>/devstoreaccount1`` (Azurite
    takes the account from the first path segment); ``ca_cert`` is None over plain HTTP."""

    account_url: str
    ca_cert: str | None
    process: ProcessRef
    account_name: str = ACCOUNT_NAME
    account_key: str = field(default=ACCOUNT_KEY, repr=False)

    @property
    def connection_verify(self) -> str | bool:
        """The ``connection_verify`` keyword for azure-storage-blob clients."""
        return self.ca_cert or True

    def connection_string(self) -> str:
        scheme = self.account_url.split(":", 1)[0]
        return (
            f"DefaultEndpointsProtocol={scheme};AccountName={self.account_name};"
            f"AccountKey={self.account_key};BlobEndpoint={self.account_url};"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"account_url": self.account_url, "ca_cert": self.ca_cert, **self.process.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AzuriteInfo:
        return cls(data["account_url"], data["ca_cert"], ProcessRef.from_dict(data))


def find_azurite() -> Path:
    """The ``azurite-blob`` executable to run, or a ServiceError that says how to install it."""
    local = CHECKOUT / "node_modules" / ".bin" / "azurite-blob"
    return find_executable(
        "Azurite (azurite-blob)", env="FLEET_AZURITE", candidates=[local], name="azurite-blob",
        fix=FIX,
    )  # fmt: skip


class Azurite(OwnedService[AzuriteInfo]):
    """An Azurite blob service owned by this object: ``with Azurite(workdir) as info: ...``.

    ``workdir`` (created if missing) holds its log, its TLS files and is its working directory.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        tls: bool = True,
        memory_limit_mb: int = 1024,
        start_timeout: float = 60.0,
        oauth: bool = False,
    ) -> None:
        """``oauth``: accept Azure AD bearer tokens (``--oauth basic``, HTTPS only), which also
        serves user delegation keys and checks the SAS they sign."""
        self.workdir = workdir
        self.tls = tls
        self.oauth = oauth
        self.memory_limit_mb = memory_limit_mb
        self.start_timeout = start_timeout
        self.log_path = workdir / "azurite.log"

    def start(self) -> AzuriteInfo:
        """Start Azurite and return once it listens; ServiceError if it cannot."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv, ca_cert = self._argv()
        self._proc = spawn(argv, name="Azurite", log_path=self.log_path, cwd=self.workdir)
        endpoint = wait_ready(
            self._proc, self._ready_endpoint, name="Azurite",
            log_path=self.log_path, timeout=self.start_timeout,
        )  # fmt: skip
        process = ProcessRef.of(self._proc.pid)
        return AzuriteInfo(f"{endpoint}/{ACCOUNT_NAME}", ca_cert, process)

    def _argv(self) -> tuple[list[str], str | None]:
        argv = [
            str(find_azurite()), "--blobHost", "127.0.0.1", "--blobPort", "0",
            "--inMemoryPersistence", "--extentMemoryLimit", str(self.memory_limit_mb),
            "--loose", "--skipApiVersionCheck", "--disableTelemetry", "--silent",
        ]  # fmt: skip
        if not self.tls:
            return argv, None
        pems = make_server_pems(self.workdir / "tls")
        oauth = ["--oauth", "basic"] if self.oauth else []
        argv += ["--cert", str(pems.cert), "--key", str(pems.key), *oauth]
        return argv, str(pems.ca_cert)

    def _ready_endpoint(self) -> str | None:
        match = READY.search(read_log(self.log_path))
        return match.group(1) if match else None
