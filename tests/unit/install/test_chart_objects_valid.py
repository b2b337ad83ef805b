"""Every rendered object passes the real Kubernetes OpenAPI schemas (strict: no unknown fields)."""

from __future__ import annotations

import re

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from chart_support import ALL_CONFIGS, CONFIGS, Obj, config_objects
from helm_charts import CHARTS, Chart, find, render, upstream_values_file

# The schema of the newest Kubernetes kubernetes-validate knows (the charts render for Helm's own
# Kubernetes version, which has serviceAccountTokenInSecrets); and the oldest that has that field.
VERSIONS = ["1.35", kubernetes_validate.utils.latest_version()]
# Prometheus Operator kinds are CRDs, not in the Kubernetes schemas: their shape is tested by hand.
CRD_KINDS = {"ServiceMonitor", "PodMonitor"}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _validate(objects: list[Obj], version: str) -> int:
    checked = 0
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {e.message} at {list(e.path)}")
        checked += 1
    return checked


@pytest.mark.parametrize(("chart", "config"), ALL_CONFIGS)
@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_matches_the_kubernetes_schema(chart: Chart, config: str, version: str) -> None:
    assert _validate(config_objects(chart, config), version) >= 5


@pytest.mark.parametrize("chart", CHARTS)
def test_every_object_rendered_from_upstream_s_values_file_matches_the_schema(chart: Chart) -> None:
    assert _validate(render(chart, values_files=[upstream_values_file(chart)]), VERSIONS[-1]) >= 5


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
    daemonset = find(config_objects("csi-driver", "defaults"), "DaemonSet")
    daemonset["spec"]["template"]["spec"]["hostNetwrok"] = False
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(daemonset, VERSIONS[-1], strict=True)


def test_configs_cover_both_charts() -> None:
    assert set(CONFIGS) == set(CHARTS)
