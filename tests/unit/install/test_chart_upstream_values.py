"""A values file written for upstream's charts, current or earlier, renders unchanged with ours."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_charts import (
    CHARTS,
    CHARTS_DIR,
    Chart,
    container,
    find,
    render,
    upstream_objects,
    upstream_values_file,
)

FIXTURES = Path(__file__).parent / "fixtures"
CERTCSI_IMAGE = "ghcr.io/certcsi/certcsi:0.1.0"
OLDER: list[tuple[Chart, str]] = [
    ("csi-driver", "csi-driver-v0.4.0"),
    ("csi-driver", "csi-driver-v0.11.0"),
    ("csi-driver-spiffe", "csi-driver-spiffe-v0.4.0"),
    ("csi-driver-spiffe", "csi-driver-spiffe-v0.10.0"),
    ("csi-driver-spiffe", "csi-driver-spiffe-v0.12.0"),
]
_IMAGE = ["registry", "repository", "tag", "digest", "pullPolicy"]
# Keys of upstream's releases that their current values.yaml no longer lists (renamed, commented out,
# read by templates or chart tests only): each must still be accepted.
EARLIER_KEYS: dict[Chart, list[str]] = {
    "csi-driver": [
        *(f"image.{k}" for k in _IMAGE),
        *(f"nodeDriverRegistrarImage.{k}" for k in _IMAGE),
        *(f"livenessProbeImage.{k}" for k in _IMAGE),
        "metrics.podmonitor.namespace",
        "securityContext",
        "podSecurityContext",
        "global",
        "nameOverride",
    ],
    "csi-driver-spiffe": [
        "image.registry",
        "image.repository.driver",
        "image.repository.approver",
        "image.tag",
        "image.digest.driver",
        "image.digest.approver",
        "image.pullPolicy",
        *(f"driverImage.{k}" for k in _IMAGE),
        *(f"approverImage.{k}" for k in _IMAGE),
        *(f"app.driver.nodeDriverRegistrarImage.{k}" for k in _IMAGE),
        *(f"app.driver.livenessProbeImage.{k}" for k in _IMAGE),
        "app.approver.autoApproveNonSpiffe",
        "nodeDriverRegistrarSecurityContext",
        "podSecurityContext",
        "global",
        "nameOverride",
    ],
}
CERTCSI_CONTAINERS: dict[Chart, list[tuple[str, str]]] = {
    "csi-driver": [("DaemonSet", "cert-manager-csi-driver")],
    "csi-driver-spiffe": [
        ("DaemonSet", "cert-manager-csi-driver-spiffe"),
        ("Deployment", "cert-manager-csi-driver-spiffe-approver"),
    ],
}


def _unknown(values: Mapping[str, Any], schema: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Keys of `values` the schema does not declare; free-form maps (labels, resources) hold any key."""
    properties = schema.get("properties")
    if properties is None:
        return
    for key, value in values.items():
        if key not in properties:
            yield prefix + key
        elif isinstance(value, dict):
            yield from _unknown(value, properties[key], f"{prefix}{key}.")


def _schema_has(schema: Mapping[str, Any], dotted: str) -> bool:
    node: Mapping[str, Any] = schema
    for part in dotted.split("."):
        properties = node.get("properties", {})
        if part not in properties:
            return False
        node = properties[part]
    return True


def _schema(chart: Chart) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((CHARTS_DIR / chart / "values.schema.json").read_text())
    return schema


def _certcsi_containers(chart: Chart, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [container(find(objects, kind), name) for kind, name in CERTCSI_CONTAINERS[chart]]


@pytest.mark.parametrize("chart", CHARTS)
def test_every_key_of_upstream_s_current_values_file_is_known(chart: Chart) -> None:
    values = yaml.safe_load(upstream_values_file(chart).read_text())
    assert list(_unknown(values, _schema(chart))) == []


@pytest.mark.parametrize("chart", CHARTS)
def test_every_key_of_upstream_s_earlier_releases_is_known(chart: Chart) -> None:
    assert [key for key in EARLIER_KEYS[chart] if not _schema_has(_schema(chart), key)] == []


@pytest.mark.parametrize("chart", CHARTS)
def test_upstream_s_values_file_renders_certcsi_with_upstream_s_args(chart: Chart) -> None:
    objects = render(chart, values_files=[upstream_values_file(chart)])
    theirs = upstream_objects(chart)
    for (kind, name), ours in zip(CERTCSI_CONTAINERS[chart], _certcsi_containers(chart, objects), strict=True):
        assert ours["image"] == CERTCSI_IMAGE  # upstream's Go image cannot run certcsi
        assert ours["args"] == container(find(theirs, kind), name)["args"]


@pytest.mark.parametrize(("chart", "release"), OLDER, ids=[release for _, release in OLDER])
def test_an_earlier_release_s_values_file_renders(chart: Chart, release: str) -> None:
    objects = render(chart, values_files=[FIXTURES / f"{release}.values.yaml"])
    assert [c["image"] for c in _certcsi_containers(chart, objects)] == [CERTCSI_IMAGE] * len(CERTCSI_CONTAINERS[chart])
    daemonset = find(objects, "DaemonSet")
    values = yaml.safe_load((FIXTURES / f"{release}.values.yaml").read_text())
    registrar = (values.get("app", {}).get("driver", {}) if chart == "csi-driver-spiffe" else values)[
        "nodeDriverRegistrarImage"
    ]
    # The sidecars are the release's own, exactly as it named them.
    assert container(daemonset, "node-driver-registrar")["image"] == f"{registrar['repository']}:{registrar['tag']}"


@pytest.mark.parametrize("spelling", ["autoApproveNonSPIFFE", "autoApproveNonSpiffe"])
def test_both_spellings_of_auto_approval_turn_it_on(spelling: str) -> None:
    objects = render("csi-driver-spiffe", sets=[f"app.approver.{spelling}=true"])
    args = container(find(objects, "Deployment"), "cert-manager-csi-driver-spiffe-approver")["args"]
    assert "--auto-approve-non-spiffe" in args
