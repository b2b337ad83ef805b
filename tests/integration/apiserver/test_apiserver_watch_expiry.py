"""How watches end: timeoutSeconds, a resourceVersion older than the kept history (410 Expired,
delivered as kube-apiserver does: HTTP 200 then one ERROR event), and server shutdown."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from apiserver_support import Cluster, eventually, running_cluster
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from certcsi.sandbox.apiserver.storage import Store

pytestmark = pytest.mark.asyncio(loop_scope="module")
HISTORY = 10


@dataclass
class _Timer:
    delay: float
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class FakeScheduler:
    """Stands in for loop.call_later: the test decides when a timer fires."""

    timers: list[_Timer] = field(default_factory=list)

    def __call__(self, delay: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(delay, callback)
        self.timers.append(timer)
        return timer

    def pending(self, delay: float) -> list[_Timer]:
        return [t for t in self.timers if t.delay == delay and not t.cancelled]


@pytest.fixture(scope="module")
def scheduler() -> FakeScheduler:
    return FakeScheduler()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def short_history(tmp_path_factory: pytest.TempPathFactory, scheduler: FakeScheduler) -> AsyncIterator[Cluster]:
    directory: Path = tmp_path_factory.mktemp("expiry")
    async with running_cluster(directory, store=Store(history=HISTORY), call_later=scheduler) as running:
        yield running


async def test_timeout_seconds_ends_the_stream(short_history: Cluster, scheduler: FakeScheduler) -> None:
    v1 = client.CoreV1Api(await short_history.client())
    events = []
    async with watch.Watch() as w:
        stream = w.stream(v1.list_namespaced_config_map, "default", label_selector="t=1", timeout_seconds=37)
        reader = asyncio.create_task(_drain(stream, events))
        await eventually(lambda: len(scheduler.pending(37)) == 1)
        await v1.create_namespaced_config_map("default", {"metadata": {"name": "before-timeout", "labels": {"t": "1"}}})
        await eventually(lambda: len(events) == 1)
        assert not reader.done()
        scheduler.pending(37)[0].callback()
        async with asyncio.timeout(2):
            await reader  # the client sees the end of the stream: StopAsyncIteration
    assert [e["raw_object"]["metadata"]["name"] for e in events] == ["before-timeout"]
    assert scheduler.pending(37) == []  # a closed watch cancels its timer


async def _drain(stream: watch.Watch, into: list[object]) -> None:
    async for event in stream:
        into.append(event)


async def _churn(store_cluster: Cluster, count: int) -> None:
    v1 = client.CoreV1Api(await store_cluster.client())
    if not (await v1.list_namespaced_config_map("default", field_selector="metadata.name=churn")).items:
        await v1.create_namespaced_config_map("default", {"metadata": {"name": "churn"}})
    for i in range(count):
        await v1.patch_namespaced_config_map("churn", "default", {"data": {"i": str(i)}})


async def test_expired_version_is_an_error_event_on_a_200_stream(short_history: Cluster) -> None:
    await _churn(short_history, 3 * HISTORY)
    path = "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=2"
    async with short_history.raw.get(short_history.url(path), headers=short_history.headers()) as response:
        assert response.status == 200
        lines = (await response.read()).splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["type"] == "ERROR"
    status = event["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith("too old resource version: 2 (")


async def test_kubernetes_asyncio_raises_410(short_history: Cluster) -> None:
    await _churn(short_history, 3 * HISTORY)
    v1 = client.CoreV1Api(await short_history.client())
    async with watch.Watch() as w:
        stream = w.stream(v1.list_namespaced_config_map, "default", resource_version="2", timeout_seconds=30)
        with pytest.raises(ApiException) as caught:
            await stream.__anext__()
    assert caught.value.status == 410
    assert "Expired" in caught.value.reason


async def test_recent_version_within_history_still_resumes(short_history: Cluster) -> None:
    await _churn(short_history, 3 * HISTORY)
    v1 = client.CoreV1Api(await short_history.client())
    rv = (await v1.list_namespaced_config_map("default")).metadata.resource_version
    await v1.patch_namespaced_config_map("churn", "default", {"data": {"resumed": "yes"}})
    async with watch.Watch() as w:
        stream = w.stream(v1.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=30)
        async with asyncio.timeout(2):
            event = await stream.__anext__()
    assert event["type"] == "MODIFIED" and event["object"].data["resumed"] == "yes"


async def test_stop_ends_open_watches(tmp_path: Path) -> None:
    async with running_cluster(tmp_path) as fresh:
        path = "/api/v1/configmaps?watch=true&labelSelector=nothing-has-this"
        response = await fresh.raw.get(fresh.url(path), headers=fresh.headers())
        assert response.status == 200
        async with asyncio.timeout(2):
            await fresh.server.stop()
            assert await response.content.read() == b""  # the stream ended cleanly
        response.close()
