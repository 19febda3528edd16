"""Connecting to Temporal: one data converter for every fleet process (payloads compressed:
a 10,000-target plan or report is mostly repeated ARM ids and outputs, and Temporal refuses a
payload over 2 MB), and a client whose failures are fleet errors with a clear message.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence
from datetime import timedelta

import temporalio.converter
from temporalio.api.common.v1 import Payload
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.converter import PayloadCodec
from temporalio.service import RetryConfig, RPCError

from fleet.errors import ConnectionSetupError

_ENCODING = b"binary/zlib"


class ZlibCodec(PayloadCodec):
    """Each payload zlib-compressed whole (metadata included); others pass through."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(metadata={"encoding": _ENCODING}, data=zlib.compress(p.SerializeToString()))
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for p in payloads:
            if p.metadata.get("encoding", b"") != _ENCODING:
                decoded.append(p)
                continue
            inner = Payload()
            inner.ParseFromString(zlib.decompress(p.data))
            decoded.append(inner)
        return decoded


DATA_CONVERTER = dataclasses.replace(temporalio.converter.default(), payload_codec=ZlibCodec())


async def connect(target: str, namespace: str = "default") -> Client:
    """A client of the Temporal frontend at ``target`` (``HOST:PORT``); ``ConnectionSetupError``
    (exit code 2) when it cannot be reached or has no such namespace."""
    try:
        client = await Client.connect(
            target, namespace=namespace, data_converter=DATA_CONVERTER,
            connect_timeout=timedelta(seconds=10), retry_config=RetryConfig(max_retries=2),
        )  # fmt: skip
    except RuntimeError as exc:
        message = (
            f"--temporal {target}: cannot reach a Temporal server there ({exc}). Start one "
            "(`make temporal-dev` runs a local dev server) or give its HOST:PORT."
        )
        raise ConnectionSetupError(message) from None
    try:
        request = DescribeNamespaceRequest(namespace=namespace)
        await client.workflow_service.describe_namespace(request, timeout=timedelta(seconds=10))
    except RPCError as exc:
        message = f"--namespace {namespace}: the Temporal server at {target} refused it ({exc})."
        raise ConnectionSetupError(message) from None
    return client
