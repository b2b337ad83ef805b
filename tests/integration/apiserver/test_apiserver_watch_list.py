"""The WatchList protocol (kube-apiserver 1.36, the WatchList feature on): a watch asks for the current state
first with sendInitialEvents=true and resourceVersionMatch=NotOlderThan, and learns where that state ends
from a BOOKMARK annotated k8s.io/initial-events-end; the options are defaulted and checked as the real
server does (422 on ListOptions naming the field)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from apiserver_support import Cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


async def _events(cluster: Cluster, query: str, count: int, *, then: Any = None) -> list[dict[str, Any]]:
    """The first `count` events of a watch; `then` (a coroutine function) runs once the watch is open."""
    url = cluster.url(f"{CONFIGMAPS}?watch=true&timeoutSeconds=20&{query}")
    async with cluster.raw.get(url, headers=cluster.headers()) as response:
        assert response.status == 200, await response.text()
        if then is not None:
            await then()
        events = []
        async with asyncio.timeout(10):
            while len(events) < count:
                events.append(json.loads(await response.content.readline()))
        return events


async def _create(cluster: Cluster, name: str, label: str) -> int:
    body = {"metadata": {"name": name, "labels": {"watchlist": label}}}
    status, obj = await cluster.request("POST", CONFIGMAPS, body=json.dumps(body).encode())
    assert status == 201, obj
    return int(obj["metadata"]["resourceVersion"])


def _summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]


async def test_initial_events_then_a_bookmark_that_ends_them_then_changes(cluster: Cluster) -> None:
    last = max([await _create(cluster, name, "stream") for name in ("wl-a", "wl-b")])

    async def later() -> None:
        await _create(cluster, "wl-c", "stream")

    events = await _events(
        cluster,
        "labelSelector=watchlist%3Dstream&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
        "&allowWatchBookmarks=true",
        4,
        then=later,
    )
    assert _summary(events) == [("ADDED", "wl-a"), ("ADDED", "wl-b"), ("BOOKMARK", ""), ("ADDED", "wl-c")]
    end = events[2]["object"]["metadata"]
    assert end["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(end["resourceVersion"]) >= last
    assert int(events[3]["object"]["metadata"]["resourceVersion"]) > int(end["resourceVersion"])


async def test_not_older_than_an_old_version_still_sends_the_state_now(cluster: Cluster) -> None:
    first = await _create(cluster, "wl-old", "old")
    await _create(cluster, "wl-new", "old")
    events = await _events(
        cluster,
        f"labelSelector=watchlist%3Dold&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
        f"&allowWatchBookmarks=true&resourceVersion={first}",
        3,
    )
    assert _summary(events) == [("ADDED", "wl-new"), ("ADDED", "wl-old"), ("BOOKMARK", "")]


async def test_without_initial_events_only_changes_arrive(cluster: Cluster) -> None:
    await _create(cluster, "wl-before", "changes")

    async def later() -> None:
        await _create(cluster, "wl-after", "changes")

    events = await _events(
        cluster,
        "labelSelector=watchlist%3Dchanges&sendInitialEvents=false&resourceVersionMatch=NotOlderThan",
        1,
        then=later,
    )
    assert _summary(events) == [("ADDED", "wl-after")]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "watch=true&sendInitialEvents=true",
            "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ),
        (
            "watch=true&resourceVersion=1&resourceVersionMatch=NotOlderThan",
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents "
            "is provided",
        ),
        (
            "watch=true&sendInitialEvents=true&resourceVersionMatch=Exact",
            "[resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to "
            'NotOlderThan, resourceVersionMatch: Unsupported value: "Exact": supported values: "NotOlderThan"]',
        ),
        ("sendInitialEvents=true", "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"),
        (
            "resourceVersionMatch=NotOlderThan",
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
        ),
    ],
)
async def test_bad_options_are_422_on_list_options(cluster: Cluster, query: str, message: str) -> None:
    status, body = await cluster.request("GET", f"{CONFIGMAPS}?{query}")
    assert (status, body["reason"]) == (422, "Invalid")
    assert body["message"] == f'ListOptions.meta.k8s.io "" is invalid: {message}'
    assert body["details"]["kind"] == "ListOptions" and body["details"]["group"] == "meta.k8s.io"
