"""The watch cache keeps a request's certificate decoded, once, and hands that very copy to its waiter."""

from __future__ import annotations

import asyncio
import dataclasses

from test_issuance_support import CA_PEM, FakeKube, plan, settle, started, volume

from certcsi.volumes.issuance import Issuance, RequestState


def only_state(issuance: Issuance) -> RequestState:
    (state,) = issuance.requests_of(volume())
    return state


async def test_the_waiter_and_the_cache_share_one_decoded_certificate() -> None:
    kube = FakeKube()
    issuance = await started(kube)
    name = await issuance.create(volume(), plan())
    waiting = asyncio.create_task(issuance.wait("team-a", name))
    await settle()
    kube.issue("team-a", name)
    issued = await waiting
    state = only_state(issuance)
    assert state.issued is issued
    assert issued.ca_pem == CA_PEM
    # Nothing else in the cache holds the certificate again, e.g. as the API's base64 text.
    texts = [value for value in dataclasses.astuple(state) if isinstance(value, str)]
    assert all(len(text) < 100 for text in texts), texts
    await issuance.stop()


async def test_a_request_issued_before_anyone_waits_is_decoded_on_arrival() -> None:
    kube = FakeKube()
    issuance = await started(kube)
    name = await issuance.create(volume(), plan())
    kube.issue("team-a", name)
    await settle()
    state = only_state(issuance)
    assert state.issued is not None and state.unreadable is None
    assert await issuance.wait("team-a", name) is state.issued
    await issuance.stop()


async def test_a_pending_request_holds_no_certificate() -> None:
    kube = FakeKube()
    issuance = await started(kube)
    await issuance.create(volume(), plan())
    await settle()
    state = only_state(issuance)
    assert (state.issued, state.unreadable) == (None, None)
    await issuance.stop()
