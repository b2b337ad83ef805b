"""`HttpTransport`: the API server over aiohttp, configured from an `Access`.

TLS is fixed when the transport is made: the kubeconfig's or the service account's CA (else the
system's trust store), the client certificate if any (loaded through a memfd, so its private key
never touches a disk), `insecure-skip-tls-verify` and `tls-server-name`. Proxy: the cluster's
`proxy-url`, else HTTPS_PROXY / HTTP_PROXY unless NO_PROXY covers the server, as client-go does,
decided once. (aiohttp's `trust_env` would look again on every request, in a thread, reading
~/.netrc as well: a quarter of the publish rate at 50 concurrent volumes, and six more threads.)

kube-apiserver authenticates a presented client certificate before any bearer token, so calls made
with a pod's token go through a second session that presents none (client-go's
AnonymousClientConfig); without a client certificate both kinds share one session. Our own calls
carry the `Impersonate-*` headers of --as / --as-uid / --as-group; a pod's never do.

Dead connections: every socket has TCP keepalive and a TCP user timeout, so the kernel drops a
connection whose peer stopped acknowledging (client-go gets the same from HTTP/2 pings). A peer
that still acknowledges but never answers (a stuck proxy) is caught by the transport's timeouts;
`_fresh_connections` then swaps in new sessions and closes the old ones a moment later.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import urllib.request
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson
from multidict import CIMultiDict
from yarl import URL

from certcsi.kube._access import Access, ClientCertificate
from certcsi.kube._ratelimit import RateLimiter
from certcsi.kube._transport import JSON, REQUEST_TIMEOUT, BaseTransport, Query

# Watch lines carry whole objects; etcd allows 1.5 MiB per object.
READ_BUFFER = 2**21
# An idle connection is probed after 15 s, every 5 s; three unanswered probes, or data left
# unacknowledged for 30 s, and the kernel drops it: a dead peer is noticed within about 30 s.
KEEPALIVE_IDLE = 15
KEEPALIVE_INTERVAL = 5
KEEPALIVE_PROBES = 3
USER_TIMEOUT_MS = 30_000
# Calls still in flight on connections given up on are most likely lost with them: end them soon.
RETIRE_AFTER = 1.0


def keepalive_socket(addr_info: tuple[Any, ...]) -> socket.socket:
    """A socket for aiohttp's connector (`socket_factory`) that notices a vanished peer by itself."""
    family, type_, proto = addr_info[0], addr_info[1], addr_info[2]
    sock = socket.socket(family=family, type=type_, proto=proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_PROBES),
        ("TCP_USER_TIMEOUT", USER_TIMEOUT_MS),
    ):
        if hasattr(socket, option):  # Linux has them all; elsewhere keepalive keeps the OS defaults
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
    return sock


