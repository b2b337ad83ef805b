"""The one place that sends HTTP to the API server, through kubernetes_asyncio's ApiClient.

Every call goes through `ApiClient.call_api` with `_preload_content=False`, so the answer is read
and JSON-decoded here into plain dicts (no model classes) and kubernetes_asyncio never logs a
response body. A call made on behalf of a pod passes `_request_auth`, which REPLACES the client's
own bearer token for that one call; when the client authenticates with a TLS client certificate
(which kube-apiserver would prefer over any bearer token) such calls go through a second,
credential-less client instead, as client-go's `AnonymousClientConfig` does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import aiohttp
from kubernetes_asyncio.client import ApiClient

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


def _bearer(token: str) -> dict[str, str]:
    return {"in": "header", "key": "authorization", "type": "api_key", "value": f"Bearer {token}"}


class ApiTransport:
    """`Transport` over one kubernetes_asyncio ApiClient (plus the credential-less one, if needed)."""

    def __init__(self, api: ApiClient, *, limiter: RateLimiter, token_api: ApiClient | None = None) -> None:
        self._api = api
        self._token_api = token_api or api
        self._limiter = limiter
        self.host = str(api.configuration.host)

    async def close(self) -> None:
        await self._api.close()
        if self._token_api is not self._api:
            await self._token_api.close()

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
        # Any: the library's own hints type `_request_auth` as a string; it is the auth-setting dict.
        call_api: Any = (self._token_api if token else self._api).call_api
        try:
            response: aiohttp.ClientResponse = await call_api(
                path,
                method,
                query_params=list(query),
                header_params={"Accept": JSON, "Content-Type": content_type},
                body=dict(body) if body is not None else None,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=limits,
                _request_auth=_bearer(token) if token else None,
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
