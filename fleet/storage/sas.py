"""The SAS fleet issues for each output blob, behind one small interface (``SasIssuer``):

- ``UserDelegationSas`` (real Azure): one user delegation key per run, from Azure AD
  (``get_user_delegation_key``, valid at most 7 days), signs every blob's SAS locally. Azure
  documents it as the recommended SAS: it needs no account key, its lifetime is bounded by the
  key's, and revoking the key revokes every SAS signed with it.
- ``AccountKeySas`` (Azurite, which has no Azure AD, or an account key the operator gives in
  ``FLEET_STORAGE_KEY``): the same SAS, signed with the account key.

Each SAS grants read, add, create and write on one blob — what the run-command handler needs
(Azure/run-command-handler-linux cmds.go: "[read, append, create, write] permissions") — from
a few minutes ago (clock skew) to ``expiry``. The SAS query string is the secret part: callers
keep it in a ``fleet.model.Secret``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from azure.storage.blob import BlobSasPermissions, generate_blob_sas

SKEW = timedelta(minutes=5)  # start a SAS this much in the past: clocks differ
MAX_KEY_LIFETIME = timedelta(days=7)  # a user delegation key's longest validity (Azure docs)


def _permissions() -> BlobSasPermissions:
    return BlobSasPermissions(read=True, add=True, create=True, write=True)


class SasIssuer(Protocol):
    def sas(self, container: str, blob: str, expiry: datetime) -> str: ...


class AccountKeySas:
    def __init__(self, account_name: str, account_key: str) -> None:
        self.account_name = account_name
        self._key = account_key

    def __repr__(self) -> str:
        return f"AccountKeySas({self.account_name!r}, key=<redacted>)"

    def sas(self, container: str, blob: str, expiry: datetime) -> str:
        return generate_blob_sas(
            self.account_name, container, blob, account_key=self._key,
            permission=_permissions(), start=datetime.now(UTC) - SKEW, expiry=expiry,
        )  # fmt: skip


class UserDelegationSas:
    """Made with :meth:`fetch` (one Azure AD request per run); a SAS never outlives the key."""

    def __init__(self, account_name: str, key: Any) -> None:
        self.account_name = account_name
        self._key = key

    def __repr__(self) -> str:
        return f"UserDelegationSas({self.account_name!r}, key=<redacted>)"

    @classmethod
    async def fetch(cls, service: Any, account_name: str, until: datetime) -> UserDelegationSas:
        """A key valid from now (minus the skew) until ``until`` (at most 7 days)."""
        start = datetime.now(UTC) - SKEW
        end = min(until, start + MAX_KEY_LIFETIME)
        return cls(account_name, await service.get_user_delegation_key(start, end))

    def sas(self, container: str, blob: str, expiry: datetime) -> str:
        expiry = min(expiry, _key_expiry(self._key))
        return generate_blob_sas(
            self.account_name, container, blob, user_delegation_key=self._key,
            permission=_permissions(), start=datetime.now(UTC) - SKEW, expiry=expiry,
        )  # fmt: skip


def _key_expiry(key: Any) -> datetime:
    raw = getattr(key, "signed_expiry", None)
    if not raw:
        return datetime.now(UTC) + MAX_KEY_LIFETIME
    return datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
