"""Sending a run-command write at most once: no layer below fleet re-sends it on its own.

fleet decides alone whether a PUT whose fate is unknown is sent again, and only after asking
Azure (``fleet.engine.execute``). Three layers under it would otherwise re-send a request by
themselves, each after a failure that does not tell whether Azure processed it:

1. azure-core's ``RetryPolicy`` re-sends after a connection error (``ServiceRequestError``,
   which aiohttp's "server disconnected" becomes even when the request was already sent) or a
   408/5xx answer, for GET, PUT and DELETE, and for POST and PATCH on 500/503/504
   (azure-core ``_retry.py``, ``_is_method_retryable``). A run-command write is therefore
   made with :data:`SEND_ONCE` (``retry_total=0``, per call: other requests keep the client's
   retries).
2. aiohttp's ``ClientSession`` re-sends an idempotent request (GET, HEAD, OPTIONS, TRACE, PUT,
   DELETE) once, silently, when its connection fails with ``ClientOSError`` or
   ``ServerDisconnectedError`` (aiohttp ``client.py``, ``retry_persistent_connection``, after
   RFC 9112 section 9.3.1.1). Per request it cannot be turned off; the session middleware
   :func:`send_writes_once` turns that failure of a write into :class:`WriteConnectionLost`,
   which aiohttp does not re-send.
3. fleet's own ``ThrottlePolicy`` re-sends a request Azure answered with 429. That is safe: a
   429 is a refusal, the request was not processed (``fleet.azure.throttle_policy``).

Re-sends after a 401 challenge (azure-core's bearer policy) or a 409
``MissingSubscriptionRegistration`` (azure-mgmt-core's provider registration policy) are safe
for the same reason: Azure refused the request before acting on it.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse

#: Per-call keyword arguments for a request that must leave at most once: no azure-core retry.
SEND_ONCE: dict[str, Any] = {"retry_total": 0}

#: Methods whose repetition could run a script again (a PUT with an identical body may re-run
#: it: MicrosoftDocs/azure-compute-docs PR #178; the action run command is a POST).
_WRITES = frozenset({"PUT", "POST", "PATCH"})


class WriteConnectionLost(aiohttp.ServerConnectionError):
    """The connection failed while a write was sent or answered: Azure may have processed it.
    Not a ``ServerDisconnectedError`` nor a ``ClientOSError``, so aiohttp does not re-send it."""


async def send_writes_once(req: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
    """aiohttp client middleware: a write whose connection fails is never re-sent by aiohttp."""
    if req.method.upper() not in _WRITES:
        return await handler(req)
    try:
        return await handler(req)
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
        message = f"connection lost during {req.method} (it may have been processed): {exc}"
        raise WriteConnectionLost(message) from exc
