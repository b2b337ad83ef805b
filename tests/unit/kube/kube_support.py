"""Test doubles for certcsi.kube: a real HTTP server on loopback, and a scripted Transport."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from certcsi.pki.signing import create_ca, issue_serving_certificate

Obj = dict[str, Any]
ADMIN_TOKEN = "admin-static-token-0123456789"


@dataclass
class Seen:
    method: str
    path: str
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    client_certificate: bool = False


Handler = Callable[[web.Request, Seen], Awaitable[web.StreamResponse]]


def status(code: int, reason: str, message: str) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return web.json_response(body, status=code)


class FakeApiServer:
    """Answers every request with `handler` (settable per test) and records what it saw.

    With `client_ca_pem` it serves HTTPS and asks for (without requiring) a client certificate
    signed by that CA, recording whether one was presented.
    """

    def __init__(self, *, client_ca_pem: bytes | None = None) -> None:
        self.seen: list[Seen] = []
        self.handler: Handler = self._default
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.ca_pem = b""
        self._ssl: ssl.SSLContext | None = None
        if client_ca_pem is not None:
            self._ssl = self._server_context(client_ca_pem)

    def _server_context(self, client_ca_pem: bytes) -> ssl.SSLContext:
        ca_key, ca_cert = create_ca(common_name="fake-apiserver-ca")
        key, cert = issue_serving_certificate(
            ca_key=ca_key, ca_cert=ca_cert, hosts=["127.0.0.1"], duration=timedelta(hours=1)
        )
        self.ca_pem = ca_cert.public_bytes(Encoding.PEM)
        directory = Path(tempfile.mkdtemp(prefix="fake-apiserver-"))
        (directory / "tls.crt").write_bytes(cert.public_bytes(Encoding.PEM))
        (directory / "tls.key").write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(directory / "tls.crt", directory / "tls.key")
        context.load_verify_locations(cadata=client_ca_pem.decode())
        context.verify_mode = ssl.CERT_OPTIONAL
        for name in ("tls.crt", "tls.key"):
            (directory / name).unlink()
        directory.rmdir()
        return context

    @staticmethod
    async def _default(request: web.Request, seen: Seen) -> web.StreamResponse:
        return web.json_response({"kind": "Whatever", "metadata": {"name": "x"}})

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        seen = Seen(
            method=request.method,
            path=request.path,
            raw_path=request.raw_path.split("?", 1)[0],
            query=dict(request.query),
            headers=dict(request.headers),
            body=json.loads(raw) if raw else None,
            client_certificate=bool(request.transport and request.transport.get_extra_info("peercert")),
        )
        self.seen.append(seen)
        return await self.handler(request, seen)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"{'https' if self._ssl else 'http'}://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def write_kubeconfig(self, path: Path, token: str = ADMIN_TOKEN, *, user: dict[str, str] | None = None) -> Path:
        cluster: dict[str, str] = {"server": self.url}
        if self.ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": cluster}],
            "users": [{"name": "admin", "user": user or {"token": token}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "admin"}}],
            "current-context": "fake",
        }
        path.write_text(json.dumps(config))
        return path


Script = list[Obj | BaseException]


class ScriptedTransport:
    """A Transport whose answers the test writes down in advance.

    `responses[path]` is a list of answers (dict or exception) consumed per GET/POST/... of that
    path; `streams` is a list of watch scripts consumed one per watch call, each a list of lines
    (dicts) or an exception raised at that point. Once the scripts run out, a watch blocks.
    """

    def __init__(self) -> None:
        self.responses: dict[str, list[Obj | BaseException]] = {}
        self.requests: list[tuple[str, str, list[tuple[str, str]], Any, str]] = []
        self.streams: list[Script | BaseException] = []
        self.stream_queries: list[dict[str, str]] = []

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Any = (),
        body: Any = None,
        content_type: str = "application/json",
        token: str | None = None,
    ) -> Obj:
        self.requests.append((method, path, list(query), body, content_type))
        answers = self.responses.get(f"{method} {path}") or self.responses.get(path) or []
        if not answers:
            return {}
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    @asynccontextmanager
    async def stream(self, path: str, *, query: Any, timeout_seconds: int) -> AsyncIterator[AsyncIterator[Obj]]:
        self.stream_queries.append(dict(query))
        if not self.streams:
            await asyncio.Event().wait()
        script = self.streams.pop(0)
        if isinstance(script, BaseException):
            raise script

        async def lines() -> AsyncIterator[Obj]:
            for item in script:
                if isinstance(item, BaseException):
                    raise item
                yield item

        yield lines()


def obj(name: str, version: str, namespace: str = "ns") -> Obj:
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": version}}


def listing(version: str, *items: Obj) -> Obj:
    return {"kind": "List", "metadata": {"resourceVersion": version}, "items": list(items)}


def line(kind: str, o: Obj) -> Obj:
    return {"type": kind, "object": o}


@dataclass
class Sleeps:
    """An injected sleep that records delays and returns at once."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)
