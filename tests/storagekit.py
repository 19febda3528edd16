"""Azure AD for output storage in tests: an Azurite that takes bearer tokens (``--oauth basic``:
it serves user delegation keys and checks the SAS they sign) and a credential whose tokens are
shaped like Azure AD's for storage (Azurite checks audience, issuer and times, not the
signature)."""

from __future__ import annotations

import base64
import contextlib
import json
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken

from fleet.sim.azurite import Azurite, AzuriteInfo

TENANT = "ab1f708d-50f6-404c-a006-d71b2ac7a606"


class FakeAadCredential:
    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        now = int(time.time())
        claims = {
            "aud": "https://storage.azure.com", "iss": f"https://sts.windows.net/{TENANT}/",
            "iat": now, "nbf": now, "exp": now + 3600, "oid": str(uuid.uuid4()), "tid": TENANT,
        }  # fmt: skip
        parts = [{"alg": "none", "typ": "JWT"}, claims]
        encoded = [base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=") for p in parts]
        return AccessToken(b".".join([*encoded, b"sig"]).decode(), now + 3600)

    async def close(self) -> None:
        return None


@contextlib.contextmanager
def oauth_azurite() -> Iterator[AzuriteInfo]:
    """An Azurite of its own with Azure AD on (the session's has none)."""
    with (
        tempfile.TemporaryDirectory(prefix="fleet-azurite-oauth-") as workdir,
        Azurite(Path(workdir), oauth=True) as info,
    ):
        yield info
