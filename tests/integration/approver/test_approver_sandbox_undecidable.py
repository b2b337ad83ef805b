"""Requests the approver may not decide (annotated, but for an issuer whose `signers` it may not approve
for): each is tried a bounded number of times, logged once, then skipped; real requests stay fast.

The approver's RBAC grants `approve` on the SPIFFE issuer's signer only, so cert-manager's webhook
refuses every Approved/Denied condition it writes on a request for another issuer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

import pytest
from approver_sandbox_support import (
    APP_NAMESPACE,
    POLICY,
    ApproverWorld,
    RunningApprover,
    eventually,
    request_body,
    spiffe_id,
)
from prometheus_client.parser import text_string_to_metric_families

from certcsi.approver.controller import Approver, ControllerOptions
from certcsi.kube import Kube

FLOOD = 60
OTHER_ISSUER = "another-teams-issuer"


class CountingApi:
    """The approver's client, counting the status writes it attempts per request."""

    def __init__(self, kube: Kube) -> None:
        self._kube = kube
        self.writes: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kube, name)

    async def set_condition(self, namespace: str, name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.writes[name] += 1
        written: dict[str, Any] = await self._kube.set_condition(namespace, name, *args, **kwargs)
        return written


def _gauge(approver: Approver, name: str) -> float | None:
    for family in text_string_to_metric_families(approver.metrics.exposition().decode()):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    return None


async def _time_to_approval(world: ApproverWorld, name: str, token: str) -> float:
    started = time.monotonic()
    await world.submit(request_body(name, spiffe_id(APP_NAMESPACE, "alice")), token=token)
    await eventually(lambda: world.decision(name) is not None, timeout=30, interval=0.005)
    elapsed = time.monotonic() - started
    assert world.decision(name)["type"] == "Approved"  # type: ignore[index]
    return elapsed


async def test_undecidable_requests_are_skipped_after_bounded_attempts_and_logged_once(
    world: ApproverWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="certcsi.approver")
    alice = world.account(APP_NAMESPACE, "alice")
    flood = [f"other-{n}" for n in range(FLOOD)]
    for name in flood:
        body = request_body(name, spiffe_id(APP_NAMESPACE, "alice"), issuer=OTHER_ISSUER)
        await world.submit(body, token=alice)
    api = CountingApi(await world.approver_client())
    options = ControllerOptions(workers=8)
    running = RunningApprover.start(Approver(api=api, policy=POLICY, options=options))  # type: ignore[arg-type]
    try:
        await running.approver.wait_synced()
        amid_the_flood = await _time_to_approval(world, "real-1", alice)
        await eventually(lambda: _gauge(running.approver, "certcsi_approver_skipped_requests") == FLOOD, timeout=30)
        attempts = {name: api.writes[name] for name in flood}
        after_the_flood = await _time_to_approval(world, "real-2", alice)
        await asyncio.sleep(1.0)
        tried_again = {name: api.writes[name] - attempts[name] for name in flood if api.writes[name] != attempts[name]}
    finally:
        await running.stop()

    assert tried_again == {}  # a skipped request is left alone (until it changes, or much later)
    assert amid_the_flood < 1.0 and after_the_flood < 1.0
    assert all(attempts[name] == options.max_attempts for name in flood), attempts
    lines = Counter(getattr(record, "request", None) for record in caplog.records)
    assert max(lines[f"{APP_NAMESPACE}/{name}"] for name in flood) == 1, lines
    assert all(world.decision(name) is None for name in flood)  # not decided: still someone else's to decide
