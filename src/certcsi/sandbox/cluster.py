"""Wires the sandbox together: store, API server, scheduler, cert-manager stand-in, CA ClusterIssuer, kubeconfig."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from certcsi.sandbox.apiserver.authn import TokenAuthority
from certcsi.sandbox.apiserver.controllers import NamespaceDefaults
from certcsi.sandbox.apiserver.rbac import Authorizer, RequestAttributes
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.server import ApiServer
from certcsi.sandbox.apiserver.storage import Store, StoreReader
from certcsi.sandbox.certmanager import CertManager, install_ca_cluster_issuer
from certcsi.sandbox.scheduling import Scheduler

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "cert-manager")
CA_ISSUER = "sandbox-ca"


class Sandbox:
    """A stand-in cluster on loopback; everything lives in memory and dies with `stop()`."""

    def __init__(
        self,
        *,
        port: int = 0,
        approve: bool = True,
        signing_delay: float = 0.0,
        bookmark_interval: float | None = None,
    ) -> None:
        self.store = Store()
        reader = StoreReader(self.store)
        self.authority = TokenAuthority(reader=reader)
        server_options: dict[str, Any] = {}
        if bookmark_interval is not None:
            server_options["bookmark_interval"] = bookmark_interval
        self.authorizer = Authorizer(reader)
        self.api = ApiServer(
            store=self.store,
            authority=self.authority,
            authorizer=self.authorizer,
            port=port,
            **server_options,
        )
        self.cert_manager = CertManager(
            self.store, approve=approve, signing_delay=signing_delay, can_approve=self._can_approve
        )
        self.scheduler = Scheduler(self.store)
        self._controllers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        namespaces = BY_KEY["/namespaces"]
        for name in SYSTEM_NAMESPACES:
            if self.store.find(namespaces, None, name) is None:
                self.store.create(namespaces, {"metadata": {"name": name}})
        install_ca_cluster_issuer(self.store, name=CA_ISSUER)
        defaults = NamespaceDefaults(self.store, ca_pem=self.api.ca_pem)
        self._controllers.append(asyncio.create_task(defaults.run(), name="namespace-defaults"))
        self.cert_manager.start()
        self.scheduler.start()
        await self.api.start()
        log.info("sandbox api server listening", extra={"url": self.url})

    async def stop(self) -> None:
        await self.api.stop()
        await self.cert_manager.stop()
        await self.scheduler.stop()
        for task in self._controllers:
            task.cancel()
        await asyncio.gather(*self._controllers, return_exceptions=True)

    def _can_approve(self, user: Any, signer_names: Sequence[str]) -> bool:
        """cert-manager's webhook rule: setting Approved/Denied needs `approve` on the issuer's `signers`."""
        return any(
            self.authorizer.authorize(
                user, RequestAttributes("approve", "cert-manager.io", "signers", name=name)
            ).allowed
            for name in signer_names
        )

    @property
    def url(self) -> str:
        return str(self.api.url)

    def write_kubeconfig(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.api.write_kubeconfig(path)

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
