"""The runtime ConfigMap's events move the active issuer: adopt valid data, keep on invalid, fall back on delete."""

from __future__ import annotations

import logging

import pytest
from spiffe_support import FLAG_ISSUER

from certcsi.drivers.spiffe import RuntimeIssuer
from certcsi.drivers.spiffe.runtime import apply_configmap_event
from certcsi.errors import IssuerUnavailable
from certcsi.kube.watching import SYNCED, WatchEvent
from certcsi.volumes.driver import IssuerRef

CONFIGMAP = "cert-manager/spiffe-issuer"
DATA = {"issuer-name": "runtime-ca", "issuer-kind": "ClusterIssuer", "issuer-group": "cert-manager.io"}
RUNTIME = IssuerRef(name="runtime-ca", kind="ClusterIssuer", group="cert-manager.io")
OTHER = {"issuer-name": "other-ca", "issuer-kind": "Issuer", "issuer-group": "example.io"}


def configmap(data: dict[str, str] | None) -> dict[str, object]:
    body: dict[str, object] = {"metadata": {"name": "spiffe-issuer", "namespace": "cert-manager"}}
    if data is not None:
        body["data"] = data
    return body


def feed(issuer: RuntimeIssuer, *events: WatchEvent) -> None:
    for event in events:
        apply_configmap_event(issuer, event, configmap=CONFIGMAP)


@pytest.mark.parametrize("kind", ["ADDED", "MODIFIED"])
def test_a_valid_configmap_becomes_the_issuer(kind: str) -> None:
    issuer = RuntimeIssuer(FLAG_ISSUER)
    feed(issuer, WatchEvent(kind, configmap(DATA)))  # type: ignore[arg-type]
    assert issuer.current() == RUNTIME


def test_a_later_modification_replaces_it() -> None:
    issuer = RuntimeIssuer(FLAG_ISSUER)
    feed(issuer, WatchEvent("ADDED", configmap(DATA)), WatchEvent("MODIFIED", configmap(OTHER)))
    assert issuer.current() == IssuerRef(name="other-ca", kind="Issuer", group="example.io")


def test_invalid_data_keeps_the_previous_issuer_and_says_which_keys_are_missing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    issuer = RuntimeIssuer(FLAG_ISSUER)
    feed(issuer, WatchEvent("ADDED", configmap(DATA)))
    with caplog.at_level(logging.WARNING, logger="certcsi.drivers.spiffe.runtime"):
        feed(issuer, WatchEvent("MODIFIED", configmap({"issuer-name": "x", "issuer-kind": ""})))
    assert issuer.current() == RUNTIME
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]  # other tests may lower levels
    assert record.getMessage() == "runtime issuer ConfigMap is invalid; keeping the previous issuer"
    assert "issuer-kind, issuer-group" in record.__dict__["error"]
    assert record.__dict__["configmap"] == CONFIGMAP


def test_a_configmap_without_data_is_invalid() -> None:
    issuer = RuntimeIssuer(FLAG_ISSUER)
    feed(issuer, WatchEvent("ADDED", configmap(None)))
    assert (issuer.current(), issuer.source) == (FLAG_ISSUER, "flags")


def test_deletion_falls_back_to_the_flags() -> None:
    issuer = RuntimeIssuer(FLAG_ISSUER)
    feed(issuer, WatchEvent("ADDED", configmap(DATA)), WatchEvent("DELETED", configmap(DATA)))
    assert (issuer.current(), issuer.source) == (FLAG_ISSUER, "flags")


def test_deletion_without_flags_leaves_no_issuer_and_issuance_says_how_to_fix_it() -> None:
    issuer = RuntimeIssuer(None, configmap=("cert-manager", "spiffe-issuer"))
    feed(issuer, WatchEvent("ADDED", configmap(DATA)), WatchEvent("DELETED", {"metadata": {"name": "spiffe-issuer"}}))
    assert issuer.current() is None
    with pytest.raises(IssuerUnavailable, match="create the runtime ConfigMap cert-manager/spiffe-issuer"):
        issuer.require()


def test_synced_changes_nothing_but_warns_when_there_is_no_issuer(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="certcsi.drivers.spiffe.runtime"):
        with_flags = RuntimeIssuer(FLAG_ISSUER)
        feed(with_flags, SYNCED)
        assert caplog.records == []
        without = RuntimeIssuer(None)
        feed(without, SYNCED)
    assert without.current() is None
    assert [r.getMessage() for r in caplog.records] == [
        "no issuer is configured: issuance waits for the runtime issuer ConfigMap"
    ]


def test_a_change_of_issuer_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    issuer = RuntimeIssuer(FLAG_ISSUER)
    with caplog.at_level(logging.INFO, logger="certcsi.drivers.spiffe.runtime"):
        feed(issuer, WatchEvent("ADDED", configmap(DATA)), WatchEvent("MODIFIED", configmap(DATA)))
    # The second event names the same issuer: nothing changed, nothing logged.
    [record] = [r for r in caplog.records if r.name == "certcsi.drivers.spiffe.runtime"]
    assert record.__dict__["issuer"] == "ClusterIssuer.cert-manager.io/runtime-ca"
    assert record.__dict__["source"] == "runtime"
