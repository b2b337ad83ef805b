"""SPIFFE IDs and trust domains, shared by the driver and the approver."""

from __future__ import annotations

import pytest

from certcsi.approver import IDENTITY_ANNOTATION as APPROVER_ANNOTATION
from certcsi.approver import REQUIRED_USAGES
from certcsi.drivers.spiffe import IDENTITY_ANNOTATION, USAGES, check_trust_domain, spiffe_id


def test_spiffe_id_format() -> None:
    assert spiffe_id("cluster.local", "sandbox", "app") == "spiffe://cluster.local/ns/sandbox/sa/app"


@pytest.mark.parametrize("td", ["cluster.local", "foo.bar", "a-b_c.9"])
def test_valid_trust_domains(td: str) -> None:
    assert check_trust_domain(td) == td


@pytest.mark.parametrize("td", ["", "Cluster.local", "a/b", "a:8080", "spiffe://a", "a b"])
def test_invalid_trust_domains(td: str) -> None:
    with pytest.raises(ValueError, match="trust domain"):
        check_trust_domain(td)


def test_driver_and_approver_speak_the_same_words() -> None:
    assert IDENTITY_ANNOTATION == APPROVER_ANNOTATION == "spiffe.csi.cert-manager.io/identity"
    assert USAGES == REQUIRED_USAGES == ("key encipherment", "digital signature", "client auth", "server auth")
