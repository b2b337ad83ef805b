"""Starting with no way to ever get an issuer is refused, naming the flags."""

from __future__ import annotations

import pytest

from certcsi.drivers.spiffe.runtime import NO_ISSUER_SOURCE, check_issuer_sources


def test_neither_flags_nor_configmap_is_refused() -> None:
    with pytest.raises(ValueError) as caught:
        check_issuer_sources(issuer_name="", configmap_name="", configmap_namespace="cert-manager")
    assert str(caught.value) == NO_ISSUER_SOURCE
    assert NO_ISSUER_SOURCE == "either --issuer-name or --runtime-issuance-config-map-name must be set"


def test_a_configmap_name_needs_its_namespace() -> None:
    with pytest.raises(ValueError, match=r"^--runtime-issuance-config-map-namespace must be set"):
        check_issuer_sources(issuer_name="ca", configmap_name="spiffe-issuer", configmap_namespace="")


@pytest.mark.parametrize(
    ("issuer_name", "configmap_name", "namespace"),
    [("ca", "", ""), ("", "spiffe-issuer", "cert-manager"), ("ca", "spiffe-issuer", "cert-manager")],
)
def test_either_source_is_enough(issuer_name: str, configmap_name: str, namespace: str) -> None:
    check_issuer_sources(issuer_name=issuer_name, configmap_name=configmap_name, configmap_namespace=namespace)
