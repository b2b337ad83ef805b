"""The watch over real HTTP: streamed JSON lines, the query kube-apiserver expects, 410 on connect."""

from __future__ import annotations

import json

from aiohttp import web
from kube_support import FakeApiServer, Seen, listing, obj, status

from certcsi.kube import Kube


async def stream_lines(request: web.Request, *lines: dict[str, object]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    for item in lines:
        await response.write(json.dumps(item).encode() + b"\n")
    await response.write_eof()
    return response


async def test_streamed_events_arrive_as_dicts(api_server: FakeApiServer, kube: Kube) -> None:
    async def handler(request: web.Request, seen: Seen) -> web.StreamResponse:
        if "watch" not in seen.query:
            return web.json_response(listing("10", obj("a", "9")))
        if seen.query["resourceVersion"] == "10":
            big = obj("b", "11")
            big["spec"] = {"request": "x" * 200_000}  # bigger than one read chunk
            return await stream_lines(
                request, {"type": "ADDED", "object": big}, {"type": "MODIFIED", "object": obj("a", "12")}
            )
        return status(410, "Expired", "too old resource version")

    api_server.handler = handler
    got = []
    async for kind, o in kube.watch_certificate_requests("k=v"):
        got.append((kind, o["metadata"]["name"] if o else ""))
        if len(got) == 4:
            break
    assert got == [("ADDED", "a"), ("SYNCED", ""), ("ADDED", "b"), ("MODIFIED", "a")]
    watch_call = api_server.seen[1]
    assert watch_call.path == "/apis/cert-manager.io/v1/certificaterequests"
    assert watch_call.query["watch"] == "true"
    assert watch_call.query["labelSelector"] == "k=v"
    assert watch_call.query["allowWatchBookmarks"] == "true"
    assert 30 <= int(watch_call.query["timeoutSeconds"]) <= 45


async def test_410_when_connecting_relists(api_server: FakeApiServer, kube: Kube) -> None:
    lists = 0

    async def handler(request: web.Request, seen: Seen) -> web.StreamResponse:
        nonlocal lists
        if "watch" not in seen.query:
            lists += 1
            return web.json_response(listing(str(lists * 10), obj(f"v{lists}", "1")))
        if seen.query["resourceVersion"] == "10":
            return status(410, "Expired", "too old resource version: 10 (40)")
        return await stream_lines(request, {"type": "ADDED", "object": obj("late", "21")})

    api_server.handler = handler
    got = []
    async for kind, o in kube.watch_pods("spec.nodeName=n1"):
        got.append((kind, o["metadata"]["name"] if o else ""))
        if kind == "ADDED" and o["metadata"]["name"] == "late":
            break
    assert lists == 2
    assert got == [
        ("ADDED", "v1"),
        ("SYNCED", ""),
        ("ADDED", "v2"),
        ("DELETED", "v1"),
        ("SYNCED", ""),
        ("ADDED", "late"),
    ]
    assert api_server.seen[0].query == {"fieldSelector": "spec.nodeName=n1"}
