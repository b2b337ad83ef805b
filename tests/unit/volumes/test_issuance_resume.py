"""pending(): the newest undecided request of a volume, so the engine resumes instead of re-creating."""

from __future__ import annotations

import pytest
from test_issuance_support import FakeKube, plan, settle, started, volume

from certcsi.errors import NotReady
from certcsi.volumes.issuance import Issuance


async def test_a_fresh_request_is_pending() -> None:
    kube = FakeKube()
    issuance = await started(kube, max_requests_per_volume=2)
    await issuance.create(volume(), plan())
    newest = await issuance.create(volume(), plan())
    assert issuance.pending(volume()) == newest
    await issuance.stop()


async def test_unknown_volume_has_nothing_pending() -> None:
    issuance = await started(FakeKube())
    assert issuance.pending(volume("csi-nothing")) is None
    await issuance.stop()


async def test_approved_but_unsigned_is_still_pending() -> None:
    kube = FakeKube()
    issuance = await started(kube)
    name = await issuance.create(volume(), plan())
    kube.set_conditions("team-a", name, ("Approved", "True", "ok", ""), ("Ready", "False", "Pending", "signing"))
    await settle()
    assert issuance.pending(volume()) == name
    await issuance.stop()


async def test_terminal_requests_are_not_pending() -> None:
    for conditions in (
        [("Denied", "True", "policy", "no"), ("Ready", "False", "Denied", "no")],
        [("Approved", "True", "ok", ""), ("Ready", "False", "Failed", "boom")],
    ):
        kube = FakeKube()
        issuance = await started(kube)
        name = await issuance.create(volume(), plan())
        kube.set_conditions("team-a", name, *conditions)
        await settle()
        assert issuance.pending(volume()) is None, conditions
        await issuance.stop()


async def test_issued_is_not_pending() -> None:
    kube = FakeKube()
    issuance = await started(kube)
    name = await issuance.create(volume(), plan())
    kube.issue("team-a", name)
    await settle()
    assert issuance.pending(volume()) is None
    await issuance.stop()


async def test_only_the_newest_counts() -> None:
    kube = FakeKube()
    issuance = await started(kube, max_requests_per_volume=2)
    older = await issuance.create(volume(), plan())
    newer = await issuance.create(volume(), plan())
    kube.issue("team-a", newer)
    await settle()
    # The older one is still undecided, but a newer request superseded it.
    assert older in {n for _, n in kube.objects}
    assert issuance.pending(volume()) is None
    await issuance.stop()


async def test_a_restarted_issuance_sees_requests_from_before() -> None:
    kube = FakeKube()
    first = await started(kube)
    name = await first.create(volume(), plan())
    await first.stop()
    second = await started(kube)
    assert second.pending(volume()) == name
    await second.stop()


async def test_resumed_wait_completes_from_the_watch() -> None:
    kube = FakeKube()
    issuance = await started(kube)
    await issuance.create(volume(), plan())
    name = issuance.pending(volume())
    assert name is not None
    kube.issue("team-a", name)
    issued = await issuance.wait("team-a", name)
    assert issued.request_name == name
    await issuance.stop()


async def test_not_ready_until_the_first_list_completes() -> None:
    kube = FakeKube()
    issuance = Issuance(kube=kube, node_id="test-node")
    with pytest.raises(NotReady, match="not yet listed"):
        issuance.pending(volume())
    await issuance.start(wait_synced=False)
    await settle()
    assert issuance.pending(volume()) is None
    await issuance.stop()
