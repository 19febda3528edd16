"""ARM error responses raised by the emulator's state model and turned into HTTP by the server.

Every failure the emulator reports is an :class:`ArmError` with the ARM error shape
``{"error": {"code", "message", ...}}``; nothing else may escape a handler (the server turns
anything unexpected into a 500 ``InternalServerError`` body, never a traceback).
"""

from __future__ import annotations

from typing import Any


class ArmError(Exception):
    """An error the emulator answers with ``status`` and an ARM error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        target: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.target = target

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        if self.details:
            error["details"] = self.details
        return {"error": error}


def bad_request(
    message: str, code: str = "InvalidParameter", target: str | None = None
) -> ArmError:
    return ArmError(400, code, message, target=target)


def not_found(resource_type: str, name: str, resource_group: str) -> ArmError:
    message = (
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' "
        "was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
    )
    return ArmError(404, "ResourceNotFound", message)
