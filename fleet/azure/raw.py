"""Raw JSON reads through an SDK client's own pipeline (auth, retries, fleet's throttle policy,
the pooled transport), skipping the SDK's model building (see ``fleet.azure.wire`` for why).

Two of the SDK's own hooks:

- an operation called with ``stream=True`` and ``cls=raw_response`` returns the HTTP response
  unread instead of a model (the generated code maps error statuses to exceptions first, as
  always; ``stream=True`` also keeps azure-core's ContentDecodePolicy from parsing the body
  a second time);
- list pages come from ``client.send_request`` on the request the SDK's own request builder
  makes (URL and api-version as the operation would send them), then each ``nextLink``, as
  the SDK's pager does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from azure.core.exceptions import DecodeError, HttpResponseError
from azure.core.rest import AsyncHttpResponse, HttpRequest
from azure.mgmt.core.exceptions import ARMErrorFormat


def raw_response(pipeline_response: Any, _deserialized: Any, _headers: Any) -> Any:
    """``cls=`` hook of a generated operation: the HTTP response itself, no model."""
    return pipeline_response.http_response


async def json_body(response: AsyncHttpResponse) -> Any:
    """The body of a response (read now if it was streamed), parsed as JSON."""
    body = await response.read()
    try:
        return json.loads(body)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        message = f"ARM sent a body that is not JSON ({len(body)} bytes)"
        raise DecodeError(message, response=response) from exc


async def pages(client: Any, first: HttpRequest) -> AsyncIterator[list[Any]]:
    """The ``value`` of each page of a list, ``first`` then every ``nextLink``: HTTP errors
    raise ``HttpResponseError`` with ARM's error code and message, as the SDK's pager does."""
    request: HttpRequest | None = first
    while request is not None:
        response = await client.send_request(request, stream=True)
        if response.status_code != 200:
            await response.read()
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        page = await json_body(response)
        if not isinstance(page, dict):
            raise DecodeError("ARM sent a list page that is not a JSON object", response=response)
        value = page.get("value")
        yield value if isinstance(value, list) else []
        next_link = page.get("nextLink")
        request = HttpRequest("GET", next_link) if isinstance(next_link, str) else None
