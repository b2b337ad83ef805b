"""The one place that sends HTTP to the API server: status codes, errors, JSON and watch lines.

`BaseTransport` does everything but open the HTTP exchange itself: the client-side rate limit,
turning a non-2xx answer or a network failure into `errors.KubernetesError`, decoding answers into
plain dicts (never model classes), and reading a watch stream line by line. The subclass that opens
the exchange is `certcsi.kube._http.HttpTransport` (aiohttp); tests substitute in-memory ones.

A call made on behalf of a pod passes `token`, which REPLACES the client's own credential for that
one call (the subclass keeps a TLS client certificate out of such calls).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import aiohttp

from certcsi.errors import KubernetesError
from certcsi.kube import _errors
from certcsi.kube._ratelimit import RateLimiter

Obj = dict[str, Any]
Query = Sequence[tuple[str, str]]

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
# Generous for one object; watches use their own read timeout.
UNARY_TIMEOUT = 30.0
# How long after the server's own watch timeout we give up on a silent stream.
WATCH_SLACK = 30.0

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


class BaseTransport(ABC):
    """`Transport` over one primitive, `_open`, that subclasses implement."""

    def __init__(self, *, host: str, limiter: RateLimiter) -> None:
        self.host = host
        self._limiter = limiter

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
        try:
            response = await self._open(
                method, path, query=query, body=body, content_type=content_type, token=token, limits=limits
            )
            if response.status < 300:
                return response
            raw = await response.read()
        except _CONNECTION_ERRORS as exc:
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
        response = await self._send(
            method,
            path,
            query=query,
            body=body,
            content_type=content_type,
            token=token,
            limits=aiohttp.ClientTimeout(total=UNARY_TIMEOUT),
        )
        try:
            raw = await response.read()
        except _CONNECTION_ERRORS as exc:
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
        limits = aiohttp.ClientTimeout(total=None, sock_connect=UNARY_TIMEOUT, sock_read=timeout_seconds + WATCH_SLACK)
        response = await self._send(
            "GET",
            path,
            query=[*query, ("watch", "true"), ("timeoutSeconds", str(timeout_seconds))],
            body=None,
            content_type=JSON,
            token=None,
            limits=limits,
        )
        try:
            yield self._lines(response)
        finally:
            # Closing (not releasing) drops a half-read stream instead of draining it.
            response.close()

    async def _lines(self, response: aiohttp.ClientResponse) -> AsyncIterator[Obj]:
        try:
            async for line in response.content:
                if line.strip():
                    yield _decode(line)
        except _CONNECTION_ERRORS as exc:
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


def _decode(raw: bytes) -> Obj:
    if not raw.strip():
        return {}
    try:
        decoded = json.loads(raw)
    except ValueError:
        raise KubernetesError("the API server answered with something that is not JSON", status=None) from None
    if not isinstance(decoded, dict):
        raise KubernetesError("the API server answered with JSON that is not an object", status=None)
    return decoded
