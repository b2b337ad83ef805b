"""Bad input gets kube-apiserver's status code and reason as a Status, never a 500 or a traceback,
and the server keeps serving after each one."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from apiserver_support import Cluster

from certcsi.sandbox.apiserver.app import MAX_BODY_BYTES
from certcsi.sandbox.apiserver.resources import ResourceType

pytestmark = pytest.mark.asyncio(loop_scope="module")
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@pytest_asyncio.fixture(loop_scope="module")
async def still_serving(cluster: Cluster) -> AsyncIterator[Cluster]:
    yield cluster
    status, body = await cluster.request("GET", "/api/v1/namespaces/default")
    assert (status, body["metadata"]["name"]) == (200, "default")


def _assert_status(answer: tuple[int, Any], code: int, reason: str) -> dict[str, Any]:
    status, body = answer
    assert isinstance(body, dict), body
    assert (status, body["kind"], body["status"], body["code"], body["reason"]) == (
        code,
        "Status",
        "Failure",
        code,
        reason,
    )
    assert "Traceback" not in body["message"]
    return body


def _configmap(name: str, **extra: Any) -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **extra}).encode()


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"[1, 2]", b'"text"', b'{"metadata": {"name": "nan"}, "x": NaN}', b"\xff\xfe", b"[" * 200_000],
    ids=["syntax", "empty", "array", "string", "nan", "not-utf8", "deep-array"],
)
async def test_malformed_bodies_are_400(still_serving: Cluster, raw: bytes) -> None:
    _assert_status(await still_serving.request("POST", CONFIGMAPS, body=raw), 400, "BadRequest")


async def test_deeply_nested_object_is_400(still_serving: Cluster) -> None:
    nested: Any = "leaf"
    for _ in range(900):  # within json's limit, beyond what a recursive copy can take
        nested = {"n": nested}
    answer = await still_serving.request("POST", CONFIGMAPS, body=_configmap("deep", data={"k": nested}))
    _assert_status(answer, 400, "BadRequest")


async def test_deeply_nested_unknown_field_is_dropped(still_serving: Cluster) -> None:
    nested: Any = "leaf"
    for _ in range(900):
        nested = {"n": nested}
    status, body = await still_serving.request("POST", CONFIGMAPS, body=_configmap("deep-unknown", x=nested))
    assert status == 201 and "x" not in body


async def test_metadata_that_is_not_an_object_is_400(still_serving: Cluster) -> None:
    raw = json.dumps({"metadata": ["x"]}).encode()
    _assert_status(await still_serving.request("POST", CONFIGMAPS, body=raw), 400, "BadRequest")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/default/widgets",
        "/apis/cert-manager.io/v1/namespaces/default/certificates",
        "/api/v1/namespaces/default/configmaps/x/y/z",
        "/api/v1/namespaces/default/namespaces",
        "/api/v1/namespaces/default/pods/p/exec",
        "/apis/storage.k8s.io/v1/namespaces/default/csidrivers",
        "/api/v1/pods/p",
        "/metrics",
        "/",
    ],
)
async def test_unknown_resources_and_paths_are_404(still_serving: Cluster, path: str) -> None:
    # Go's plain-text not-found page, as kube-apiserver answers for a path no handler serves.
    async with still_serving.raw.get(still_serving.url(path), headers=still_serving.headers()) as response:
        assert (response.status, response.content_type, await response.text()) == (
            404,
            "text/plain",
            "404 page not found\n",
        )


@pytest.mark.parametrize(("method", "path"), [("POST", CONFIGMAPS), ("PUT", CONFIGMAPS + "/ct")])
@pytest.mark.parametrize("content_type", ["text/plain", "application/merge-patch+json"])
async def test_wrong_content_type_on_post_and_put_is_415(
    still_serving: Cluster, method: str, path: str, content_type: str
) -> None:
    answer = await still_serving.request(method, path, body=_configmap("ct"), content_type=content_type)
    body = _assert_status(answer, 415, "UnsupportedMediaType")
    assert body["message"].endswith(
        "accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"
    )


async def test_yaml_bodies_are_taken(still_serving: Cluster) -> None:
    raw = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  when: 2024-01-01\n"
    status, body = await still_serving.request("POST", CONFIGMAPS, body=raw, content_type="application/yaml")
    assert (status, body["data"]) == (201, {"when": "2024-01-01"})


async def test_missing_content_type_means_json(still_serving: Cluster) -> None:
    status, _ = await still_serving.request("POST", CONFIGMAPS, body=_configmap("no-ct"), content_type=None)
    assert status == 201


def _sized(name: str, total: int) -> bytes:
    empty = _configmap(name, data={"blob": ""})
    return _configmap(name, data={"blob": "x" * (total - len(empty))})


async def test_body_over_3_mib_is_413(still_serving: Cluster) -> None:
    body = _assert_status(
        await still_serving.request("POST", CONFIGMAPS, body=_sized("big", MAX_BODY_BYTES + 1)),
        413,
        "RequestEntityTooLarge",
    )
    assert str(MAX_BODY_BYTES) in body["message"]


async def test_body_of_exactly_3_mib_is_taken(still_serving: Cluster) -> None:
    raw = _sized("at-limit", MAX_BODY_BYTES)
    assert len(raw) == MAX_BODY_BYTES
    status, _ = await still_serving.request("POST", CONFIGMAPS, body=raw)
    assert status == 201


async def test_oversized_chunked_body_is_413(still_serving: Cluster) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b" " * (1024 * 1024)

    headers = still_serving.headers(**{"Content-Type": "application/json"})
    async with still_serving.raw.post(still_serving.url(CONFIGMAPS), data=chunks(), headers=headers) as response:
        answer = (response.status, await response.json())
    _assert_status(answer, 413, "RequestEntityTooLarge")


@pytest.mark.parametrize("name", ["Upper", "under_score", "-dash", "a" * 254, "dot."])
async def test_invalid_names_are_422(still_serving: Cluster, name: str) -> None:
    body = _assert_status(await still_serving.request("POST", CONFIGMAPS, body=_configmap(name)), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.name"


@pytest.mark.parametrize(
    "meta",
    [
        {"name": 5},
        {"generateName": ["x"]},
        {"name": "m", "namespace": 5},
        {"name": "m", "labels": ["a"]},
        {"name": "m", "labels": {"a": {"b": "c"}}},
        {"name": "m", "labels": {"a": 1}},
        {"name": "m", "annotations": "text"},
        {"name": "m", "ownerReferences": "text"},
        {"name": "m", "ownerReferences": [{"uid": ["u"]}]},
        {"name": "m", "ownerReferences": [{"uid": "u", "controller": "yes"}]},
        {"name": "m", "finalizers": [1]},
        {"name": "m", "resourceVersion": 7},
        {"name": "m", "generation": "1"},
    ],
)
async def test_metadata_fields_of_the_wrong_type_are_400(still_serving: Cluster, meta: dict[str, Any]) -> None:
    raw = json.dumps({"metadata": meta}).encode()
    body = _assert_status(await still_serving.request("POST", CONFIGMAPS, body=raw), 400, "BadRequest")
    # kube-apiserver's typed decoder names the Go field it could not fill.
    decoder = 'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal'
    assert body["message"].startswith(decoder)
    assert "metadata." in body["message"]


@pytest.mark.parametrize(
    ("labels", "annotations"),
    [
        ({"bad key": "v"}, {}),
        ({"-a": "v"}, {}),
        ({"Upper.Case/k": "v"}, {}),
        ({"k": "bad value"}, {}),
        ({"k": "v" * 64}, {}),
        ({"k": "-v"}, {}),
        ({}, {"bad key": "v"}),
        ({}, {"k": "v" * (256 * 1024)}),
    ],
)
async def test_invalid_labels_and_annotations_are_422(
    still_serving: Cluster, labels: dict[str, str], annotations: dict[str, str]
) -> None:
    raw = json.dumps({"metadata": {"name": "labelled", "labels": labels, "annotations": annotations}}).encode()
    body = _assert_status(await still_serving.request("POST", CONFIGMAPS, body=raw), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] in ("metadata.labels", "metadata.annotations")


async def test_bad_metadata_never_reaches_watchers(still_serving: Cluster) -> None:
    # A selector watch evaluates every stored object's labels: a non-string label must not get in.
    path = f"{CONFIGMAPS}?watch=1&labelSelector=tier%3Dweb&timeoutSeconds=30"
    async with still_serving.raw.get(still_serving.url(path), headers=still_serving.headers()) as watching:
        await still_serving.request("POST", CONFIGMAPS, body=_configmap("watched", metadata={"name": "watched"}))
        for patch, content_type in (
            (b'{"metadata": {"labels": {"tier": {"x": 1}}}}', "application/merge-patch+json"),
            (b'[{"op": "add", "path": "/metadata/labels", "value": ["web"]}]', "application/json-patch+json"),
        ):
            answer = await still_serving.request(
                "PATCH", CONFIGMAPS + "/watched", body=patch, content_type=content_type
            )
            _assert_status(answer, 400, "BadRequest")
        labelled = b'{"metadata": {"labels": {"tier": "web"}}}'
        status, _ = await still_serving.request(
            "PATCH", CONFIGMAPS + "/watched", body=labelled, content_type="application/merge-patch+json"
        )
        assert status == 200
        event = json.loads(await watching.content.readline())
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "watched")


async def test_missing_name_is_422(still_serving: Cluster) -> None:
    raw = json.dumps({"metadata": {}}).encode()
    body = _assert_status(await still_serving.request("POST", CONFIGMAPS, body=raw), 422, "Invalid")
    assert body["details"]["causes"][0]["reason"] == "FieldValueRequired"


@pytest.mark.parametrize(
    "query",
    [
        "labelSelector=a%20in%20(b",
        "labelSelector=a%3D%3D%3Db",
        "fieldSelector=nonsense",
        "fieldSelector=spec.nodeName%3Dx",  # not indexed for configmaps
        "watch=maybe",
        "watch=1&timeoutSeconds=1e3",
        "watch=1&timeoutSeconds=soon",
        "watch=1&allowWatchBookmarks=perhaps",
    ],
)
async def test_bad_query_parameters_are_400(still_serving: Cluster, query: str) -> None:
    _assert_status(await still_serving.request("GET", f"{CONFIGMAPS}?{query}"), 400, "BadRequest")


@pytest.mark.parametrize(
    ("query", "version", "reason"),
    [
        ("watch=1&resourceVersion=abc", "abc", "invalid syntax"),
        ("resourceVersion=abc", "abc", "invalid syntax"),
        ("watch=1&resourceVersion=%C2%B2", "\u00b2", "invalid syntax"),  # a digit, but not an ASCII one
        ("watch=1&resourceVersion=" + "9" * 5000, "9" * 5000, "value out of range"),
    ],
)
async def test_unparsable_resource_versions_are_500_as_in_kube_apiserver(
    still_serving: Cluster, query: str, version: str, reason: str
) -> None:
    # kube-apiserver's storage layer rejects the version; the error surfaces as an internal one.
    body = _assert_status(await still_serving.request("GET", f"{CONFIGMAPS}?{query}"), 500, "InternalError")
    assert body["message"] == (
        f'Internal error occurred: resourceVersion: Invalid value: "{version}": '
        f'strconv.ParseUint: parsing "{version}": {reason}'
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", CONFIGMAPS),
        ("PATCH", CONFIGMAPS),
        ("POST", CONFIGMAPS + "/x"),
        ("POST", "/api/v1/pods"),
        ("DELETE", "/api/v1/pods"),
        ("GET", "/api/v1/namespaces/default/serviceaccounts/sa/token"),
        ("HEAD", "/api/v1/namespaces/default/configmaps/x/status".replace("configmaps", "pods")),
        ("OPTIONS", CONFIGMAPS),
    ],
)
async def test_methods_a_path_does_not_take_are_405(still_serving: Cluster, method: str, path: str) -> None:
    status, body = await still_serving.request(method, path, body=b"{}")
    assert status == 405
    if method != "HEAD":  # a HEAD answer has no body
        _assert_status((status, body), 405, "MethodNotAllowed")


async def test_malformed_delete_options_are_400(still_serving: Cluster) -> None:
    await still_serving.request("POST", CONFIGMAPS, body=_configmap("del-opts"))
    answer = await still_serving.request("DELETE", CONFIGMAPS + "/del-opts", body=b"{oops")
    _assert_status(answer, 400, "BadRequest")


class _Exploding:
    """An admission plugin with a bug: the server must answer 500 without detail and carry on."""

    def admit(self, *, operation: str, rt: ResourceType, obj: dict[str, Any], old: object, user: object) -> None:
        if obj["metadata"]["name"] == "explode":
            raise RuntimeError("secret internals")


async def test_unexpected_errors_are_a_generic_500(still_serving: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    still_serving.store.admission.append(_Exploding())
    try:
        with caplog.at_level(logging.ERROR, logger="certcsi.sandbox.apiserver.app"):
            body = _assert_status(
                await still_serving.request("POST", CONFIGMAPS, body=_configmap("explode")), 500, "InternalError"
            )
    finally:
        still_serving.store.admission.pop()
    assert "secret internals" not in json.dumps(body)
    assert any("secret internals" in (r.exc_text or "") for r in caplog.records)
