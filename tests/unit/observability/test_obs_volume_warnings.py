"""A driver's warnings about a volume become Warning Events on its Pod, free of secrets."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pytest

from certcsi.kube.events import EventKind, InvolvedObject
from certcsi.observability.events import PodEvents
from certcsi.observability.observer import NodeObserver
from certcsi.volumes.driver import Volume, VolumeWarning

POD = Volume(
    volume_id="vol-1",
    target_path="/t",
    attributes={
        "csi.storage.k8s.io/pod.namespace": "team",
        "csi.storage.k8s.io/pod.name": "web-0",
        "csi.storage.k8s.io/pod.uid": "uid-1",
    },
)
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl"


@dataclass
class RecordingApi:
    recorded: list[tuple[str, str, str]] = field(default_factory=list)

    async def record_event(
        self, *, involved: InvolvedObject, type: EventKind, reason: str, message: str, component: str, count: int = 1
    ) -> None:
        self.recorded.append((type, reason, message))


async def test_each_warning_is_a_warning_event_with_its_reason_and_no_secret() -> None:
    api = RecordingApi()
    events = PodEvents(api=api, component="csi.cert-manager.io")
    observer = NodeObserver(metrics=None, events=events)
    observer.warned(
        POD,
        [
            VolumeWarning(reason="UnknownVolumeAttribute", message="unknown volume attribute 'a/b' is ignored"),
            VolumeWarning(reason="UnknownVolumeAttribute", message=f"unknown volume attribute '{JWT}' is ignored"),
        ],
    )
    await events.flush()
    assert api.recorded[0] == ("Warning", "UnknownVolumeAttribute", "unknown volume attribute 'a/b' is ignored")
    assert api.recorded[1][:2] == ("Warning", "UnknownVolumeAttribute")
    assert JWT not in api.recorded[1][2]


async def test_without_events_warnings_are_dropped_quietly(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # Without an event sink the warning goes nowhere: no error, and no log line standing in for the event.
    NodeObserver(metrics=None, events=None).warned(POD, [VolumeWarning(reason="X", message="y")])
    assert caplog.records == []
