"""The name of the identity a connection spends Azure's throttling budget as (pure).

ARM's buckets are per subscription *and principal* (azure-reference README, "Throttling
limits"): every request fleet sends as one principal to one ARM endpoint draws from the same
buckets, whichever run, client or process sends it. :func:`identity_key` names that scope with a
short hash of (endpoint, principal): the key of the process-wide bucket registry
(``fleet.azure.registry``) and of the rows other fleet processes read in the state directory.

The principal comes from the bearer token's claims (tenant and object id: an Azure AD access
token is a JWT) or, for an opaque token (the emulator's), a hash of the token; with
``DefaultAzureCredential`` it is not known before the first token is fetched, so the
``AZURE_*`` identity variables stand for it (processes of one OS user without them nearly
always sign in as the same principal). Only the hash is ever stored or logged.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping

_ENV = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_USERNAME")


def identity_key(endpoint: str, token: str | None, env: Mapping[str, str] | None = None) -> str:
    """16 hex digits naming (ARM endpoint, principal)."""
    principal = (
        _token_principal(token) if token else _env_principal(os.environ if env is None else env)
    )
    return hashlib.sha256(f"{endpoint.rstrip('/').lower()}|{principal}".encode()).hexdigest()[:16]


def _token_principal(token: str) -> str:
    claims = _jwt_claims(token)
    who = next((str(claims[k]) for k in ("oid", "appid", "azp", "sub") if claims.get(k)), None)
    if who is not None:
        return f"jwt:{claims.get('tid', '')}:{who}"
    return "token:" + hashlib.sha256(token.encode()).hexdigest()


def _jwt_claims(token: str) -> dict[str, object]:
    """The payload of a JWT (not verified: only used to tell principals apart), or {}."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _env_principal(env: Mapping[str, str]) -> str:
    return "env:" + "|".join(env.get(name, "") for name in _ENV)
