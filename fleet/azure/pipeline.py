"""The azure-core policy list of each management client fleet builds (``policies=``, a documented
client keyword): the SDK's default pipeline less the policies that do nothing for fleet.

A generated ARM client's default pipeline has fourteen policies (``azure/mgmt/compute/aio/
_client.py``: request id, headers, user agent, proxy, content decode, resource-provider
registration, redirect, retry, authentication, custom hook, network-trace logging, distributed
tracing, sensitive-header cleanup, ARM HTTP logging), and each one is an async layer every request
goes through, twice for a SansIO one (``on_request``, ``on_response``, each through azure-core's
``await_result``). Issue #16's profile of a 10,000-target run found these layers a large part of the
client's CPU per request. Kept, in the SDK's order:

* ``RequestIdPolicy`` (``x-ms-client-request-id``, what Azure support asks for; fleet's subclass
  makes a random (version 4) id where azure-core makes a time-based one with ``uuid.uuid1``,
  which asks libuuid for a clock sequence on every request: 10-30 µs each, 2 % of a 10,000-target
  run's client CPU in issue #16's profile; a random id is as unique), the
  ``UserAgentPolicy`` with the SDK's own moniker (``mgmt-compute/39.0.0``, as the client's
  configuration builds it), ``ContentDecodePolicy`` for the clients whose generated code reads the
  decoded body from the pipeline's context (resources, Resource Graph; the Compute client parses its
  bodies itself: ``response.json()``);
* ``AsyncARMAutoResourceProviderRegistrationPolicy`` (a 409 ``MissingSubscriptionRegistration``
  registers the provider and re-sends: safe, the request was refused unprocessed), the redirect
  policy and the sensitive-header cleanup that goes with it, the SDK's ``AsyncRetryPolicy`` (the
  send-once rule depends on it: ``fleet.azure.send_once``) and ARM's challenge-aware bearer
  authentication, and ``CustomHookPolicy`` (the action run command and restarts keep their
  operation's URL through a call's ``raw_response_hook=``); ``per_retry_policies`` (fleet's
  ``ThrottlePolicy``) go right after the retry policy, as azure-core places them
  (``AsyncPipelineClient._build_pipeline``).

Left out (a call keyword they would take, e.g. ``logging_enable=``, would now reach aiohttp and
fail, so fleet passes none): ``HeadersPolicy`` (no client-wide headers; the generated operations
take a call's ``headers=`` themselves), ``ProxyPolicy`` (fleet's session does not use proxies:
``trust_env=False``, ``use_env_settings=False``), ``NetworkTraceLoggingPolicy`` (``logging_enable``,
which fleet never sets), ``DistributedTracingPolicy`` (no tracing implementation is configured; the
operations' ``distributed_trace_async`` decorator stays) and ``ARMHttpLoggingPolicy`` (azure-core's
request/response log lines at INFO; fleet gives azure-core's loggers no handler, so they were never
shown).
"""

from __future__ import annotations

import uuid
from typing import Any

from azure.core.pipeline import policies
from azure.mgmt.core.policies import (
    AsyncARMAutoResourceProviderRegistrationPolicy,
    AsyncARMChallengeAuthenticationPolicy,
)


class RequestIdPolicy(policies.RequestIdPolicy):
    """azure-core's policy with a random id where it would make one: a call's ``request_id=``,
    a configured one and a header set by the caller win as before."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fleet_makes = "request_id" not in kwargs and kwargs.get("auto_request_id", True)
        self._fleet_header = kwargs.get("request_id_header_name", "x-ms-client-request-id")

    def on_request(self, request: Any) -> None:
        if self._fleet_makes and "request_id" not in request.context.options:
            headers = request.http_request.headers
            if self._fleet_header not in headers:
                headers[self._fleet_header] = str(uuid.uuid4())
        super().on_request(request)


def management_policies(
    credential: Any,
    scopes: list[str],
    sdk_moniker: str,
    *,
    decode: bool,
    options: dict[str, Any],
) -> list[Any]:
    """The pipeline of one management client. ``options``: the client keyword arguments (a
    ``retry_policy=``, ``user_agent=``, ``retry_total=`` ... as the SDK's configuration reads
    them); ``decode``: whether the client needs ``ContentDecodePolicy`` (see the module doc)."""
    retry = options.get("retry_policy") or policies.AsyncRetryPolicy(**options)
    user_agent = options.get("user_agent_policy") or policies.UserAgentPolicy(
        **{"sdk_moniker": sdk_moniker, **options}
    )
    authentication = options.get("authentication_policy") or (
        AsyncARMChallengeAuthenticationPolicy(credential, *scopes, **options)
    )
    found = [
        RequestIdPolicy(**options),
        user_agent,
        policies.ContentDecodePolicy(**options) if decode else None,
        AsyncARMAutoResourceProviderRegistrationPolicy(),
        options.get("redirect_policy") or policies.AsyncRedirectPolicy(**options),
        retry,
        authentication,
        options.get("custom_hook_policy") or policies.CustomHookPolicy(**options),
        policies.SensitiveHeaderCleanupPolicy(**options),
    ]
    return [policy for policy in found if policy is not None]
