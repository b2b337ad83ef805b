"""The watch cache keeps a request's certificate decoded, once, and hands that very copy to its waiter."""

from __future__ import annotations

import asyncio
import dataclasses

from pytest import MonkeyPatch
from test_issuance_support import CA_PEM, FakeKube, plan, settle, started, volume

from certcsi.pki.certs import Validity, leaf_validity
from certcsi.volumes import issuance as issuance_module
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


async def test_certificates_are_parsed_only_when_a_waiter_needs_one(monkeypatch: MonkeyPatch) -> None:
    # A restarted driver lists every request of its node; it waits on none of them, so parsing their
    # certificates would be work for nothing.
    parsed: list[bytes] = []

    def counting(pem: bytes) -> Validity:
        parsed.append(pem)
        return leaf_validity(pem)

    monkeypatch.setattr(issuance_module, "leaf_validity", counting)
    kube = FakeKube()
    issuance = await started(kube)
    names = [await issuance.create(volume(f"csi-{i}"), plan()) for i in range(3)]
    for name in names:
        kube.issue("team-a", name)
    await settle()
    assert parsed == []
    issued = await issuance.wait("team-a", names[1])
    assert len(parsed) == 1
    assert await issuance.wait("team-a", names[1]) is issued  # parsed once, then kept
    assert len(parsed) == 1
    await issuance.stop()
