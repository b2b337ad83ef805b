"""The CSIDriver object: ephemeral inline volumes with pod info; service-account tokens when used."""

from __future__ import annotations

from install_support import objects, only

BASE = {"attachRequired": False, "podInfoOnMount": True, "volumeLifecycleModes": ["Ephemeral"]}
TOKENS = {"tokenRequests": [{"audience": "", "expirationSeconds": 3600}], "requiresRepublish": True}


def test_csi_driver_without_token_requests() -> None:
    driver = only(objects("csi-driver"), "CSIDriver")
    assert driver["metadata"]["name"] == "csi.cert-manager.io"
    assert "namespace" not in driver["metadata"]
    assert driver["spec"] == BASE


def test_csi_driver_with_token_requests() -> None:
    driver = only(
        objects("csi-driver", ["app.driver.useTokenRequest=true", "app.driver.name=x.example.com"]), "CSIDriver"
    )
    assert driver["metadata"]["name"] == "x.example.com"
    assert driver["spec"] == {**BASE, **TOKENS}


def test_spiffe_always_requests_tokens() -> None:
    driver = only(objects("csi-driver-spiffe", ["app.name=spiffe.example.com"]), "CSIDriver")
    assert driver["metadata"]["name"] == "spiffe.example.com"
    assert driver["spec"] == {**BASE, **TOKENS}
