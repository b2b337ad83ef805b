"""Pod events: which errors become which Warning, fire-and-forget with bounded concurrency and backlog."""

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
    gate: asyncio.Event | None = None
    in_flight: int = 0
    most_in_flight: int = 0
    fail: bool = False

    async def record_event(
        self, *, involved: InvolvedObject, type: EventKind, reason: str, message: str, component: str
    ) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.fail:
                raise KubernetesError("events is forbidden", status=403)
            self.recorded.append((involved, type, reason, message, component))
        finally:
            self.in_flight -= 1


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


async def test_concurrency_and_backlog_are_bounded() -> None:
    api = FakeApi(gate=asyncio.Event())
    events = PodEvents(api=api, component="c", concurrency=2, backlog=5)
    for _ in range(8):
        events.emit(POD, EVENT)
    await asyncio.sleep(0)
    assert api.most_in_flight == 2
    assert events.dropped == 3
    api.gate.set()  # type: ignore[union-attr]
    await events.flush()
    assert len(api.recorded) == 5


async def test_a_volume_without_pod_info_gets_no_event() -> None:
    api = FakeApi()
    events = PodEvents(api=api, component="c")
    events.emit(Volume(volume_id="v", target_path="/t", attributes={}), EVENT)
    await events.flush()
    assert api.recorded == []


async def test_a_failed_write_is_logged_and_forgotten(caplog: pytest.LogCaptureFixture) -> None:
    api = FakeApi(fail=True)
    events = PodEvents(api=api, component="c")
    with caplog.at_level(logging.WARNING, logger="certcsi.observability.events"):
        events.emit(POD, EVENT)
        await events.flush()
    assert "could not record Pod event" in caplog.text


async def test_close_cancels_what_does_not_finish_in_time() -> None:
    api = FakeApi(gate=asyncio.Event())
    events = PodEvents(api=api, component="c")
    events.emit(POD, EVENT)
    await asyncio.sleep(0)
    await events.close(grace=0.01)
    events.emit(POD, EVENT)  # ignored once closed
    assert api.in_flight == 0 and api.recorded == []
