"""wait(): every outcome comes from watch events (no polling), with upstream's messages."""

from __future__ import annotations

import asyncio
import base64

import pytest
from test_issuance_support import CA_PEM, NOW, FakeKube, plan, settle, started, volume

from certcsi.errors import IssuanceDenied, IssuanceFailed, IssuanceTimeout, IssuerUnavailable
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.issuance import Issuance


async def created(kube: FakeKube, **kwargs: object) -> tuple[Issuance, str]:
    issuance = await started(kube, **kwargs)  # type: ignore[arg-type]
    return issuance, await issuance.create(volume(), plan())


async def test_issued_returns_the_chain_the_ca_and_the_leaf_validity() -> None:
    kube = FakeKube()
    issuance, name = await created(kube)
    waiting = asyncio.create_task(issuance.wait("team-a", name))
    await settle()
    assert not waiting.done()
    kube.issue("team-a", name)
    issued = await waiting
    assert issued.request_name == name
    assert issued.certificate_pem.count(b"BEGIN CERTIFICATE") == 2
    assert issued.certificate_pem.endswith(CA_PEM)
    assert issued.ca_pem == CA_PEM
    assert issued.not_before == NOW
    assert (issued.not_after - issued.not_before).total_seconds() == 3600
    await issuance.stop()


async def test_approval_alone_keeps_waiting() -> None:
    kube = FakeKube()
    issuance, name = await created(kube)
    waiting = asyncio.create_task(issuance.wait("team-a", name))
    kube.set_conditions("team-a", name, ("Approved", "True", "policy", "ok"))
    kube.set_conditions("team-a", name, ("Approved", "True", "policy", "ok"), ("Ready", "False", "Pending", "x"))
    await settle()
    assert not waiting.done()
    kube.issue("team-a", name)
    assert (await waiting).request_name == name
    await issuance.stop()


async def test_denied() -> None:
    kube = FakeKube()
    issuance, name = await created(kube)
    waiting = asyncio.create_task(issuance.wait("team-a", name))
    await settle()
    kube.set_conditions("team-a", name, ("Denied", "True", "policy", "SAN not allowed"))
    with pytest.raises(IssuanceDenied) as caught:
        await waiting
    assert str(caught.value) == f'request "{name}" has been denied by the approval plugin: SAN not allowed'
    await issuance.stop()


async def test_failed() -> None:
    kube = FakeKube()
    issuance, name = await created(kube)
    waiting = asyncio.create_task(issuance.wait("team-a", name))
    await settle()
    kube.set_conditions(
        "team-a", name, ("Approved", "True", "ok", ""), ("Ready", "False", "Failed", "issuer not ready")
    )
    with pytest.raises(IssuanceFailed) as caught:
        await waiting
    assert str(caught.value) == f'request "{name}" has failed: issuer not ready'
    await issuance.stop()


async def test_already_terminal_answers_at_once() -> None:
    kube = FakeKube()
    issuance, name = await created(kube)
    kube.set_conditions("team-a", name, ("Denied", "True", "policy", "nope"))
    await settle()
    with pytest.raises(IssuanceDenied):
        await issuance.wait("team-a", name)
    other = await issuance.create(volume("csi-other"), plan())
    kube.issue("team-a", other)
    await settle()
    assert (await issuance.wait("team-a", other)).request_name == other
    await issuance.stop()


async def test_timeout_names_the_last_ready_condition() -> None:
    kube = FakeKube()
    clock = FakeClock()
    issuance, name = await created(kube, clock=clock)
    kube.set_conditions(
        "team-a", name, ("Approved", "True", "ok", ""), ("Ready", "False", "Pending", "Waiting on the CA")
    )
    waiting = asyncio.create_task(issuance.wait("team-a", name))
    await settle()
    clock.advance(59.9)
    await settle()
    assert not waiting.done()
    clock.advance(0.1)
    with pytest.raises(IssuanceTimeout) as caught:
        await waiting
    assert str(caught.value) == (
        f'waiting for request "{name}" timed out after 60s: '
        "last condition Ready=False reason Pending: Waiting on the CA"
    )
    await issuance.stop()


async def test_timeout_without_any_condition() -> None:
    kube = FakeKube()
    clock = FakeClock()
    issuance, name = await created(kube, clock=clock)
    waiting = asyncio.create_task(issuance.wait("team-a", name, timeout=5))
    await settle()
    clock.advance(5)
    with pytest.raises(IssuanceTimeout, match=r"timed out after 5s: no condition set yet \(not yet approved\)"):
        await waiting
    await issuance.stop()


async def test_a_decided_wait_leaves_no_timer_and_no_waiter_behind() -> None:
    kube = FakeKube()
    clock = FakeClock()
    issuance, name = await created(kube, clock=clock)
    waiting = asyncio.create_task(issuance.wait("team-a", name))
    await settle()
    assert clock.pending_timers == 2  # the direct read halfway through, and the deadline
    kube.issue("team-a", name)
    await waiting
    assert clock.pending_timers == 0
    assert issuance._waiters == {}
    await issuance.stop()


async def test_deleted_while_waiting() -> None:
    kube = FakeKube()
    issuance, name = await created(kube)
    waiting = asyncio.create_task(issuance.wait("team-a", name))
    await settle()
    await kube.delete_certificate_request("team-a", name)
    with pytest.raises(IssuanceFailed, match="was deleted while waiting"):
        await waiting
    await issuance.stop()


async def test_unknown_request_fails_fast() -> None:
    issuance = await started(FakeKube())
    with pytest.raises(IssuanceFailed, match='request "nope" does not exist'):
        await issuance.wait("team-a", "nope")
    await issuance.stop()


async def test_issued_with_an_unreadable_certificate_fails() -> None:
    kube = FakeKube()
    issuance, name = await created(kube)
    kube.set_conditions(
        "team-a", name, ("Ready", "True", "Issued", ""), certificate=base64.b64encode(b"not a pem").decode()
    )
    await settle()
    with pytest.raises(IssuanceFailed, match="is Issued but its certificate cannot be read"):
        await issuance.wait("team-a", name)
    await issuance.stop()


async def test_several_waiters_on_one_request_all_resolve() -> None:
    kube = FakeKube()
    issuance, name = await created(kube)
    waiters = [asyncio.create_task(issuance.wait("team-a", name)) for _ in range(3)]
    await settle()
    kube.issue("team-a", name)
    results = await asyncio.gather(*waiters)
    assert {r.request_name for r in results} == {name}
    await issuance.stop()


async def test_stop_releases_waiters_with_unavailable() -> None:
    kube = FakeKube()
    issuance, name = await created(kube)
    waiting = asyncio.create_task(issuance.wait("team-a", name))
    await settle()
    await issuance.stop()
    with pytest.raises(IssuerUnavailable):
        await waiting