def _load_client_certificate(context: ssl.SSLContext, certificate: ClientCertificate) -> None:
    # The ssl module loads a certificate chain only from a file; an anonymous memory file will do.
    fd = os.memfd_create("certcsi-client-certificate", os.MFD_CLOEXEC)
    try:
        with os.fdopen(os.dup(fd), "wb") as out:
            out.write(certificate.certificate_pem.rstrip(b"\n") + b"\n" + certificate.key_pem)
        context.load_cert_chain(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def ssl_context(access: Access) -> ssl.SSLContext:
    """The TLS client context for `access` (ValueError when its certificate or key cannot be used)."""
    try:
        context = ssl.create_default_context(cadata=access.ca_pem.decode("ascii") if access.ca_pem else None)
        if access.client_certificate is not None:
            _load_client_certificate(context, access.client_certificate)
    except (OSError, UnicodeDecodeError) as err:  # ssl.SSLError is an OSError
        raise ValueError(f"unusable TLS material (certificate-authority or client certificate/key): {err}") from None
    if not access.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def proxy_for(access: Access) -> str | None:
    """The proxy to reach `access.server` through, if any."""
    if access.proxy is not None:
        return access.proxy
    url = URL(access.server)
    if url.host is None or urllib.request.proxy_bypass(url.host):
        return None
    return urllib.request.getproxies().get(url.scheme)


def _plain(value: object) -> dict[str, Any]:
    """orjson's fallback: a read-only mapping (a frozen volume's context) is encoded as the dict it views."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError  # orjson names the type in its own error


def _session(access: Access, user_agent: str) -> aiohttp.ClientSession:
    tls: ssl.SSLContext | bool = ssl_context(access) if access.server.startswith("https://") else True
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=tls, socket_factory=keepalive_socket),
        headers={"User-Agent": user_agent},
        read_bufsize=READ_BUFFER,
    )


class HttpTransport(BaseTransport):
    """`Transport` straight over aiohttp. Make it inside the event loop that will use it."""

    def __init__(
        self, access: Access, *, limiter: RateLimiter, user_agent: str, request_timeout: float | None = None
    ) -> None:
        # --request-timeout when set (0: unset), else certcsi's own bound: no call waits forever.
        timeout = request_timeout or access.request_timeout or REQUEST_TIMEOUT
        super().__init__(host=access.server, limiter=limiter, request_timeout=timeout)
        self._access = access
        self._user_agent = user_agent
        self._proxy = proxy_for(access)
        self._session, self._token_session = self._sessions()
        # Sessions replaced by `_fresh_connections`, closed once their calls can no longer be running.
        self._retiring: set[asyncio.Task[None]] = set()

    def _sessions(self) -> tuple[aiohttp.ClientSession, aiohttp.ClientSession]:
        own = _session(self._access, self._user_agent)
        if self._access.client_certificate is None:
            return own, own
        return own, _session(self._access.anonymous(), self._user_agent)

    def _fresh_connections(self) -> None:
        old = {self._session, self._token_session}
        self._session, self._token_session = self._sessions()
        task = asyncio.get_running_loop().create_task(self._retire(old))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _retire(self, sessions: set[aiohttp.ClientSession]) -> None:
        # A call answered meanwhile still completes; one waiting on a dead connection fails now (and is
        # retried by its caller) instead of at its own timeout.
        try:
            await asyncio.sleep(RETIRE_AFTER)
        finally:
            for session in sessions:
                await session.close()

    async def close(self) -> None:
        for task in list(self._retiring):
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        await self._session.close()
        if self._token_session is not self._session:
            await self._token_session.close()

    async def _open(
        self,
        method: str,
        path: str,
        *,
        query: Query,
        body: Mapping[str, Any] | None,
        content_type: str,
        token: str | None,
        limits: aiohttp.ClientTimeout,
    ) -> aiohttp.ClientResponse:
        headers = {"Accept": JSON}
        if self._access.disable_compression:
            headers["Accept-Encoding"] = "identity"
        authorization = f"Bearer {token}" if token else await self._access.credentials.header()
        if authorization:
            headers["Authorization"] = authorization
        impersonation = None if token else self._access.impersonation
        if impersonation is not None:
            headers["Impersonate-User"] = impersonation.user
            if impersonation.uid:
                headers["Impersonate-Uid"] = impersonation.uid
        data: bytes | None = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = orjson.dumps(body, default=_plain)
        # Paths arrive percent-encoded (names are quoted by `_resources`): yarl must not encode them again.
        url = URL(self._access.server + path, encoded=True)
        session = self._token_session if token else self._session
        all_headers: list[tuple[str, str]] = list(headers.items())
        if impersonation is not None:
            all_headers += [("Impersonate-Group", group) for group in impersonation.groups]
        return await session.request(
            method,
            url,
            params=list(query) or None,
            data=data,
            headers=CIMultiDict(all_headers),
            timeout=limits,
            proxy=self._proxy,
            server_hostname=self._access.tls_server_name,
        )
