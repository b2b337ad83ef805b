"""A watch never dies on a transient error: it backs off (jittered, capped) and carries on."""

from __future__ import annotations

from kube_support import ScriptedTransport, Sleeps, line, listing, obj
from test_kube_watch_resume import take

from certcsi.errors import KubernetesError
from certcsi.kube import Backoff, watch

PATH = "/api/v1/pods"
NO_JITTER = Backoff(base=1.0, factor=2.0, cap=5.0, jitter=0.0)


def down() -> KubernetesError:
    return KubernetesError("cannot reach the Kubernetes API", status=None)


async def test_failed_list_is_retried_with_growing_capped_delays() -> None:
    transport = ScriptedTransport()
    transport.responses[PATH] = [down(), down(), down(), down(), listing("5", obj("a", "5"))]
    sleeps = Sleeps()
    events = watch(transport, PATH, backoff=NO_JITTER, sleep=sleeps)
    got = await take(events, 2)
    await events.aclose()  # type: ignore[attr-defined]
    assert got == [("ADDED", "a"), ("SYNCED", "")]
    assert sleeps.delays == [1.0, 2.0, 4.0, 5.0]


async def test_broken_stream_resumes_without_relisting_and_resets_backoff() -> None:
    transport = ScriptedTransport()
    transport.responses[PATH] = [listing("5")]
    transport.streams = [
        down(),
        [line("ADDED", obj("a", "6")), down()],
        [{"type": "ERROR", "object": {"kind": "Status", "code": 500, "message": "internal"}}],
        [line("ADDED", obj("b", "7"))],
    ]
    sleeps = Sleeps()
    events = watch(transport, PATH, backoff=NO_JITTER, sleep=sleeps)
    got = await take(events, 6)
    await events.aclose()  # type: ignore[attr-defined]
    # SYNCED again each time a watch opens after a failure: the API server answers again.
    assert got == [("SYNCED", ""), ("SYNCED", ""), ("ADDED", "a"), ("SYNCED", ""), ("SYNCED", ""), ("ADDED", "b")]
    # down → 1 s; stream delivered "a" (reset), then broke → 1 s; ERROR 500 → 2 s.
    assert sleeps.delays == [1.0, 1.0, 2.0]
    assert [q["resourceVersion"] for q in transport.stream_queries] == ["5", "5", "6", "6"]
    assert len(transport.requests) == 1


async def test_a_stream_that_closes_at_once_is_not_spun_on() -> None:
    transport = ScriptedTransport()
    transport.responses[PATH] = [listing("5")]
    transport.streams = [[], [], [line("ADDED", obj("a", "6"))]]
    sleeps = Sleeps()
    events = watch(transport, PATH, backoff=NO_JITTER, sleep=sleeps)
    assert (await take(events, 4))[-1] == ("ADDED", "a")
    await events.aclose()  # type: ignore[attr-defined]
    assert sleeps.delays == [1.0, 2.0]


async def test_unexpected_exceptions_do_not_end_the_watch() -> None:
    transport = ScriptedTransport()
    transport.responses[PATH] = [RuntimeError("bug"), listing("5")]
    sleeps = Sleeps()
    events = watch(transport, PATH, backoff=NO_JITTER, sleep=sleeps)
    assert await take(events, 1) == [("SYNCED", "")]
    await events.aclose()  # type: ignore[attr-defined]
    assert sleeps.delays == [1.0]


def test_jitter_stays_within_bounds() -> None:
    backoff = Backoff(base=0.5, factor=2.0, cap=30.0, jitter=0.2)
    assert backoff.delay(0, rand=lambda: 0.0) == 0.4
    assert backoff.delay(0, rand=lambda: 1.0) == 0.6
    assert backoff.delay(100, rand=lambda: 0.5) == 30.0
