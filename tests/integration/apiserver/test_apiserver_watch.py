"""Watch: ADDED / MODIFIED / DELETED / BOOKMARK, selectors, resuming from a version, and a
list-then-watch that neither loses nor repeats an event while writes go on."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from apiserver_support import CM_GROUP, CM_VERSION, Cluster, certificate_request, eventually
from kubernetes_asyncio import client, watch

from certcsi.sandbox.apiserver.app import API_HANDLER

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _take(stream: watch.Watch, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(3):
        return [await stream.__anext__() for _ in range(count)]


def _summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["raw_object"]["metadata"]["name"]) for e in events]


async def test_watch_from_a_list_version_sees_added_modified_deleted(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    listed = await v1.list_namespaced_config_map("default", label_selector="watch=basic")
    async with watch.Watch() as w:
        stream = w.stream(
            v1.list_namespaced_config_map,
            "default",
            label_selector="watch=basic",
            resource_version=listed.metadata.resource_version,
            timeout_seconds=30,
        )
        body = {"metadata": {"name": "w1", "labels": {"watch": "basic"}}}
        await v1.create_namespaced_config_map("default", body)
        await v1.patch_namespaced_config_map("w1", "default", {"data": {"k": "v"}})
        await v1.delete_namespaced_config_map("w1", "default")
        events = await _take(stream, 3)
    assert _summary(events) == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
    assert events[1]["object"].data == {"k": "v"}
    versions = [int(e["raw_object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(listed.metadata.resource_version)


async def test_watch_without_a_version_starts_with_the_current_state(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    for name in ("s1", "s2"):
        await v1.create_namespaced_config_map("default", {"metadata": {"name": name, "labels": {"watch": "state"}}})
    async with watch.Watch() as w:
        stream = w.stream(v1.list_namespaced_config_map, "default", label_selector="watch=state", timeout_seconds=30)
        assert _summary(await _take(stream, 2)) == [("ADDED", "s1"), ("ADDED", "s2")]


async def test_label_selector_moves_objects_in_and_out(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    await v1.create_namespaced_config_map("default", {"metadata": {"name": "mover", "labels": {"watch": "out"}}})
    rv = (await v1.list_namespaced_config_map("default")).metadata.resource_version
    async with watch.Watch() as w:
        stream = w.stream(
            v1.list_namespaced_config_map, "default", label_selector="watch=in", resource_version=rv, timeout_seconds=30
        )
        await v1.patch_namespaced_config_map("mover", "default", {"metadata": {"labels": {"watch": "in"}}})
        await v1.patch_namespaced_config_map("mover", "default", {"metadata": {"labels": {"watch": "gone"}}})
        assert _summary(await _take(stream, 2)) == [("ADDED", "mover"), ("DELETED", "mover")]


async def test_field_selector_watch_on_one_name(admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    rv = (await v1.list_namespaced_secret("default")).metadata.resource_version
    async with watch.Watch() as w:
        stream = w.stream(
            v1.list_namespaced_secret,
            "default",
            field_selector="metadata.name=wanted",
            resource_version=rv,
            timeout_seconds=30,
        )
        await v1.create_namespaced_secret("default", {"metadata": {"name": "unwanted"}})
        await v1.create_namespaced_secret("default", {"metadata": {"name": "wanted"}})
        assert _summary(await _take(stream, 1)) == [("ADDED", "wanted")]


async def test_custom_resource_watch_across_namespaces(admin: client.ApiClient) -> None:
    api = client.CustomObjectsApi(admin)
    rv = (await api.list_cluster_custom_object(CM_GROUP, CM_VERSION, "certificaterequests"))["metadata"][
        "resourceVersion"
    ]
    async with watch.Watch() as w:
        stream = w.stream(
            api.list_cluster_custom_object,
            CM_GROUP,
            CM_VERSION,
            "certificaterequests",
            resource_version=rv,
            timeout_seconds=30,
        )
        for namespace in ("default", "other"):
            await api.create_namespaced_custom_object(
                CM_GROUP, CM_VERSION, namespace, "certificaterequests", certificate_request(f"w-{namespace}")
            )
        events = await _take(stream, 2)
    assert [e["raw_object"]["metadata"]["namespace"] for e in events] == ["default", "other"]


async def test_bookmarks_carry_the_current_version(cluster: Cluster, admin: client.ApiClient) -> None:
    v1 = client.CoreV1Api(admin)
    rv = (await v1.list_namespaced_config_map("default")).metadata.resource_version
    async with watch.Watch() as w:
        stream = w.stream(
            v1.list_namespaced_config_map,
            "default",
            label_selector="watch=bookmark",
            resource_version=rv,
            allow_watch_bookmarks=True,
            timeout_seconds=30,
        )
        await v1.create_namespaced_config_map("default", {"metadata": {"name": "unrelated"}})
        event = (await _take(stream, 1))[0]  # the server's interval is 50 ms in these tests
    assert event["type"] == "BOOKMARK"
    assert event["raw_object"]["kind"] == "ConfigMap"
    assert int(event["raw_object"]["metadata"]["resourceVersion"]) >= int(rv) + 1
    assert w.resource_version == event["raw_object"]["metadata"]["resourceVersion"]


async def test_no_bookmarks_unless_asked(cluster: Cluster) -> None:
    path = "/api/v1/namespaces/default/configmaps?watch=1&labelSelector=watch%3Dnone&timeoutSeconds=30"
    async with cluster.raw.get(cluster.url(path), headers=cluster.headers()) as response:
        assert response.status == 200
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):  # four bookmark intervals
                await response.content.readline()


async def test_a_watcher_that_goes_away_is_released(cluster: Cluster) -> None:
    assert cluster.server._app is not None
    handler = cluster.server._app[API_HANDLER]

    def lease_watches() -> int:  # nothing else in this module watches leases
        return sum(1 for w in handler.watches if w.rt.plural == "leases")

    response = await cluster.raw.get(
        cluster.url("/apis/coordination.k8s.io/v1/namespaces/default/leases?watch=true"), headers=cluster.headers()
    )
    await eventually(lambda: lease_watches() == 1)
    response.close()
    await eventually(lambda: lease_watches() == 0)


async def test_list_then_watch_neither_loses_nor_repeats(admin: client.ApiClient, cluster: Cluster) -> None:
    v1 = client.CoreV1Api(admin)
    writer_api = client.CoreV1Api(await cluster.client())
    names = [f"race-{i}" for i in range(12)]
    rng = random.Random(7)

    async def writer(ops: int) -> None:
        for _ in range(ops):
            name = rng.choice(names)
            try:
                if rng.random() < 0.2:
                    await writer_api.delete_namespaced_config_map(name, "default")
                else:
                    patch = {"metadata": {"labels": {"race": "yes"}}, "data": {"n": str(rng.random())}}
                    await writer_api.patch_namespaced_config_map(name, "default", patch)
            except client.ApiException as exc:
                assert exc.status == 404
                await writer_api.create_namespaced_config_map(
                    "default", {"metadata": {"name": name, "labels": {"race": "yes"}}}
                )

    background = asyncio.create_task(writer(150))
    await asyncio.sleep(0.05)  # let writes be in flight while we list
    listed = await v1.list_namespaced_config_map("default", label_selector="race=yes", _preload_content=False)
    listing = await listed.json()
    state = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in listing["items"]}
    list_rv = int(listing["metadata"]["resourceVersion"])
    seen: list[int] = []
    async with watch.Watch() as w:
        stream = w.stream(
            v1.list_namespaced_config_map,
            "default",
            label_selector="race=yes",
            resource_version=str(list_rv),
            timeout_seconds=30,
        )
        await background
        final = await v1.list_namespaced_config_map("default", label_selector="race=yes", _preload_content=False)
        final_listing = await final.json()
        expected = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in final_listing["items"]}
        async with asyncio.timeout(5):
            while state != expected:
                event = await stream.__anext__()
                meta = event["raw_object"]["metadata"]
                seen.append(int(meta["resourceVersion"]))
                if event["type"] == "DELETED":
                    assert state.pop(meta["name"], None) is not None, "deleted an object never seen"
                else:
                    assert (event["type"] == "ADDED") == (meta["name"] not in state)
                    state[meta["name"]] = meta["resourceVersion"]
    assert seen and seen[0] > list_rv
    assert seen == sorted(set(seen)), "events repeated or out of order"
