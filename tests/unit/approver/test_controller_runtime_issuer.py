"""--auto-approve-non-spiffe follows the runtime issuer ConfigMap, like the driver does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from approver_support import POLICY, SPIFFE_ISSUER
from controller_support import FakeApprovalApi

from certcsi.approver.controller import Approver
from certcsi.approver.running import follow_runtime_issuer
from certcsi.drivers.spiffe.issuer import RuntimeIssuer
from certcsi.kube.watching import WatchEvent
from certcsi.volumes.driver import IssuerRef

DATA = {"issuer-name": "runtime-ca", "issuer-kind": "Issuer", "issuer-group": "example.io"}


async def _events(*events: WatchEvent) -> AsyncIterator[WatchEvent]:
    for event in events:
        yield event
        await asyncio.sleep(0)


async def _follow(*events: WatchEvent) -> list[IssuerRef | None]:
    approver = Approver(api=FakeApprovalApi(), policy=POLICY)
    seen: list[IssuerRef | None] = []
    original = approver.set_issuer

    def record(issuer: IssuerRef | None) -> None:
        original(issuer)
        seen.append(approver.policy.issuer_ref)

    approver.set_issuer = record  # type: ignore[method-assign]
    runtime = RuntimeIssuer(SPIFFE_ISSUER, configmap=("cert-manager", "spiffe-issuer"))
    await follow_runtime_issuer(events=_events(*events), runtime=runtime, approver=approver)
    return seen


async def test_the_configmaps_issuer_replaces_the_flags_and_deleting_it_restores_them() -> None:
    seen = await _follow(
        WatchEvent("ADDED", {"data": DATA}),
        WatchEvent("SYNCED", {}),
        WatchEvent("DELETED", {"metadata": {"name": "spiffe-issuer"}}),
    )
    assert seen == [IssuerRef("runtime-ca", "Issuer", "example.io"), SPIFFE_ISSUER]


async def test_an_invalid_configmap_keeps_the_previous_issuer() -> None:
    seen = await _follow(
        WatchEvent("ADDED", {"data": DATA}),
        WatchEvent("MODIFIED", {"data": {"issuer-name": "half-configured"}}),
    )
    assert seen == [IssuerRef("runtime-ca", "Issuer", "example.io")] * 2
