"""Pod events: which errors become which Warning; queued with bounded writers and backlog, nothing lost silently."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import pytest

from certcsi.errors import (
    InvalidVolume,
    IssuanceDenied,
    IssuanceFailed,
    IssuanceTimeout,
    IssuerUnavailable,
    KubernetesError,
)
from certcsi.kube.events import EventKind, InvolvedObject
from certcsi.observability.events import PodEvent, PodEvents, issuance_event
from certcsi.volumes.driver import Volume

POD = Volume(
    volume_id="vol-1",
    target_path="/t",
    attributes={
        "csi.storage.k8s.io/pod.namespace": "team",
        "csi.storage.k8s.io/pod.name": "web-0",
        "csi.storage.k8s.io/pod.uid": "uid-1",
    },
)
EVENT = PodEvent(type="Warning", reason="IssuanceDenied", message="no")


@dataclass
class FakeApi:
    recorded: list[tuple[InvolvedObject, str, str, str, str]] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    gate: asyncio.Event | None = None
    in_flight: int = 0
    most_in_flight: int = 0
    fail: KubernetesError | None = None
    calls: int = 0
    landed: asyncio.Queue[str] = field(default_factory=asyncio.Queue)  # names of the pods, as they are written

    async def record_event(
        self, *, involved: InvolvedObject, type: EventKind, reason: str, message: str, component: str, count: int = 1
    ) -> None:
        self.calls += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.fail is not None:
                raise self.fail
            self.recorded.append((involved, type, reason, message, component))
            self.counts.append(count)
            self.landed.put_nowait(involved["name"])
        finally:
            self.in_flight -= 1


def pod(n: int) -> Volume:
    """The volume of another pod: its events never coalesce with POD's."""
    return Volume(
        volume_id=f"vol-{n}",
        target_path="/t",
        attributes={
            "csi.storage.k8s.io/pod.namespace": "team",
            "csi.storage.k8s.io/pod.name": f"web-{n}",
            "csi.storage.k8s.io/pod.uid": f"uid-{n}",
        },
    )


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (IssuanceDenied('request "r-1" has been denied by the approval plugin: SAN not allowed'), "IssuanceDenied"),
        (IssuanceFailed('request "r-1" has failed: issuer down'), "IssuanceFailed"),
        (IssuanceTimeout('waiting for request "r-1" timed out after 60s: last condition ...'), "IssuanceTimeout"),
        (IssuerUnavailable("no issuer configured"), "IssuerUnavailable"),
        (KubernetesError("certificaterequests is forbidden", status=403), "IssuanceFailed"),
    ],
)
def test_warnings_by_error(error: BaseException, reason: str) -> None:
    event = issuance_event(error, request_name="r-1")
    assert event is not None
    assert (event.type, event.reason) == ("Warning", reason)
    assert '"r-1"' not in event.message  # so repeats with new request names aggregate into one Event


def test_the_approver_message_is_kept_word_for_word() -> None:
    error = IssuanceDenied('request "r-9" has been denied by the approval plugin: Denied request: bad SAN')
    event = issuance_event(error, request_name="r-9")
    assert event is not None
    assert event.message == "CertificateRequest has been denied by the approval plugin: Denied request: bad SAN"


def test_invalid_volumes_and_bugs_get_no_event() -> None:
    assert issuance_event(InvalidVolume("bad attribute"), request_name=None) is None
    assert issuance_event(RuntimeError("boom"), request_name=None) is None


def test_a_token_in_a_message_is_scrubbed() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    event = issuance_event(KubernetesError(f"rejected {token}"), request_name=None)
    assert event is not None and token not in event.message


async def test_emit_returns_at_once_and_the_event_lands_on_the_pod() -> None:
    api = FakeApi(gate=asyncio.Event())
    events = PodEvents(api=api, component="csi.cert-manager.io")
    events.emit(POD, EVENT)
    assert api.recorded == []  # not written yet, and emit did not wait
    api.gate.set()  # type: ignore[union-attr]
    await events.flush()
    involved, kind, reason, message, component = api.recorded[0]
    assert involved == {"kind": "Pod", "apiVersion": "v1", "namespace": "team", "name": "web-0", "uid": "uid-1"}
    assert (kind, reason, message, component) == ("Warning", "IssuanceDenied", "no", "csi.cert-manager.io")


async def test_events_wait_for_their_batch_and_go_out_together() -> None:
    api = FakeApi()
    events = PodEvents(api=api, component="c", linger=30.0)
    for n in range(3):
        events.emit(pod(n), EVENT)
    for _ in range(5):
        await asyncio.sleep(0)
    assert api.calls == 0  # the batch is still open: nothing competes with the publishes of these pods
    await events.flush()  # a flush (tests, shutdown) does not wait for the batch to close
    assert api.calls == 3


async def test_a_batch_is_written_once_its_linger_is_over_without_anyone_asking() -> None:
    api = FakeApi()
    events = PodEvents(api=api, component="c", linger=0.01)
    events.emit(POD, EVENT)
    assert await asyncio.wait_for(api.landed.get(), 10) == "web-0"
    events.emit(pod(1), EVENT)  # the writers are idle again: this opens a new batch
    assert await asyncio.wait_for(api.landed.get(), 10) == "web-1"


