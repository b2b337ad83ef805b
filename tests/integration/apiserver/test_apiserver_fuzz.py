"""Whatever a client sends, the sandbox answers with a Status of a 2xx or 4xx code (never a 500 or a
traceback) and keeps serving: bodies, query strings and media types drawn by hypothesis."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certcsi.sandbox.apiserver.controllers import NamespaceDefaults
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.server import ApiServer

PATHS = (
    "/api/v1/namespaces/default/configmaps",
    "/api/v1/namespaces/default/pods",
    "/api/v1/namespaces/default/services",
    "/api/v1/namespaces/default/events",
    "/apis/apps/v1/namespaces/default/deployments",
    "/apis/storage.k8s.io/v1/csidrivers",
    "/apis/coordination.k8s.io/v1/namespaces/default/leases",
    "/apis/cert-manager.io/v1/namespaces/default/certificaterequests",
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    "/api/v1/namespaces/default/serviceaccounts/default/token",
)
CONTENT_TYPES = (
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "text/plain",
)
PARAMS = (
    "dryRun",
    "fieldManager",
    "fieldValidation",
    "force",
    "limit",
    "continue",
    "labelSelector",
    "fieldSelector",
    "watch",
    "timeoutSeconds",
    "includeObject",
    "gracePeriodSeconds",
    "propagationPolicy",
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)
field_names = st.sampled_from(
    ["metadata", "spec", "status", "data", "kind", "apiVersion", "name", "containers", "finalizers", "labels"]
)
objects = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: (
        st.dictionaries(field_names | st.text(max_size=8), children, max_size=5) | st.lists(children, max_size=3)
    ),
    max_leaves=25,
)


@dataclass
class Served:
    url: str
    token: str
    tls: ssl.SSLContext

    def send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
        request = urllib.request.Request(self.url + path, data=body if method != "GET" else None, method=method)
        for key, value in {"Authorization": f"Bearer {self.token}", **headers}.items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, context=self.tls, timeout=10) as response:
                return response.status, response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers.get("Content-Type", "")


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """A sandbox API server on its own event loop in a thread, so hypothesis can drive it synchronously."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = ApiServer()

    async def start() -> None:
        await server.start()
        server.store.create(BY_KEY["/namespaces"], {"metadata": {"name": "default"}})
        NamespaceDefaults(server.store, ca_pem=server.ca_pem).sync("default")

    asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    tls = ssl.create_default_context(cadata=server.ca_pem.decode())
    try:
        yield Served(server.url, server.authority.admin_token, tls)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _assert_answer(status: int, raw: bytes, content_type: str) -> None:
    assert status < 500, raw[:500]
    assert b"Traceback" not in raw
    if status >= 400 and "json" in content_type:
        body: Any = json.loads(raw)
        assert (body["kind"], body["code"]) == ("Status", status)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(PATHS),
    method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]),
    body=objects | json_values,
    content_type=st.sampled_from(CONTENT_TYPES),
    suffix=st.sampled_from(["", "/x", "/x/status"]),
)
def test_random_bodies_never_break_the_server(
    served: Served, *, path: str, method: str, body: Any, content_type: str, suffix: str
) -> None:
    raw = json.dumps(body).encode()
    status, answer, answered_type = served.send(method, path + suffix, raw, {"Content-Type": content_type})
    _assert_answer(status, answer, answered_type)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(PATHS[:9]),
    params=st.dictionaries(st.sampled_from(PARAMS), st.text(max_size=12), max_size=4),
    accept=st.sampled_from(
        [
            "application/json",
            "application/json;as=Table;v=v1;g=meta.k8s.io",
            "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
            "application/vnd.kubernetes.protobuf",
            "application/yaml",
            "text/html",
        ]
    ),
)
def test_random_queries_never_break_the_server(served: Served, path: str, params: dict[str, str], accept: str) -> None:
    params.pop("watch", None)  # a watch streams until its timeout; its parameters are checked elsewhere
    query = urllib.parse.urlencode(params)
    status, answer, answered_type = served.send("GET", f"{path}?{query}", b"", {"Accept": accept})
    _assert_answer(status, answer, answered_type)


def test_the_server_still_serves(served: Served) -> None:
    status, raw, _ = served.send("GET", "/api/v1/namespaces/default", b"", {})
    assert (status, json.loads(raw)["metadata"]["name"]) == (200, "default")
