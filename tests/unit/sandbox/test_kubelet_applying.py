"""Manifests: YAML documents to objects, and kinds to REST paths through discovery."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from certcsi.errors import KubernetesError
from certcsi.kube._transport import Obj, Query
from certcsi.sandbox.kubelet.applying import ManifestError, RestMapper, documents

YAML = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
# an empty document is skipped
---
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: ServiceAccount, metadata: {name: a}}
  - {apiVersion: storage.k8s.io/v1, kind: CSIDriver, metadata: {name: d}}
"""


def test_documents_flatten_lists_and_skip_empty_ones() -> None:
    kinds = [doc["kind"] for doc in documents(YAML)]
    assert kinds == ["Namespace", "ServiceAccount", "CSIDriver"]


def test_documents_are_copies() -> None:
    original: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    (copy,) = documents(original)
    copy["metadata"]["name"] = "changed"
    assert original["metadata"]["name"] == "p"


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("- a\n- b\n", "must be an object"),
        ("kind: Pod\n", "apiVersion: Required value"),
        ("apiVersion: v1\n", "kind: Required value"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_bad_documents_name_the_problem(manifest: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        documents(manifest)


class DiscoveryOnly:
    """A transport that serves two discovery documents and counts requests."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        body: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        token: str | None = None,
    ) -> Obj:
        self.requests.append(path)
        if path == "/api/v1":
            return {
                "resources": [
                    {"name": "pods", "kind": "Pod", "namespaced": True},
                    {"name": "pods/status", "kind": "Pod", "namespaced": True},
                ]
            }
        if path == "/apis/storage.k8s.io/v1":
            return {"resources": [{"name": "csidrivers", "kind": "CSIDriver", "namespaced": False}]}
        raise KubernetesError("the server could not find the requested resource", status=404)

    def stream(
        self, path: str, *, query: Query, timeout_seconds: int
    ) -> AbstractAsyncContextManager[AsyncIterator[Obj]]:
        raise NotImplementedError


async def test_mapper_finds_paths_and_caches_discovery() -> None:
    transport = DiscoveryOnly()
    mapper = RestMapper(transport)
    pods = await mapper.mapping("v1", "Pod")
    assert pods.collection("shop") == "/api/v1/namespaces/shop/pods"
    assert pods.item("shop", "web") == "/api/v1/namespaces/shop/pods/web"
    drivers = await mapper.mapping("storage.k8s.io/v1", "CSIDriver")
    assert drivers.collection("ignored") == "/apis/storage.k8s.io/v1/csidrivers"
    await mapper.mapping("v1", "Pod")
    assert transport.requests == ["/api/v1", "/apis/storage.k8s.io/v1"]


async def test_mapper_rejects_unknown_kinds() -> None:
    mapper = RestMapper(DiscoveryOnly())
    with pytest.raises(ManifestError, match=re.escape('no matches for kind "Widget" in version "example.com/v1"')):
        await mapper.mapping("example.com/v1", "Widget")
