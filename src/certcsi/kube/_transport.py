"""The one place that sends HTTP to the API server: status codes, errors, JSON and watch lines.

`BaseTransport` does everything but open the HTTP exchange itself: the client-side rate limit,
turning a non-2xx answer or a network failure into `errors.KubernetesError`, decoding answers into
plain dicts (never model classes), and reading a watch stream line by line. The subclass that opens
the exchange is `certcsi.kube._http.HttpTransport` (aiohttp); tests substitute in-memory ones.

A call made on behalf of a pod passes `token`, which REPLACES the client's own credential for that
one call (the subclass keeps a TLS client certificate out of such calls).

Nothing waits unboundedly: a call gets `request_timeout` seconds, and a watch may stay silent only a
little longer than the timeout it asked the server for (the server sends a bookmark just before it
and then ends the stream). A call or watch that times out means the connection may be half-open
(the peer gone, packets dropped, a proxy that still accepts): every watch is then closed to be
re-opened, and the subclass replaces its pooled connections (`_fresh_connections`).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import aiohttp
import orjson

from certcsi.collector import collector_paused
from certcsi.errors import KubernetesError
from certcsi.kube import _errors
from certcsi.kube._ratelimit import RateLimiter

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Query = Sequence[tuple[str, str]]

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
# Generous for one object (an admission webhook may take seconds); watches have their own limit.
REQUEST_TIMEOUT = 30.0
# Most a watch may stay silent beyond the timeout it asked the server for.
WATCH_SLACK = 10.0

_CONNECTION_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


class Transport(Protocol):
    """What the resource modules and the watcher need; tests may stand in their own."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        body: Mapping[str, Any] | None = None,
        content_type: str = JSON,
        token: str | None = None,
    ) -> Obj: ...

    def stream(
        self, path: str, *, query: Query, timeout_seconds: int
    ) -> AbstractAsyncContextManager[AsyncIterator[Obj]]:
        """A watch: the JSON objects of a streaming GET, one per line."""
        ...


def watch_read_limit(timeout_seconds: int) -> float:
    """How long a watch asked to last `timeout_seconds` may go without a byte before it counts as dead.

    kube-apiserver sends a bookmark about every minute and 2 s before the watch's timeout, then ends
    the stream at the timeout: a live watch is never silent much longer than its timeout.
    """
    return timeout_seconds + min(WATCH_SLACK, timeout_seconds / 2)


