"""Small HTTP servers for probes and metrics, shared by the node drivers and the approver.

Addresses are written as upstream's flags take them: `host:port`, `[v6]:port`, or `:port` for every
interface; `0` (upstream's convention for the metrics flag) or an empty value turns a server off.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web

log = logging.getLogger(__name__)

__all__ = ["BindAddress", "Exposition", "Handler", "HttpEndpoint", "metrics_handler", "parse_bind_address", "probe"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class BindAddress:
    """Where to listen; `host` None means every interface (IPv4 and IPv6), as Go's ":port"."""

    host: str | None
    port: int

    def __str__(self) -> str:
        host = self.host or ""
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"


def parse_bind_address(text: str, *, flag: str) -> BindAddress | None:
    """`text` as a listen address, None when it disables the server; ValueError naming `flag`."""
    value = text.strip()
    if value in ("", "0"):
        return None
    host, sep, port_text = value.rpartition(":")
    if not sep:
        raise ValueError(f"{flag}: want host:port or :port (or 0 to disable), got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{flag}: an IPv6 host must be written in brackets, [::1]:port, got {text!r}")
    if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        raise ValueError(f"{flag}: port must be a number from 0 to 65535, got {port_text!r}")
    return BindAddress(host=host or None, port=int(port_text))


class HttpEndpoint:
    """A tiny aiohttp server answering GET on a few fixed paths."""

    def __init__(self, *, name: str, address: BindAddress, routes: Mapping[str, Handler]) -> None:
        self.name = name
        self.address = address
        app = web.Application()
        for path, handler in routes.items():
            app.router.add_get(path, handler)
        self._runner = web.AppRunner(app, access_log=None)
        self._started = False

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, host=self.address.host, port=self.address.port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            raise
        self._started = True
        log.info("serving", extra={"endpoint": self.name, "address": str(self.address), "port": self.port})

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        for address in self._runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                return int(address[1])
        raise RuntimeError(f"{self.name}: not listening")

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await self._runner.cleanup()


def probe(check: Callable[[], bool], *, failing: str) -> Handler:
    """A handler answering 200 "ok" while `check()` holds, else 503 with `failing` as the body."""

    async def handle(_: web.Request) -> web.Response:
        if check():
            return web.Response(text="ok")
        return web.Response(status=503, text=failing)

    return handle


# The metrics' text for the series named (all when none), in chunks to be sent one after the other.
Exposition = Callable[[frozenset[str]], Awaitable[Sequence[bytes]]]


def metrics_handler(exposition: Exposition, content_type: str) -> Handler:
    """/metrics; `?name[]=<series>` (repeatable) serves those series alone, as prometheus_client's own
    server does: a look at one gauge need not pay for every volume's series. The answer is written a
    chunk at a time (with its Content-Length), so a large one never holds the event loop while copied."""

    async def handle(request: web.Request) -> web.StreamResponse:
        names = frozenset(request.query.getall("name[]", ()))
        chunks = await exposition(names)
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.content_length = sum(len(chunk) for chunk in chunks)
        await response.prepare(request)
        if request.method == "HEAD":
            return response  # the headers alone
        try:
            for chunk in chunks:
                await response.write(chunk)
            await response.write_eof()
        except ConnectionError:
            log.debug("metrics scraper went away before the whole answer was sent", extra={"endpoint": request.path})
        return response

    return handle
