"""Events: created once, then aggregated in memory (count bumped by merge patch); never listed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kube_support import ScriptedTransport

from certcsi.errors import KubernetesError
from certcsi.kube import InvolvedObject
from certcsi.kube.events import EventRecorder

POD: InvolvedObject = {"kind": "Pod", "namespace": "team-a", "name": "web-0", "uid": "uid-1"}
EVENTS = "/api/v1/namespaces/team-a/events"
T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def recorder(transport: ScriptedTransport) -> EventRecorder:
    moments = iter(T0 + timedelta(seconds=i) for i in range(100))
    return EventRecorder(transport, now=lambda: next(moments))


def calls(transport: ScriptedTransport, method: str) -> list[tuple[str, object, str]]:
    return [(path, body, ctype) for m, path, _, body, ctype in transport.requests if m == method]


async def record(rec: EventRecorder, message: str = "publish failed: issuer not ready") -> None:
    await rec.record(involved=POD, type="Warning", reason="FailedMount", message=message, component="certcsi")


async def test_first_event_is_created_with_the_core_v1_shape() -> None:
    transport = ScriptedTransport()
    await record(recorder(transport))
    ((path, body, _),) = calls(transport, "POST")
    assert path == EVENTS
    assert body["metadata"]["namespace"] == "team-a"  # type: ignore[index]
    assert body["metadata"]["name"].startswith("web-0.")  # type: ignore[index]
    assert {k: body[k] for k in ("involvedObject", "type", "reason", "message", "source", "count")} == {  # type: ignore[index]
        "involvedObject": {"kind": "Pod", "namespace": "team-a", "name": "web-0", "uid": "uid-1"},
        "type": "Warning",
        "reason": "FailedMount",
        "message": "publish failed: issuer not ready",
        "source": {"component": "certcsi"},
        "count": 1,
    }
    assert body["firstTimestamp"] == body["lastTimestamp"] == "2025-01-01T12:00:00Z"  # type: ignore[index]


async def test_repeat_bumps_the_count_with_a_merge_patch() -> None:
    transport = ScriptedTransport()
    rec = recorder(transport)
    await record(rec)
    await record(rec)
    await record(rec)
    ((_, created, _),) = calls(transport, "POST")
    patches = calls(transport, "PATCH")
    name = created["metadata"]["name"]  # type: ignore[index]
    assert [(p, b, c) for p, b, c in patches] == [
        (f"{EVENTS}/{name}", {"count": 2, "lastTimestamp": "2025-01-01T12:00:01Z"}, "application/merge-patch+json"),
        (f"{EVENTS}/{name}", {"count": 3, "lastTimestamp": "2025-01-01T12:00:02Z"}, "application/merge-patch+json"),
    ]


async def test_a_different_message_is_a_different_event() -> None:
    transport = ScriptedTransport()
    rec = recorder(transport)
    await record(rec, "one")
    await record(rec, "two")
    assert len(calls(transport, "POST")) == 2
    assert calls(transport, "PATCH") == []


async def test_only_create_and_patch_are_used_even_after_a_restart() -> None:
    # Upstream's RBAC grants `create` and `patch` on events, nothing else: a restart starts a new Event.
    transport = ScriptedTransport()
    await record(recorder(transport))  # one process
    await record(recorder(transport))  # its successor, after a restart
    successor = recorder(transport)
    await record(successor)
    await record(successor)  # a repeat within one process: a bump
    assert {method for method, *_ in transport.requests} == {"POST", "PATCH"}
    assert len(calls(transport, "POST")) == 3 and len(calls(transport, "PATCH")) == 1


async def test_an_expired_event_is_recreated() -> None:
    transport = ScriptedTransport()
    rec = recorder(transport)
    await record(rec)
    name = calls(transport, "POST")[0][1]["metadata"]["name"]  # type: ignore[index]
    transport.responses[f"PATCH {EVENTS}/{name}"] = [KubernetesError("not found", status=404)]
    await record(rec)
    assert len(calls(transport, "POST")) == 2


async def test_tokens_are_scrubbed_from_messages() -> None:
    transport = ScriptedTransport()
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    await record(recorder(transport), f"token {jwt} rejected")
    assert jwt not in str(calls(transport, "POST"))


async def test_other_failures_are_raised() -> None:
    transport = ScriptedTransport()
    transport.responses[f"POST {EVENTS}"] = [KubernetesError("forbidden", status=403)]
    with pytest.raises(KubernetesError):
        await record(recorder(transport))
