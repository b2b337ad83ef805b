"""The sandbox API server process-side: its own serving CA, HTTPS on loopback, and the kubeconfig
that lets any standard client (kubectl, kubernetes-asyncio) talk to it.

    server = ApiServer(store=store, authority=authority, authorizer=authorizer)
    await server.start()
    server.write_kubeconfig(path)       # admin token, CA embedded as certificate-authority-data
    ...
    await server.stop()
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import ssl
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from aiohttp import web
from cryptography.hazmat.primitives import serialization

from certcsi.pki.certs import certificate_pem
from certcsi.pki.signing import create_ca, issue_serving_certificate
from certcsi.sandbox.apiserver import policy
from certcsi.sandbox.apiserver.app import API_HANDLER, DEFAULT_BOOKMARK_INTERVAL, CallLater, create_app
from certcsi.sandbox.apiserver.authn import TokenAuthority
from certcsi.sandbox.apiserver.rbac import Authorizer
from certcsi.sandbox.apiserver.storage import Store, StoreReader

CLUSTER_NAME = "certcsi-sandbox"
SERVING_VALIDITY = timedelta(days=365)
# Streaming watches are closed before shutdown, so connections left then are idle keep-alives.
SHUTDOWN_TIMEOUT_SECONDS = 1.0


@contextlib.contextmanager
def _memory_file(data: bytes) -> Iterator[str]:
    """A path to `data` held only in memory (memfd): the serving key never touches a disk."""
    fd = os.memfd_create("certcsi-apiserver-tls", os.MFD_CLOEXEC)
    try:
        os.write(fd, data)
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


class ApiServer:
    """The Kubernetes-compatible HTTPS API over a Store; `start()` binds, `stop()` closes everything."""

    def __init__(
        self,
        *,
        store: Store | None = None,
        authority: TokenAuthority | None = None,
        authorizer: Authorizer | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        bookmark_interval: float = DEFAULT_BOOKMARK_INTERVAL,
        call_later: CallLater | None = None,
    ) -> None:
        self.store = store if store is not None else Store()
        reader = StoreReader(self.store)
        self.authority = authority if authority is not None else TokenAuthority(reader=reader)
        self.authorizer = authorizer if authorizer is not None else Authorizer(reader)
        self.host = host
        self.bookmark_interval = bookmark_interval
        # Watch timeouts and bookmarks are scheduled through this (tests pass a fake to fire them).
        self._call_later = call_later
        self._requested_port = port
        self._port = 0
        self._runner: web.AppRunner | None = None
        self._app: web.Application | None = None
        ca_key, self._ca_cert = create_ca(common_name="certcsi-sandbox-apiserver-ca")
        hosts = list(dict.fromkeys([host, "127.0.0.1", "localhost"]))
        self._key, self._cert = issue_serving_certificate(
            ca_key=ca_key, ca_cert=self._ca_cert, hosts=hosts, duration=SERVING_VALIDITY
        )

    @property
    def ca_pem(self) -> bytes:
        """The serving CA certificate (PEM) clients must trust."""
        return certificate_pem(self._ca_cert)

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the API server is not started")
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        key_pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        with _memory_file(certificate_pem(self._cert) + key_pem) as path:
            context.load_cert_chain(path)
        return context

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the API server is already started")
        policy.bootstrap(self.store)
        # The watch cache starts now: what happened before can be listed, no longer watched from.
        self.store.start_watch_cache()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._requested_port))
            sock.setblocking(False)
            self._port = sock.getsockname()[1]
            self._app = create_app(
                store=self.store,
                authority=self.authority,
                authorizer=self.authorizer,
                bookmark_interval=self.bookmark_interval,
                server_address=f"{self.host}:{self._port}",
                call_later=self._call_later,
            )
            # Cancelling a handler when its client goes away is what ends an abandoned watch.
            runner = web.AppRunner(
                self._app, handler_cancellation=True, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS
            )
            await runner.setup()
            await web.SockSite(runner, sock, ssl_context=self._ssl_context(), backlog=1024).start()
        except BaseException:
            sock.close()
            self._port = 0
            raise
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        if self._app is not None:
            self._app[API_HANDLER].close_watches()
        await runner.cleanup()
        self._port = 0

    def kubeconfig(self, user_token: str | None = None) -> dict[str, Any]:
        """A kubeconfig for this server; the admin's unless another bearer token is given."""
        user = "admin" if user_token is None else "user"
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": CLUSTER_NAME,
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self.ca_pem).decode(),
                    },
                }
            ],
            "users": [{"name": user, "user": {"token": user_token or self.authority.admin_token}}],
            "contexts": [{"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": user}}],
            "current-context": CLUSTER_NAME,
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | os.PathLike[str], *, user_token: str | None = None) -> None:
        """Write `kubeconfig()` atomically, readable by the owner only (it carries a bearer token)."""
        target = Path(path)
        temporary = target.with_name(f".{target.name}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(self.kubeconfig(user_token), out, sort_keys=False)
        os.replace(temporary, target)

    async def __aenter__(self) -> ApiServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
