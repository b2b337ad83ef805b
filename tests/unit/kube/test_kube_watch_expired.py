"""410 Gone/Expired relists and hands on only the difference, then SYNCED again."""

from __future__ import annotations

from kube_support import ScriptedTransport, Sleeps, line, listing, obj
from test_kube_watch_resume import take

from certcsi.errors import KubernetesError
from certcsi.kube import watch

PATH = "/apis/cert-manager.io/v1/certificaterequests"
EXPIRED = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}}


async def test_expired_event_relists_with_a_diff() -> None:
    transport = ScriptedTransport()
    transport.responses[PATH] = [
        listing("10", obj("keep", "1"), obj("change", "2"), obj("vanish", "3")),
        listing("90", obj("keep", "1"), obj("change", "80"), obj("new", "85")),
    ]
    transport.streams = [[EXPIRED], [line("ADDED", obj("later", "91"))]]
    sleeps = Sleeps()
    events = watch(transport, PATH, sleep=sleeps)
    got = await take(events, 9)
    await events.aclose()  # type: ignore[attr-defined]
    assert got[:4] == [("ADDED", "keep"), ("ADDED", "change"), ("ADDED", "vanish"), ("SYNCED", "")]
    assert sorted(got[4:7]) == [("ADDED", "new"), ("DELETED", "vanish"), ("MODIFIED", "change")]
    assert got[7:] == [("SYNCED", ""), ("ADDED", "later")]
    assert transport.stream_queries[-1]["resourceVersion"] == "90"
    assert sleeps.delays == []  # expiry is routine, not a failure


async def test_vanished_objects_carry_their_last_metadata() -> None:
    transport = ScriptedTransport()
    transport.responses[PATH] = [listing("10", obj("gone", "3", namespace="team-a")), listing("20")]
    transport.streams = [[EXPIRED]]
    events = watch(transport, PATH, sleep=Sleeps())
    seen = []
    async for kind, o in events:
        seen.append((kind, o))
        if kind == "DELETED":
            break
    await events.aclose()  # type: ignore[attr-defined]
    assert seen[-1][1]["metadata"] == {"name": "gone", "namespace": "team-a", "resourceVersion": "3"}


async def test_gone_status_on_the_watch_request_relists() -> None:
    transport = ScriptedTransport()
    transport.responses[PATH] = [listing("10", obj("a", "1")), listing("20", obj("a", "1"))]
    transport.streams = [
        KubernetesError("too old resource version", status=410, reason="Gone"),
        [line("ADDED", obj("b", "21"))],
    ]
    events = watch(transport, PATH, sleep=Sleeps())
    got = await take(events, 4)
    await events.aclose()  # type: ignore[attr-defined]
    # The second list changed nothing, so only SYNCED comes out of it.
    assert got == [("ADDED", "a"), ("SYNCED", ""), ("SYNCED", ""), ("ADDED", "b")]
    assert len([r for r in transport.requests if r[0] == "GET"]) == 2


async def test_only_the_identity_of_an_object_is_kept_for_a_vanished_one() -> None:
    bulky = obj("gone", "3", namespace="team-a")
    bulky["metadata"].update(
        uid="u-1",
        creationTimestamp="2030-01-01T00:00:00Z",
        labels={"app": "web"},
        annotations={"kubectl.kubernetes.io/last-applied-configuration": "{...}"},
        managedFields=[{"manager": "kubectl", "fieldsV1": {}}],
        ownerReferences=[{"kind": "Pod", "name": "web", "uid": "p-1"}],
    )
    transport = ScriptedTransport()
    transport.responses[PATH] = [listing("10"), listing("20")]
    transport.streams = [[line("ADDED", bulky), EXPIRED]]
    events = watch(transport, PATH, sleep=Sleeps())
    seen = []
    async for kind, o in events:
        seen.append((kind, o))
        if kind == "DELETED":
            break
    await events.aclose()  # type: ignore[attr-defined]
    assert seen[-1][1]["metadata"] == {
        "name": "gone",
        "namespace": "team-a",
        "uid": "u-1",
        "resourceVersion": "3",
        "creationTimestamp": "2030-01-01T00:00:00Z",
        "labels": {"app": "web"},
    }
