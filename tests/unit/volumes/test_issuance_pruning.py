"""At most N requests per volume, the new one included; oldest (creationTimestamp, then name) go first."""

from __future__ import annotations

from typing import Any

from test_issuance_support import FakeKube, plan, settle, started, volume

from certcsi.volumes.issuance import NODE_ID_HASH_LABEL, VOLUME_ID_HASH_LABEL, fnv_hash_label


def existing(name: str, created: str, volume_id: str = "csi-0123") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "team-a",
            "creationTimestamp": created,
            "labels": {
                NODE_ID_HASH_LABEL: fnv_hash_label("test-node"),
                VOLUME_ID_HASH_LABEL: fnv_hash_label(volume_id),
            },
        },
        "spec": {},
    }


def names(kube: FakeKube) -> set[str]:
    return {name for _, name in kube.objects}


async def test_default_keeps_only_the_new_request() -> None:
    kube = FakeKube()
    issuance = await started(kube)
    first = await issuance.create(volume(), plan())
    second = await issuance.create(volume(), plan())
    third = await issuance.create(volume(), plan())
    assert names(kube) == {third}
    assert [name for _, name in kube.deleted] == [first, second]
    await issuance.stop()


async def test_keeps_n_including_the_new_one() -> None:
    kube = FakeKube()
    issuance = await started(kube, max_requests_per_volume=3)
    created = [await issuance.create(volume(), plan()) for _ in range(5)]
    assert names(kube) == set(created[-3:])
    assert [name for _, name in kube.deleted] == created[:2]
    await issuance.stop()


async def test_oldest_by_creation_time_then_name() -> None:
    kube = FakeKube()
    kube.preload(existing("zz-old", "2024-01-01T00:00:00Z"))
    kube.preload(existing("b-same", "2024-06-01T00:00:00Z"))
    kube.preload(existing("a-same", "2024-06-01T00:00:00Z"))
    kube.preload(existing("c-new", "2024-12-01T00:00:00Z"))
    issuance = await started(kube, max_requests_per_volume=2)
    await issuance.create(volume(), plan())
    assert [name for _, name in kube.deleted] == ["zz-old", "a-same", "b-same"]
    assert "c-new" in names(kube)
    await issuance.stop()


async def test_other_volumes_are_untouched() -> None:
    kube = FakeKube()
    kube.preload(existing("other", "2024-01-01T00:00:00Z", volume_id="csi-other"))
    issuance = await started(kube)
    await issuance.create(volume(), plan())
    assert "other" in names(kube)
    assert kube.deleted == []
    await issuance.stop()


async def test_a_failed_delete_does_not_block_issuance_and_is_retried_next_time() -> None:
    kube = FakeKube()
    issuance = await started(kube)
    stuck = await issuance.create(volume(), plan())
    kube.fail_delete.add(stuck)
    second = await issuance.create(volume(), plan())
    assert names(kube) == {stuck, second}
    kube.fail_delete.clear()
    third = await issuance.create(volume(), plan())
    assert names(kube) == {third}
    await issuance.stop()


async def test_cleanup_deletes_every_request_of_the_volume() -> None:
    kube = FakeKube()
    kube.preload(existing("other", "2024-01-01T00:00:00Z", volume_id="csi-other"))
    issuance = await started(kube, max_requests_per_volume=3)
    for _ in range(3):
        await issuance.create(volume(), plan())
    await issuance.cleanup(volume())
    await settle()
    assert names(kube) == {"other"}
    assert issuance.requests_of(volume()) == []
    await issuance.stop()


async def test_cleanup_is_best_effort() -> None:
    kube = FakeKube()
    issuance = await started(kube)
    name = await issuance.create(volume(), plan())
    kube.fail_delete.add(name)
    await issuance.cleanup(volume())  # no exception
    assert names(kube) == {name}
    await issuance.stop()
