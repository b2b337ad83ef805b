"""issuer-name is required; issuer-kind and issuer-group default to cert-manager's Issuer."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from certcsi.drivers.certmanager.attributes import ISSUER_GROUP, ISSUER_KIND, ISSUER_NAME, CertAttributes
from certcsi.errors import InvalidVolumeAttribute
from certcsi.volumes.driver import IssuerRef

Parse = Callable[[Mapping[str, str | None]], CertAttributes]
Reject = Callable[[Mapping[str, str | None]], InvalidVolumeAttribute]


def test_issuer_ref_from_attributes(parse: Parse) -> None:
    attrs = parse({ISSUER_NAME: "vault", ISSUER_KIND: "ClusterIssuer", ISSUER_GROUP: "out.of.tree.foo"})
    assert attrs.issuer == IssuerRef(name="vault", kind="ClusterIssuer", group="out.of.tree.foo")


@pytest.mark.parametrize("value", [None, ""])
def test_issuer_name_is_required(reject: Reject, value: str | None) -> None:
    err = reject({ISSUER_NAME: value})
    assert err.attribute == ISSUER_NAME
    assert "required" in err.rule
    assert ISSUER_NAME in str(err)


@pytest.mark.parametrize(
    "name", ["CN=x", "-1", "Ca-Issuer", "ca_issuer", "ca issuer", "ca-", ".ca", "a" * 254, "ca/issuer", "ca\n"]
)
def test_issuer_name_must_be_a_kubernetes_object_name(reject: Reject, name: str) -> None:
    err = reject({ISSUER_NAME: name})
    assert err.attribute == ISSUER_NAME
    assert "DNS subdomain" in err.rule


@pytest.mark.parametrize("kind", ["1Issuer", "Cluster Issuer", "Issuer.v1", "-Issuer", "Issuer-", "K" * 64, "Is_suer"])
def test_issuer_kind_must_be_a_kubernetes_kind(reject: Reject, kind: str) -> None:
    err = reject({ISSUER_KIND: kind, ISSUER_GROUP: "awspca.cert-manager.io"})
    assert err.attribute == ISSUER_KIND
    assert "kind" in err.rule


@pytest.mark.parametrize("group", ["CERT-MANAGER.IO", "cert manager.io", "cert-manager.io.", "-x.io", "x" * 254])
def test_issuer_group_must_be_a_dns_subdomain(reject: Reject, group: str) -> None:
    err = reject({ISSUER_GROUP: group})
    assert err.attribute == ISSUER_GROUP
    assert "DNS subdomain" in err.rule


@pytest.mark.parametrize(
    ("name", "kind", "group"),
    [
        ("ca-issuer", "Issuer", "cert-manager.io"),
        ("a.b-c.0", "ClusterIssuer", "cert-manager.io"),
        ("0", "AWSPCAClusterIssuer", "awspca.cert-manager.io"),
        ("a" * 253, "Google-CAS-Issuer", "cas-issuer.jetstack.io"),
        ("vault", "VaultIssuer", "example"),
    ],
)
def test_names_kubernetes_accepts_are_accepted(parse: Parse, name: str, kind: str, group: str) -> None:
    assert parse({ISSUER_NAME: name, ISSUER_KIND: kind, ISSUER_GROUP: group}).issuer == IssuerRef(name, kind, group)
