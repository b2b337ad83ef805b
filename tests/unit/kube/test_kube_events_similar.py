"""Events that differ only in their message combine into one, as client-go's EventAggregator does;
a caller's coalesced repeats arrive as one write carrying their count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kube_support import ScriptedTransport

from certcsi.kube import InvolvedObject
from certcsi.kube.events import AGGREGATE_INTERVAL_SECONDS, AGGREGATE_MAX_MESSAGES, EventRecorder

POD: InvolvedObject = {"kind": "Pod", "namespace": "team-a", "name": "web-0", "uid": "uid-1"}


def writes(transport: ScriptedTransport, method: str) -> list[dict[str, object]]:
    return [body for m, _, _, body, _ in transport.requests if m == method]  # type: ignore[misc]


async def test_the_tenth_similar_message_starts_one_combined_event_whose_count_grows() -> None:
    transport = ScriptedTransport()
    rec = EventRecorder(transport, now=lambda: datetime(2025, 1, 1, tzinfo=UTC))
    for n in range(AGGREGATE_MAX_MESSAGES + 5):
        await rec.record(involved=POD, type="Warning", reason="IssuanceFailed", message=f"try {n}", component="c")
    created = writes(transport, "POST")
    assert len(created) == AGGREGATE_MAX_MESSAGES  # nine on their own, then the combined one
    assert created[-1]["message"] == f"(combined from similar events): try {AGGREGATE_MAX_MESSAGES - 1}"
    patches = writes(transport, "PATCH")
    assert [p["count"] for p in patches] == [2, 3, 4, 5, 6]
    assert patches[-1]["message"] == f"(combined from similar events): try {AGGREGATE_MAX_MESSAGES + 4}"


async def test_similar_messages_further_apart_than_the_interval_stay_apart() -> None:
    transport = ScriptedTransport()
    moments = iter(
        datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=i * (AGGREGATE_INTERVAL_SECONDS / 5 + 1))
        for i in range(40)
    )
    rec = EventRecorder(transport, now=lambda: next(moments))
    for n in range(20):
        await rec.record(involved=POD, type="Warning", reason="IssuanceFailed", message=f"try {n}", component="c")
    assert all(not str(body["message"]).startswith("(combined") for body in writes(transport, "POST"))


async def test_a_count_of_coalesced_repeats_is_created_and_bumped_in_one_write_each() -> None:
    transport = ScriptedTransport()
    rec = EventRecorder(transport, now=lambda: datetime(2025, 1, 1, tzinfo=UTC))
    await rec.record(involved=POD, type="Warning", reason="IssuanceDenied", message="no", component="c", count=7)
    await rec.record(involved=POD, type="Warning", reason="IssuanceDenied", message="no", component="c", count=3)
    assert [body["count"] for body in writes(transport, "POST")] == [7]
    assert [body["count"] for body in writes(transport, "PATCH")] == [10]