class BaseTransport(ABC):
    """`Transport` over one primitive, `_open`, that subclasses implement."""

    def __init__(self, *, host: str, limiter: RateLimiter, request_timeout: float = REQUEST_TIMEOUT) -> None:
        if not request_timeout > 0:
            raise ValueError(f"request_timeout: must be > 0 seconds (got {request_timeout})")
        self.host = host
        self._limiter = limiter
        self.request_timeout = request_timeout
        # Bumped whenever the connections are suspected dead, so that the many calls timing out
        # together on the same dead connections replace them once.
        self._generation = 0
        self._streams: set[aiohttp.ClientResponse] = set()

    @abstractmethod
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
        """Send one request and return the response with its body unread."""

    @abstractmethod
    async def close(self) -> None:
        """Release the connections."""

    @abstractmethod
    def _fresh_connections(self) -> None:
        """Send every later call over new connections (the pooled ones may be half-open)."""

    def _timed_out(self, generation: int, what: str) -> None:
        """A call sent at `generation` got no answer in time: replace the connections (once per generation)."""
        if generation != self._generation:
            return
        self._generation += 1
        streams, self._streams = self._streams, set()
        log.warning(
            "no answer from the Kubernetes API in time; reconnecting",
            extra={"host": self.host, "call": what, "watches_reopened": len(streams)},
        )
        for response in streams:
            # Its reader sees the connection closed and the watch resumes on a new one.
            response.close()
        self._fresh_connections()

    async def _send(
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
        await self._limiter.acquire()
        generation = self._generation
        try:
            response = await self._open(
                method, path, query=query, body=body, content_type=content_type, token=token, limits=limits
            )
            if response.status < 300:
                return response
            raw = await response.read()
        except _CONNECTION_ERRORS as exc:
            if isinstance(exc, TimeoutError):
                self._timed_out(generation, f"{method} {path}")
            raise _errors.from_connection_error(exc, host=self.host, secret=token) from None
        response.release()
        raise _errors.from_response(response.status, response.reason or "", raw, secret=token)

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        body: Mapping[str, Any] | None = None,
        content_type: str = JSON,
        token: str | None = None,
    ) -> Obj:
        generation = self._generation
        response = await self._send(
            method,
            path,
            query=query,
            body=body,
            content_type=content_type,
            token=token,
            limits=aiohttp.ClientTimeout(total=self.request_timeout),
        )
        try:
            raw = await response.read()
        except _CONNECTION_ERRORS as exc:
            if isinstance(exc, TimeoutError):
                self._timed_out(generation, f"{method} {path}")
            raise _errors.from_connection_error(exc, host=self.host, secret=token) from None
        finally:
            response.release()
        return _decode(raw)

    def stream(
        self, path: str, *, query: Query, timeout_seconds: int
    ) -> AbstractAsyncContextManager[AsyncIterator[Obj]]:
        return self._stream(path, query=query, timeout_seconds=timeout_seconds)

    @asynccontextmanager
    async def _stream(self, path: str, *, query: Query, timeout_seconds: int) -> AsyncIterator[AsyncIterator[Obj]]:
        # sock_read also bounds the wait for the response headers, which the server sends at once.
        limits = aiohttp.ClientTimeout(
            total=None, sock_connect=self.request_timeout, sock_read=watch_read_limit(timeout_seconds)
        )
        generation = self._generation
        response = await self._send(
            "GET",
            path,
            query=[*query, ("watch", "true"), ("timeoutSeconds", str(timeout_seconds))],
            body=None,
            content_type=JSON,
            token=None,
            limits=limits,
        )
        if generation != self._generation:
            response.close()  # opened on a connection given up on meanwhile: reopen on a fresh one
            raise KubernetesError("watch opened on a connection given up on; reopening", status=None)
        self._streams.add(response)
        try:
            yield self._lines(response, generation, path)
        finally:
            self._streams.discard(response)
            # Closing (not releasing) drops a half-read stream instead of draining it.
            response.close()

    async def _lines(self, response: aiohttp.ClientResponse, generation: int, path: str) -> AsyncIterator[Obj]:
        try:
            async for line in response.content:
                if line.strip():
                    yield _decode(line)
        except _CONNECTION_ERRORS as exc:
            if isinstance(exc, TimeoutError):
                self._timed_out(generation, f"watch {path}")
            raise _errors.from_connection_error(exc, host=self.host) from None
        except ValueError as exc:  # a line longer than aiohttp's buffer
            raise KubernetesError(f"watch stream broken: {exc}", status=None) from None


async def delete(transport: Transport, path: str) -> None:
    """DELETE; an object that is already gone counts as deleted."""
    try:
        await transport.request("DELETE", path)
    except KubernetesError as err:
        if err.status != 404:
            raise


async def get_or_none(transport: Transport, path: str) -> Obj | None:
    """GET; None when the object does not exist."""
    try:
        return await transport.request("GET", path)
    except KubernetesError as err:
        if err.status == 404:
            return None
        raise


# Above this size a body is decoded with the cyclic garbage collector paused.
_LARGE_BODY = 1 << 20


def _decode(raw: bytes) -> Obj:
    if not raw.strip():
        return {}
    try:
        if len(raw) > _LARGE_BODY:
            # A restart lists every request of the node (10,000: 45 MB, millions of objects): each
            # collection the allocations trigger rescans all of them, which made decoding 2-5x slower.
            # JSON makes no reference cycles, so there is nothing for the collector to find here.
            with collector_paused():
                decoded = orjson.loads(raw)
        else:
            decoded = orjson.loads(raw)
    except ValueError:
        raise KubernetesError("the API server answered with something that is not JSON", status=None) from None
    if not isinstance(decoded, dict):
        raise KubernetesError("the API server answered with JSON that is not an object", status=None)
    return decoded
