"""What an SDK or transport failure during target selection means to the operator: one
``FleetError`` with what failed, where and what to do, instead of a traceback.

Selection is the first ARM request of every command, so this is where "fleet cannot use Azure
at all" shows: the endpoint is unreachable, its certificate is not trusted, the token is
refused (401), the identity lacks a role (403), the subscription is unknown — all
``AzureAccessError`` (exit code 4). A request Azure understood and refused (400, e.g. a KQL
query it does not support) stays a ``SelectionError`` (exit code 2). Later failures, during a
run, are per-target data in the report.

Exceptions arrive wrapped: azure-core puts the aiohttp error in ``inner_exception``, and a task
group puts everything in an ``ExceptionGroup``; :func:`first_azure_error` digs them out.
Status codes and error codes: ARM's common error responses
(../shared/azure-reference/README.md; azure-core ``map_error``: 401 → ClientAuthenticationError,
404 → ResourceNotFoundError).
"""

from __future__ import annotations

import ssl

import aiohttp
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from fleet.errors import AzureAccessError, FleetError, SelectionError


def first_azure_error(exc: BaseException) -> AzureError | None:
    """The first ``AzureError`` in ``exc`` or, depth first, in the groups that wrap it."""
    if isinstance(exc, AzureError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = first_azure_error(inner)
            if found is not None:
                return found
    return None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _transport_error(exc: AzureError, endpoint: str) -> AzureAccessError:
    inner = getattr(exc, "inner_exception", None) or exc.__cause__
    if isinstance(inner, aiohttp.ClientConnectorCertificateError | ssl.SSLCertVerificationError):
        cert = getattr(inner, "certificate_error", inner)
        why = getattr(cert, "verify_message", None) or _first_line(str(cert))
        message = (
            f"the TLS certificate of {endpoint} is not trusted ({why}). For an emulator or "
            "Azure Stack pass --ca-cert with the CA that signed it; behind a TLS-inspecting "
            "proxy, add the proxy's CA to the system trust store."
        )
        return AzureAccessError(message)
    os_error = getattr(inner, "os_error", None)
    why = getattr(os_error, "strerror", None) or _first_line(str(inner or exc.message))
    message = (
        f"cannot reach Azure Resource Manager at {endpoint}: {why}. Check the endpoint "
        "(--arm-endpoint or --cloud), the network and any proxy, then try again."
    )
    return AzureAccessError(message)


def _status_error(exc: HttpResponseError, endpoint: str) -> FleetError:
    status = exc.status_code or 0
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or exc.reason or "HttpError"
    text = _first_line(getattr(error, "message", None) or exc.message or "")
    if isinstance(exc, ClientAuthenticationError) and not status:  # from the credential
        message = (
            f"could not get an Azure access token: {_first_line(exc.message or str(exc))} "
            "Sign in with `az login` (fleet uses DefaultAzureCredential: the Azure CLI, "
            "environment variables or a managed identity); for --arm-endpoint set "
            "FLEET_ACCESS_TOKEN."
        )
        return AzureAccessError(message)
    if status == 401:
        message = (
            f"{endpoint} refused the access token (401 {code}: {text}). For --arm-endpoint "
            "set a valid FLEET_ACCESS_TOKEN; for Azure sign in again with `az login`."
        )
        return AzureAccessError(message)
    if status == 403:
        message = (
            f"access denied by {endpoint} (403 {code}: {text}). Selecting targets needs at "
            "least Reader on the subscriptions (running commands: Virtual Machine "
            "Contributor): ask for a role assignment, or select where you have one."
        )
        return AzureAccessError(message)
    if status == 404 and code == "SubscriptionNotFound":
        message = (
            f"{text} Check --subscription (or AZURE_SUBSCRIPTION_ID, or subscriptions in "
            "the fleet config file) and that this identity can see it (`az account list`)."
        )
        return AzureAccessError(message)
    if status >= 500 or status in (0, 408, 429):
        message = (
            f"Azure Resource Manager at {endpoint} kept failing to list targets ({status} "
            f"{code}: {text}) after fleet's retries. Try again later."
        )
        return AzureAccessError(message)
    return SelectionError(f"Azure refused the target selection: {code}: {text}")


def selection_failure(exc: BaseException, endpoint: str) -> FleetError | None:
    """The operator-facing error for a failure while selecting targets from ``endpoint``, or
    None when ``exc`` holds no Azure error (a bug: let it through)."""
    if isinstance(exc, ssl.SSLError | aiohttp.ClientError):  # outside the SDK's own wrapping
        exc = ServiceRequestError(str(exc), error=exc)
    found = first_azure_error(exc)
    if found is None:
        return None
    if isinstance(found, HttpResponseError):
        return _status_error(found, endpoint)
    if isinstance(found, ServiceRequestError | ServiceResponseError):
        return _transport_error(found, endpoint)
    return AzureAccessError(f"could not list targets at {endpoint}: {_first_line(str(found))}")
