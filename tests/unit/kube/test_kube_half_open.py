"""Half-open connections: the peer stops answering on the connections already open while new ones
work. Calls and watches must give up on them within their bounds and carry on over fresh ones."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from faultproxy import FaultProxy
from kube_support import FakeApiServer, Seen, listing, obj

from certcsi.errors import KubernetesError
from certcsi.kube import Kube
from certcsi.kube._http import HttpTransport, keepalive_socket
from certcsi.kube._ratelimit import RateLimiter
from certcsi.kube.config import load_access

REQUEST_TIMEOUT = 1.0
WATCH_TIMEOUT = 2  # seconds the watch asks for; silent for 3 s means dead
# What the bounds above are measured against: left to itself, the kernel gives up on a silent peer only
# after TCP_USER_TIMEOUT (30 s). Giving up well before that is the behaviour; the margin is for a loaded machine.
KERNEL_GIVES_UP = 30.0
GAVE_UP_ITSELF = 15.0


@dataclass
class EventLog:
    """What the fake API server streams: every event after the watch's resourceVersion, then new ones."""

    events: list[dict[str, object]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, name: str) -> None:
        version = str(11 + len(self.events))
        self.events.append({"type": "ADDED", "object": obj(name, version)})
        self.changed.set()
        self.changed = asyncio.Event()

    async def handler(self, request: web.Request, seen: Seen) -> web.StreamResponse:
        if "watch" not in seen.query:
            if seen.query.get("slow"):
                await asyncio.sleep(0.2)
            return web.json_response(listing("10"))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        sent = int(seen.query["resourceVersion"]) - 10
        deadline = time.monotonic() + int(seen.query["timeoutSeconds"])
        while time.monotonic() < deadline:
            for event in self.events[sent:]:
                await response.write(json.dumps(event).encode() + b"\n")
            sent = len(self.events)
            changed = self.changed
            try:
                await asyncio.wait_for(changed.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        return response


@pytest.fixture
async def proxied(api_server: FakeApiServer, tmp_path: Path) -> AsyncIterator[tuple[Kube, FaultProxy, EventLog]]:
    log = EventLog()
    api_server.handler = log.handler
    upstream_port = int(api_server.url.rsplit(":", 1)[1])
    async with FaultProxy(upstream_port=upstream_port) as proxy:
        kubeconfig = api_server.write_kubeconfig(tmp_path / "kubeconfig")
        config = json.loads(kubeconfig.read_text())
        config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{proxy.port}"
        kubeconfig.write_text(json.dumps(config))
        transport = HttpTransport(
            load_access(kubeconfig=str(kubeconfig)),
            limiter=RateLimiter(qps=0, burst=1),
            user_agent="half-open-test",
            request_timeout=REQUEST_TIMEOUT,
        )
        async with Kube(transport, watch_timeout=lambda: WATCH_TIMEOUT) as kube:
            yield kube, proxy, log


async def test_after_a_call_times_out_the_next_ones_use_fresh_connections(
    proxied: tuple[Kube, FaultProxy, EventLog],
) -> None:
    kube, proxy, _ = proxied
    path = "/api/v1/namespaces/x/configmaps"
    # Three calls at once leave three idle connections in the pool.
    await asyncio.gather(*(kube._transport.request("GET", path, query=[("slow", "1")]) for _ in range(3)))
    assert proxy.freeze() == 3
    began = time.monotonic()
    with pytest.raises(KubernetesError) as caught:
        await kube._transport.request("GET", path)
    assert caught.value.status is None
    assert time.monotonic() - began < GAVE_UP_ITSELF < KERNEL_GIVES_UP
    # Not another pooled (frozen) connection: a call over one would fail as the one above did.
    for _ in range(3):
        assert (await kube._transport.request("GET", path))["kind"] == "List"


async def test_a_watch_gone_silent_is_replaced_and_misses_nothing(proxied: tuple[Kube, FaultProxy, EventLog]) -> None:
    kube, proxy, log = proxied
    events = kube.watch_pods("spec.nodeName=n1")
    assert (await anext(events)).type == "SYNCED"
    log.add("before")
    assert (await anext(events)).object["metadata"]["name"] == "before"
    assert proxy.freeze() == 1  # the watch's connection (the list's went back to the pool and idles there)
    log.add("during")
    async with asyncio.timeout(GAVE_UP_ITSELF):
        # SYNCED: the watch reopened on a new connection, then the event sent into the void comes again.
        assert (await anext(events)).type == "SYNCED"
        assert (await anext(events)).object["metadata"]["name"] == "during"
    await events.aclose()  # type: ignore[attr-defined]


def test_sockets_notice_a_vanished_peer_by_themselves() -> None:
    sock = keepalive_socket((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", 0)))
    try:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 15
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 5
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 30_000
    finally:
        sock.close()
