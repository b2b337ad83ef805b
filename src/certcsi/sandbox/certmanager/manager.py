"""The cert-manager stand-in as one object: admission, the CA issuer and (optionally) the default approver."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager.admission import CertificateRequestAdmission, SignerAuthorizer
from certcsi.sandbox.certmanager.approver import DefaultApprover
from certcsi.sandbox.certmanager.issuer import CAIssuer, Sleep


class CertManager:
    """Registers CertificateRequest admission on `store` at construction; `start()` runs the controllers.

    `approve=False` leaves approval to another approver (SPIFFE). `signing_delay` (seconds) holds each
    signing back without holding anything else up. `can_approve(user, signer_names)`, when given, is
    asked before a user (not an in-process write) adds an Approved or Denied condition.
    """

    def __init__(
        self,
        store: Store,
        *,
        approve: bool = True,
        signing_delay: float = 0.0,
        cluster_resource_namespace: str = "cert-manager",
        can_approve: SignerAuthorizer | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store = store
        self.cluster_resource_namespace = cluster_resource_namespace
        self.admission = CertificateRequestAdmission(can_approve=can_approve)
        self.issuer = CAIssuer(
            store,
            cluster_resource_namespace=cluster_resource_namespace,
            signing_delay=signing_delay,
            clock=clock,
            sleep=sleep,
        )
        self.approver = DefaultApprover(store, clock=clock) if approve else None
        if self.approver is not None:
            self.approver.on_approved = self.issuer.request_changed
        self.register_admission()

    def register_admission(self) -> None:
        """Add the admission plugin to the store once (idempotent)."""
        if self.admission not in self.store.admission:
            self.store.admission.append(self.admission)

    def start(self) -> None:
        """Start the controllers; must be called with an event loop running."""
        self.issuer.start()
        if self.approver is not None:
            self.approver.start()

    async def stop(self) -> None:
        if self.approver is not None:
            await self.approver.stop()
        await self.issuer.stop()
