"""Throwaway certificate authorities and server certificates for 127.0.0.1.

The real SDK refuses bearer tokens over plain HTTP, so the emulator always serves HTTPS. A fresh
CA is made per emulator and written as PEM files into a directory the caller owns; clients trust
``ca.pem`` (never the system store). Servers in other processes (Azurite) get the leaf
certificate and its key as PEM files instead of an ``ssl.SSLContext``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class ServerTls:
    ca_cert: Path  # PEM of the throwaway CA: give this to clients
    context: ssl.SSLContext  # server-side context with the leaf certificate loaded


@dataclass(frozen=True)
class ServerPems:
    ca_cert: Path  # PEM of the throwaway CA: give this to clients
    cert: Path  # the server's certificate chain
    key: Path  # the server's private key


def _issue(directory: Path) -> tuple[Path, trustme.LeafCert]:
    """A fresh CA (``ca.pem`` written into ``directory``) and a leaf for 127.0.0.1/localhost."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="fleet emulator throwaway CA")
    leaf = ca.issue_cert("127.0.0.1", "localhost", "::1")
    ca_path = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return ca_path.resolve(), leaf


def make_server_tls(directory: Path) -> ServerTls:
    """Create a CA and a leaf cert for 127.0.0.1/localhost; write ``ca.pem`` into ``directory``."""
    ca_path, leaf = _issue(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return ServerTls(ca_cert=ca_path, context=context)


def make_server_pems(directory: Path) -> ServerPems:
    """Like :func:`make_server_tls`, with the leaf written as ``server.pem`` + ``server.key``."""
    ca_path, leaf = _issue(directory)
    cert, key = directory / "server.pem", directory / "server.key"
    with cert.open("wb") as out:
        for blob in leaf.cert_chain_pems:
            out.write(blob.bytes())
    leaf.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    return ServerPems(ca_cert=ca_path, cert=cert.resolve(), key=key.resolve())


def client_ssl_context(ca_cert: Path | str) -> ssl.SSLContext:
    """A client context that trusts only the emulator's CA."""
    return ssl.create_default_context(cafile=str(ca_cert))
