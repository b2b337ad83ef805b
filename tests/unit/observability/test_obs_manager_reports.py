"""The engine reports each issuance step to its observer, and keeps status.json beside the metadata."""

from __future__ import annotations

import pytest
from observability_support import Engine, context, settle
from publish_requests import Req

from certcsi.errors import IssuanceDenied
from certcsi.volumes.driver import IssuerRef
from certcsi.volumes.reporting import IssuanceDone
from certcsi.volumes.status import STATUS_FILE, read_status


async def test_first_publish_reports_issuing_then_issued_with_time_to_first(engine: Engine) -> None:
    target = engine.target()
    await engine.manager.publish(Req("vol-1", target, context()))
    assert engine.observer.kinds() == ["issuing", "issued"]
    done = engine.observer.calls[1][1]
    assert isinstance(done, IssuanceDone)
    assert done.first and not done.recovered
    assert done.since_publish == 0.0  # the fake clock did not move during the publish
    assert done.issued.request_name == "req-0"


async def test_status_json_holds_the_certificate_facts_and_issuer(engine: Engine) -> None:
    await engine.manager.publish(Req("vol-1", engine.target(), context()))
    status = read_status(engine.store.volume_dir("vol-1"))
    assert status is not None
    assert status.request_name == "req-0"
    assert status.issuer == IssuerRef(name="ca", kind="ClusterIssuer", group="cert-manager.io")
    assert status.certificate_file == "tls.crt"
    assert status.not_after is not None and status.last_error is None and status.failures == 0
    metadata = (engine.store.volume_dir("vol-1") / "metadata.json").read_text()
    assert "lastError" not in metadata and "requestName" not in metadata  # csi-lib's file stays csi-lib's


async def test_denied_first_publish_reports_the_failure_and_leaves_no_status(engine: Engine) -> None:
    engine.issuance.deny = True
    with pytest.raises(IssuanceDenied):
        await engine.manager.publish(Req("vol-1", engine.target(), context()))
    assert engine.observer.calls == [("issuing", "vol-1"), ("failed", ("IssuanceDenied", "req-0", True))]
    assert engine.store.list_volume_ids() == []


async def test_failed_renewal_is_reported_and_recorded_as_last_error(engine: Engine) -> None:
    await engine.manager.publish(Req("vol-1", engine.target(), context()))
    engine.issuance.deny = True
    engine.clock.advance(3600)
    await settle()
    assert ("failed", ("IssuanceDenied", "req-1", False)) in engine.observer.calls
    status = read_status(engine.store.volume_dir("vol-1"))
    assert status is not None and status.failures == 1
    assert status.last_error == 'request "req-1" has been denied by the approval plugin: not on my watch'
    assert status.last_error_time == engine.clock.now()
    assert status.request_name == "req-0"  # the certificate in place is still the first one


async def test_renewal_after_failures_is_reported_as_recovered(engine: Engine) -> None:
    await engine.manager.publish(Req("vol-1", engine.target(), context()))
    engine.issuance.deny = True
    engine.clock.advance(3600)
    await settle()
    engine.issuance.deny = False
    engine.clock.advance(600)  # past the failure backoff
    await settle()
    last = engine.observer.calls[-1]
    assert last[0] == "issued"
    assert isinstance(last[1], IssuanceDone) and last[1].recovered and not last[1].first
    status = read_status(engine.store.volume_dir("vol-1"))
    assert status is not None and status.failures == 0 and status.last_error is None


async def test_unpublish_tells_the_observer_to_forget(engine: Engine) -> None:
    target = engine.target()
    await engine.manager.publish(Req("vol-1", target, context()))
    await engine.manager.unpublish(volume_id="vol-1", target_path=target)
    assert engine.observer.calls[-1] == ("forgotten", "vol-1")


async def test_restart_restores_the_status_into_the_snapshot(engine: Engine) -> None:
    await engine.manager.publish(Req("vol-1", engine.target(), context()))
    before = engine.manager.snapshot()[0].status
    await engine.manager.stop()
    again = engine.restarted()
    await again.manager.start()
    try:
        view = again.manager.snapshot()[0]
        assert view.status == before
        assert view.live and view.next_issuance is not None
        assert view.volume.secrets == {}
    finally:
        await again.manager.stop()


async def test_a_corrupt_status_file_is_ignored_at_restart(engine: Engine) -> None:
    await engine.manager.publish(Req("vol-1", engine.target(), context()))
    await engine.manager.stop()
    (engine.store.volume_dir("vol-1") / STATUS_FILE).write_text("{not json")
    again = engine.restarted()
    await again.manager.start()
    try:
        assert again.manager.snapshot()[0].status.not_after is None
    finally:
        await again.manager.stop()


async def test_snapshot_never_carries_the_pkcs12_password(engine: Engine) -> None:
    ctx = context(pkcs12_enable="true", pkcs12_password="pw-in-memory-only")
    await engine.manager.publish(Req("vol-1", engine.target(), ctx))
    view = engine.manager.snapshot()[0]
    assert view.volume.secrets == {}
    assert "pw-in-memory-only" not in (engine.store.volume_dir("vol-1") / STATUS_FILE).read_text()


async def test_the_snapshot_follows_a_republished_volume_without_its_secrets(engine: Engine) -> None:
    target = engine.target()
    await engine.manager.publish(Req("vol-1", target, context(pkcs12_enable="true", pkcs12_password="one")))
    assert engine.manager.snapshot()[0].volume.secrets == {}
    changed = context(pkcs12_enable="true", pkcs12_password="two", duration="2h")
    await engine.manager.publish(Req("vol-1", target, changed))  # kubelet's republish, from a changed pod spec
    (view,) = engine.manager.snapshot()
    assert view.volume.attributes["csi.cert-manager.io/duration"] == "2h"
    assert view.volume.secrets == {}


async def test_volume_warnings_are_reported_once_per_publish_not_per_republish(engine: Engine) -> None:
    target = engine.target()
    ctx = {**context(), "csi.cert-manager.io/keystore-pkcs12-enable": "true"}
    await engine.manager.publish(Req("vol-1", target, ctx))
    await engine.manager.publish(Req("vol-1", target, ctx))  # kubelet's republish with a fresh token
    warned = [args for kind, args in engine.observer.calls if kind == "warned"]
    assert len(warned) == 1
    (warning,) = warned[0]  # type: ignore[misc]
    assert "csi.cert-manager.io/keystore-pkcs12-enable" in warning.message
    assert engine.observer.kinds()[:2] == ["warned", "issuing"]  # told before issuance, which may fail


async def test_a_volume_without_warnings_reports_none(engine: Engine) -> None:
    await engine.manager.publish(Req("vol-1", engine.target(), context()))
    assert "warned" not in engine.observer.kinds()
