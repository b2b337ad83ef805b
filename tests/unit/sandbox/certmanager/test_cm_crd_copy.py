"""The packaged CRD is loaded through importlib.resources and is the shared upstream file, unchanged."""

from __future__ import annotations

from pathlib import Path

import yaml

from certcsi.sandbox.certmanager import crd_text
from certcsi.sandbox.certmanager.schema import openapi_schema

_SHARED = (
    Path(__file__).resolve().parents[4].parent / "shared" / "data" / "cert-manager" / "certificaterequests.crd.yaml"
)


def test_packaged_crd_is_the_shared_upstream_file() -> None:
    packaged = crd_text()
    if _SHARED.exists():
        assert packaged == _SHARED.read_text(encoding="utf-8")
    else:  # a clone without ../shared: still prove the package carries upstream's CRD
        assert "name: certificaterequests.cert-manager.io" in packaged
    documents = [d for d in yaml.safe_load_all(packaged) if d]
    assert documents[0]["kind"] == "CustomResourceDefinition"


def test_v1_schema_is_the_crds_own() -> None:
    schema = openapi_schema("v1")
    assert schema["properties"]["spec"]["required"] == ["issuerRef", "request"]
    assert "server auth" in schema["properties"]["spec"]["properties"]["usages"]["items"]["enum"]
