"""cert-manager's built-in approver: every request not yet Approved, Denied, Issued or Failed is approved.

SPIFFE setups switch it off (`CertManager(approve=False)`) so that only their own approver decides,
or leave their issuer out of its signers (`skip_signers`, cert-manager's `--approve-signers` without it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from certcsi.sandbox.apiserver.resources import BY_KEY, CERT_MANAGER
from certcsi.sandbox.apiserver.storage import Store, Watch, now_rfc3339
from certcsi.sandbox.certmanager import conditions as cond
from certcsi.sandbox.certmanager.admission import signer_names
from certcsi.sandbox.certmanager.watching import key_of, run_watch, write_status

log = logging.getLogger(__name__)

REQUESTS = BY_KEY[f"{CERT_MANAGER}/certificaterequests"]

Obj = dict[str, Any]


def needs_approval(cr: Obj) -> bool:
    conditions = cond.conditions_of(cr)
    if cond.find(conditions, cond.APPROVED) or cond.find(conditions, cond.DENIED):
        return False
    return cond.ready_reason(cr) not in (cond.FAILED, cond.ISSUED)


class DefaultApprover:
    """Approves with reason `cert-manager.io`; `start()` inside a running loop, `await stop()` to end it."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._watch: Watch | None = None
        self._task: asyncio.Task[None] | None = None
        # Signer names (`clusterissuers.cert-manager.io/<name>`) whose requests are left to another approver.
        self.skip_signers: set[str] = set()
        # Called with each request just approved (as stored), in the same turn: the CA issuer signs it
        # there and then, rather than after its own watch wakes up for the approval.
        self.on_approved: Callable[[Obj], None] | None = None

    def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the approver is already running")
        self._watch = self._store.watch(REQUESTS, None, since=None)
        self._task = asyncio.create_task(run_watch(self._watch, self._on_request, log=log), name="certmanager-approver")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._watch, self._task = None, None

    def _on_request(self, event_type: str, obj: Obj) -> None:
        if event_type == "DELETED":
            return
        namespace, name = key_of(obj)
        current = self._store.find(REQUESTS, namespace, name)
        if current is None or not needs_approval(current):
            return
        issuer_ref = (current.get("spec") or {}).get("issuerRef") or {}
        if self.skip_signers.intersection(signer_names(issuer_ref, namespace)[1:]):
            return

        def approve(status: Obj) -> None:
            cond.set_condition(
                status,
                type_=cond.APPROVED,
                status_value=cond.TRUE,
                reason=cond.APPROVER_REASON,
                message=cond.APPROVED_MESSAGE,
                now=now_rfc3339(self._clock),
            )

        approved = write_status(self._store, REQUESTS, current, approve, log=log)
        if approved is not None and self.on_approved is not None:
            self.on_approved(approved)
