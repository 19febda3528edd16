"""The emulator's throwaway certificate authority and its server certificate for 127.0.0.1.

The real SDK refuses bearer tokens over plain HTTP, so the emulator always serves HTTPS. A fresh
CA is made per emulator and written as PEM files into a directory the caller owns; clients trust
``ca.pem`` (never the system store).
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


def make_server_tls(directory: Path) -> ServerTls:
    """Create a CA and a leaf cert for 127.0.0.1/localhost; write ``ca.pem`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="fleet emulator throwaway CA")
    leaf = ca.issue_cert("127.0.0.1", "localhost", "::1")
    ca_path = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return ServerTls(ca_cert=ca_path.resolve(), context=context)


def client_ssl_context(ca_cert: Path | str) -> ssl.SSLContext:
    """A client context that trusts only the emulator's CA."""
    return ssl.create_default_context(cafile=str(ca_cert))
