"""A running sandbox API server for integration tests, with kubernetes-asyncio clients and a raw
HTTPS session for the requests a generated client cannot make (wrong content types, bad JSON)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config

from certcsi.sandbox.apiserver.authn import TokenAuthority
from certcsi.sandbox.apiserver.controllers import NamespaceDefaults
from certcsi.sandbox.apiserver.rbac import Authorizer
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.server import ApiServer
from certcsi.sandbox.apiserver.storage import Store, StoreReader

NAMESPACES = ("default", "other")
KUBECTL = "/usr/bin/kubectl"


@dataclass(frozen=True)
class Kubectl:
    """What one kubectl run printed and how it exited."""

    code: int
    out: str
    err: str

    def ok(self) -> str:
        assert self.code == 0, f"kubectl failed ({self.code}): {self.err}"
        return self.out


CM_GROUP, CM_VERSION = "cert-manager.io", "v1"


@dataclass
class Cluster:
    """The server, its store, and helpers that build clients for it."""

    server: ApiServer
    store: Store
    kubeconfig: Path
    raw: aiohttp.ClientSession
    _clients: list[client.ApiClient] = field(default_factory=list)

    @property
    def admin_token(self) -> str:
        return self.server.authority.admin_token

    async def client(self, token: str | None = None) -> client.ApiClient:
        """A kubernetes-asyncio ApiClient; the admin's from the written kubeconfig unless `token`."""
        configuration = client.Configuration()
        if token is None:
            await config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=configuration)
        else:
            await config.load_kube_config_from_dict(
                config_dict=self.server.kubeconfig(token), client_configuration=configuration
            )
        api = client.ApiClient(configuration)
        self._clients.append(api)
        return api

    def url(self, path: str) -> str:
        return self.server.url + path

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin_token}", **extra}

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str | None = "application/json",
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """A raw request as admin (or `token`); returns the status and the decoded JSON body."""
        all_headers = self.headers(token) if headers is None else headers
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        skip = ("Content-Type",) if content_type is None else ()
        async with self.raw.request(
            method, self.url(path), data=body, headers=all_headers, skip_auto_headers=skip
        ) as response:
            text = await response.read()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    async def kubectl(self, *args: str, stdin: str | None = None, token: str | None = None) -> Kubectl:
        """Run kubectl (the machine's, /usr/bin/kubectl) against this server; the loop keeps serving meanwhile."""
        config = self.kubeconfig
        if token is not None:
            config = self.kubeconfig.with_name(f"kubeconfig-{abs(hash(token))}")
            self.server.write_kubeconfig(config, user_token=token)
        env = {"KUBECONFIG": str(config), "HOME": str(self.kubeconfig.parent), "PATH": "/usr/bin:/bin"}
        process = await asyncio.create_subprocess_exec(
            KUBECTL,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else None), timeout=60)
        assert process.returncode is not None
        return Kubectl(process.returncode, out.decode(), err.decode())

    def namespace(self, name: str) -> None:
        """Create namespace `name` (with its default ServiceAccount) unless it exists."""
        if self.store.find(BY_KEY["/namespaces"], None, name) is None:
            self.store.create(BY_KEY["/namespaces"], {"metadata": {"name": name}})
        NamespaceDefaults(self.store, ca_pem=self.server.ca_pem).sync(name)


@contextlib.asynccontextmanager
async def running_cluster(
    directory: Path,
    *,
    store: Store | None = None,
    clock: Callable[[], float] | None = None,
    bookmark_interval: float = 0.05,
    call_later: Any = None,
) -> AsyncIterator[Cluster]:
    store = store if store is not None else Store()
    reader = StoreReader(store)
    authority = TokenAuthority(reader=reader, **({"clock": clock} if clock is not None else {}))
    server = ApiServer(
        store=store,
        authority=authority,
        authorizer=Authorizer(reader),
        bookmark_interval=bookmark_interval,
        call_later=call_later,
    )
    await server.start()
    path = directory / "kubeconfig"
    server.write_kubeconfig(path)
    tls = ssl.create_default_context(cadata=server.ca_pem.decode())
    raw = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls))
    cluster = Cluster(server=server, store=store, kubeconfig=path, raw=raw)
    for name in NAMESPACES:
        cluster.namespace(name)
    # kube-controller-manager's part: namespaces created through the API get their defaults too.
    defaults = asyncio.create_task(NamespaceDefaults(store, ca_pem=server.ca_pem).run())
    try:
        yield cluster
    finally:
        defaults.cancel()
        for api in cluster._clients:
            await api.close()
        await raw.close()
        await server.stop()


async def eventually(check: Callable[[], bool], *, timeout: float = 2.0) -> None:
    """Wait (yielding to the loop) until `check()` holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def certificate_request(name: str, **spec: Any) -> dict[str, Any]:
    """A CertificateRequest body (the sandbox stores it as given: no cert-manager admission here)."""
    return {
        "apiVersion": f"{CM_GROUP}/{CM_VERSION}",
        "kind": "CertificateRequest",
        "metadata": {"name": name},
        "spec": {"request": "LS0tLS1CRUdJTi0tLS0t", "issuerRef": {"name": "ca", "kind": "ClusterIssuer"}, **spec},
    }
