"""Bearer-token authentication and role-based authorization for the emulator.

Tokens are opaque strings a profile assigns to principals. A principal's roles are assigned at
scopes (ARM id prefixes) and add up over a scope's ancestors, as in Azure RBAC; deny
assignments refuse permissions at a scope whatever the roles say. Missing or unknown tokens
are 401; a principal without the needed permission at the request's scope is 403
``AuthorizationFailed``.
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


def _within(scope: str, assigned: str) -> bool:
    return (scope.lower().rstrip("/") + "/").startswith(assigned.lower().rstrip("/") + "/")


@dataclass(frozen=True)
class Principal:
    name: str
    token: str = field(repr=False)
    object_id: str
    roles: tuple[tuple[str, str], ...]  # (scope, role) pairs, scope like "/" or an ARM id prefix
    denies: tuple[tuple[str, frozenset[Permission]], ...] = ()  # (scope, refused permissions)

    def permissions_at(self, scope: str) -> frozenset[Permission]:
        """Azure's rule: the union of the roles assigned at ``scope`` or any ancestor, minus
        whatever a deny assignment at ``scope`` or an ancestor refuses."""
        granted: set[Permission] = set()
        for role_scope, role in self.roles:
            if _within(scope, role_scope):
                granted |= ROLE_PERMISSIONS.get(role.lower().replace(" ", ""), frozenset())
        for deny_scope, refused in self.denies:
            if _within(scope, deny_scope):
                granted -= refused
        return frozenset(granted)


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