async def test_close_writes_a_waiting_batch_at_once() -> None:
    api = FakeApi()
    events = PodEvents(api=api, component="c", linger=30.0)
    events.emit(POD, EVENT)
    async with asyncio.timeout(10):
        await events.close(grace=5.0)
    assert api.calls == 1 and events.dropped["shutdown"] == 0


async def test_concurrency_and_backlog_are_bounded_and_every_drop_is_counted() -> None:
    api = FakeApi(gate=asyncio.Event())
    dropped: list[tuple[str, int]] = []
    events = PodEvents(
        api=api,
        component="c",
        concurrency=2,
        backlog=5,
        linger=0,
        on_drop=lambda reason, n: dropped.append((reason, n)),
    )
    for n in range(9):  # five fit in the queue, four do not
        events.emit(pod(n), EVENT)
    assert dropped == [("backlog", 1)] * 4
    await asyncio.sleep(0)
    assert api.most_in_flight == 2
    events.emit(pod(9), EVENT)  # the two writers took theirs: there is room again
    assert events.dropped["backlog"] == 4
    api.gate.set()  # type: ignore[union-attr]
    await events.flush()
    assert len(api.recorded) == 6
    assert len(api.recorded) + events.dropped["backlog"] == 10


async def test_repeats_waiting_in_the_queue_become_one_write_with_their_count() -> None:
    api = FakeApi(gate=asyncio.Event())
    events = PodEvents(api=api, component="c", concurrency=1, backlog=2, linger=0)
    events.emit(pod(0), EVENT)  # taken by the one writer at once
    await asyncio.sleep(0)
    for _ in range(50):  # a pod whose requests keep failing: one place in the queue, whatever the count
        events.emit(POD, EVENT)
    events.emit(pod(1), EVENT)
    api.gate.set()  # type: ignore[union-attr]
    await events.flush()
    assert events.dropped["backlog"] == 0
    assert api.calls == 3
    assert sorted(api.counts) == [1, 1, 50]


async def test_forbidden_is_logged_once_then_recording_pauses_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    api = FakeApi(fail=KubernetesError('events is forbidden: User "x" cannot create resource "events"', status=403))
    dropped: dict[str, int] = {}
    events = PodEvents(
        api=api,
        component="c",
        clock=lambda: now[0],
        on_drop=lambda reason, n: dropped.__setitem__(reason, dropped.get(reason, 0) + n),
    )
    with caplog.at_level(logging.DEBUG, logger="certcsi.observability.events"):
        events.emit(POD, EVENT)
        await events.flush()
        for n in range(100):
            events.emit(pod(n), EVENT)
        await events.flush()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "forbids" in warnings[0].getMessage()
    assert api.calls == 1  # paused: no write tried for the 100 that followed
    assert dropped == {"forbidden": 101}

    now[0] += 301  # the pause is over: the next event is tried, and succeeds
    api.fail = None
    with caplog.at_level(logging.INFO, logger="certcsi.observability.events"):
        events.emit(POD, EVENT)
        await events.flush()
    assert api.calls == 2 and len(api.recorded) == 1
    assert "recording Pod events again" in caplog.text


async def test_a_forbidden_retry_doubles_the_pause() -> None:
    now = [0.0]
    api = FakeApi(fail=KubernetesError("events is forbidden", status=403))
    events = PodEvents(api=api, component="c", clock=lambda: now[0])
    for step in (0.0, 301.0, 599.0):  # a 300 s pause, then 600 s: tried at 0 and at 301, not at 900
        now[0] += step
        events.emit(POD, EVENT)
        await events.flush()
    assert api.calls == 2
    now[0] += 2
    events.emit(POD, EVENT)
    await events.flush()
    assert api.calls == 3


async def test_a_volume_without_pod_info_gets_no_event() -> None:
    api = FakeApi()
    events = PodEvents(api=api, component="c")
    events.emit(Volume(volume_id="v", target_path="/t", attributes={}), EVENT)
    await events.flush()
    assert api.recorded == []


async def test_a_failed_write_is_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    api = FakeApi(fail=KubernetesError("etcdserver: request timed out", status=500))
    events = PodEvents(api=api, component="c")
    with caplog.at_level(logging.WARNING, logger="certcsi.observability.events"):
        events.emit(POD, EVENT)
        await events.flush()
    assert "could not record Pod event" in caplog.text
    assert events.dropped["error"] == 1


async def test_close_cancels_what_does_not_finish_in_time_and_counts_it() -> None:
    api = FakeApi(gate=asyncio.Event())
    events = PodEvents(api=api, component="c", concurrency=1, linger=0)
    events.emit(POD, EVENT)
    await asyncio.sleep(0)
    events.emit(pod(1), EVENT)
    await events.close(grace=0.01)
    events.emit(POD, EVENT)  # ignored once closed
    assert api.in_flight == 0 and api.recorded == []
    assert events.dropped["shutdown"] == 2
