"""Every rendered object passes the real Kubernetes OpenAPI schemas (strict: no unknown fields)."""

from __future__ import annotations

import re

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from install_support import ALL_CONFIGS, CONFIGS, Obj, config_objects

from certcsi.install import Chart

# The oldest Kubernetes the manifests target and the newest the schemas know.
VERSIONS = ["1.29", kubernetes_validate.utils.latest_version()]
# Prometheus Operator kinds are CRDs, not in the Kubernetes schemas: their shape is tested by hand.
CRD_KINDS = {"ServiceMonitor", "PodMonitor"}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@pytest.mark.parametrize(("chart", "config"), ALL_CONFIGS)
@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_matches_the_kubernetes_schema(chart: Chart, config: str, version: str) -> None:
    checked = 0
    for obj in config_objects(chart, config):
        if obj["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} ({chart}, {config}): {e.message} at {list(e.path)}")
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize(("chart", "config"), ALL_CONFIGS)
def test_names_and_label_values_are_what_the_api_server_accepts(chart: Chart, config: str) -> None:
    # The JSON schemas do not check these formats; the API server does.
    for obj in config_objects(chart, config):
        meta = obj["metadata"]
        assert DNS_SUBDOMAIN.match(meta["name"]) and len(meta["name"]) <= 253, meta["name"]
        _labels_ok(meta.get("labels", {}))
        template = obj.get("spec", {}).get("template")
        if template:
            _labels_ok(template["metadata"]["labels"])


def _labels_ok(labels: Obj) -> None:
    for key, value in labels.items():
        assert isinstance(value, str) and len(value) <= 63 and LABEL_VALUE.match(value), (key, value)


def test_the_schema_check_catches_a_broken_object() -> None:
    # The validator must be able to fail: a misspelled DaemonSet field is rejected.
    daemonset = next(o for o in config_objects("csi-driver", "defaults") if o["kind"] == "DaemonSet")
    daemonset["spec"]["updateStrategy"]["rollingUpdate"]["maxSurges"] = 0
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(daemonset, VERSIONS[-1], strict=True)


def test_configs_cover_both_charts() -> None:
    assert set(CONFIGS) == {"csi-driver", "csi-driver-spiffe"}
