"""Rendered objects carry the forms the API server stores: `kubectl apply --server-side` finds no conflict."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from chart_support import ALL_CONFIGS, config_objects
from helm_charts import Chart, find, render

# storage.k8s.io/v1 CSIDriver defaults, as a real kube-apiserver stores them.
CSIDRIVER_DEFAULTS = {
    "attachRequired": True,
    "fsGroupPolicy": "ReadWriteOnceWithFSType",
    "seLinuxMount": False,
    "storageCapacity": False,
}


def _field_refs(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if "fieldRef" in value:
            yield value["fieldRef"]
        for item in value.values():
            yield from _field_refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _field_refs(item)


@pytest.mark.parametrize(("chart", "config"), ALL_CONFIGS)
def test_every_field_ref_names_its_api_version(chart: Chart, config: str) -> None:
    refs = [ref for obj in config_objects(chart, config) for ref in _field_refs(obj)]
    assert refs and all(ref.get("apiVersion") == "v1" for ref in refs)


@pytest.mark.parametrize(("chart", "config"), ALL_CONFIGS)
def test_the_csidriver_carries_every_server_default(chart: Chart, config: str) -> None:
    spec = find(config_objects(chart, config), "CSIDriver")["spec"]
    assert {field: spec.get(field) for field in CSIDRIVER_DEFAULTS} == CSIDRIVER_DEFAULTS
    assert spec["requiresRepublish"] is ("tokenRequests" in spec)


@pytest.mark.parametrize(
    ("chart", "sets", "tokens"),
    [
        ("csi-driver", [], False),
        ("csi-driver", ["app.driver.useTokenRequest=true"], True),
        ("csi-driver-spiffe", [], True),
    ],
)
def test_tokens_travel_in_secrets_exactly_when_tokens_are_requested(
    chart: Chart, sets: list[str], tokens: bool
) -> None:
    spec = find(render(chart, sets=sets), "CSIDriver")["spec"]
    assert ("tokenRequests" in spec) is tokens
    assert spec.get("serviceAccountTokenInSecrets", False) is tokens
    if tokens:
        assert spec["tokenRequests"] == [{"audience": "", "expirationSeconds": 3600}]
