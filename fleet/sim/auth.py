"""Bearer-token authentication and role-based authorization for the emulator.

Tokens are opaque strings a profile assigns to principals. A principal's roles are assigned at
scopes (ARM id prefixes); the most specific matching scope wins, as with Azure RBAC deny-less
inheritance simplified to "nearest assignment". Missing or unknown tokens are 401; a principal
without the needed permission at the request's scope is 403 ``AuthorizationFailed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from fleet.sim.errors import ArmError


class Permission(StrEnum):
    READ = "read"
    WRITE = "write"
    DELETE = "delete"
    ACTION = "action"


ROLE_PERMISSIONS: Mapping[str, frozenset[Permission]] = {
    "reader": frozenset({Permission.READ}),
    "contributor": frozenset(Permission),
    "owner": frozenset(Permission),
    "virtualmachinecontributor": frozenset(Permission),
    "none": frozenset(),
}


@dataclass(frozen=True)
class Principal:
    name: str
    token: str = field(repr=False)
    object_id: str
    roles: tuple[tuple[str, str], ...]  # (scope, role) pairs, scope like "/" or an ARM id prefix

    def permissions_at(self, scope: str) -> frozenset[Permission]:
        scope_l = scope.lower().rstrip("/") + "/"
        best: tuple[int, str] | None = None
        for role_scope, role in self.roles:
            prefix = role_scope.lower().rstrip("/") + "/"
            if scope_l.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), role)
        if best is None:
            return frozenset()
        return ROLE_PERMISSIONS.get(best[1].lower().replace(" ", ""), frozenset())


class Authenticator:
    """Maps ``Authorization: Bearer <token>`` headers to principals."""

    def __init__(self, principals: Iterable[Principal], tenant_id: str) -> None:
        self._by_token = {p.token: p for p in principals}
        self._tenant_id = tenant_id

    def authenticate(self, authorization: str | None) -> Principal:
        challenge = {
            "WWW-Authenticate": (
                f'Bearer authorization_uri="https://login.microsoftonline.com/{self._tenant_id}", '
                'error="invalid_token", error_description="The access token is missing or invalid."'
            )
        }
        if not authorization:
            message = "Authentication failed. The 'Authorization' header is missing."
            raise ArmError(401, "AuthenticationFailed", message, headers=challenge)
        scheme, _, token = authorization.partition(" ")
        principal = self._by_token.get(token.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            message = "Authentication failed. The access token is invalid or has expired."
            raise ArmError(401, "InvalidAuthenticationToken", message, headers=challenge)
        return principal


def authorize(principal: Principal, scope: str, permission: Permission, action: str) -> None:
    """Raise 403 ``AuthorizationFailed`` unless ``principal`` may do ``permission`` at ``scope``."""
    if permission in principal.permissions_at(scope):
        return
    message = (
        f"The client '{principal.name}' with object id '{principal.object_id}' does not have "
        f"authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. "
        "If access was recently granted, please refresh your credentials."
    )
    raise ArmError(403, "AuthorizationFailed", message)
