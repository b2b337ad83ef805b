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
