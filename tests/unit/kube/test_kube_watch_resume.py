"""A watch lists once, then resumes from the last resourceVersion seen (bookmarks included)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from kube_support import ScriptedTransport, Sleeps, line, listing, obj

from certcsi.kube import WatchEvent, watch

PATH = "/apis/cert-manager.io/v1/certificaterequests"


async def take(events: AsyncIterator[WatchEvent], count: int) -> list[tuple[str, str]]:
    out = []
    async for kind, o in events:
        out.append((kind, o.get("metadata", {}).get("name", "")))
        if len(out) == count:
            break
    return out


async def test_list_then_watch_from_the_list_version() -> None:
    transport = ScriptedTransport()
    transport.responses[PATH] = [listing("10", obj("a", "5"), obj("b", "7"))]
    transport.streams = [[line("ADDED", obj("c", "11")), line("MODIFIED", obj("a", "12"))]]
    events = watch(transport, PATH, label_selector="k=v", sleep=Sleeps())
    got = await take(events, 5)
    await events.aclose()  # type: ignore[attr-defined]
    assert got == [("ADDED", "a"), ("ADDED", "b"), ("SYNCED", ""), ("ADDED", "c"), ("MODIFIED", "a")]
    assert transport.requests[0][2] == [("labelSelector", "k=v")]
    first_watch = transport.stream_queries[0]
    assert first_watch["resourceVersion"] == "10"
    assert first_watch["allowWatchBookmarks"] == "true"
    assert first_watch["labelSelector"] == "k=v"


async def test_reconnect_resumes_from_the_last_event_or_bookmark() -> None:
    transport = ScriptedTransport()
    transport.responses[PATH] = [listing("10")]
    bookmark = {"type": "BOOKMARK", "object": {"kind": "CertificateRequest", "metadata": {"resourceVersion": "40"}}}
    transport.streams = [
        [line("ADDED", obj("c", "11"))],
        [bookmark],
        [line("DELETED", obj("c", "41"))],
    ]
    sleeps = Sleeps()
    events = watch(transport, PATH, sleep=sleeps)
    got = await take(events, 3)
    await events.aclose()  # type: ignore[attr-defined]
    assert got == [("SYNCED", ""), ("ADDED", "c"), ("DELETED", "c")]  # the bookmark is not handed on
    assert [q["resourceVersion"] for q in transport.stream_queries] == ["10", "11", "40"]
    assert len(transport.requests) == 1  # never relisted
    assert sleeps.delays == []  # a watch that ends normally reconnects at once


async def test_field_selector_is_passed(tmp_path: object) -> None:
    transport = ScriptedTransport()
    transport.responses["/api/v1/pods"] = [listing("3")]
    events = watch(transport, "/api/v1/pods", field_selector="spec.nodeName=node-1", sleep=Sleeps())
    await take(events, 1)
    await events.aclose()  # type: ignore[attr-defined]
    assert transport.requests[0][2] == [("fieldSelector", "spec.nodeName=node-1")]
