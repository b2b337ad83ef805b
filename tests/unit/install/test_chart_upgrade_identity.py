"""`helm upgrade` of an upstream release to our chart keeps every object and every live volume.

What must not change: each object's kind, name and namespace (else Helm deletes and recreates it),
the workloads' selectors (immutable), the Service's selector, the host paths kubelet and the driver
share (plugin socket, registration, pods, data root), and the CSIDriver's spec (immutable fields).
"""

from __future__ import annotations

from typing import Any

import pytest
from helm_charts import CHARTS, UPSTREAM_SETS, Chart, Obj, key, render, upstream_objects, upstream_values_file

WORKLOADS = ("DaemonSet", "Deployment")


def _ours(chart: Chart, *, with_upstream_values: bool) -> list[Obj]:
    files = [upstream_values_file(chart)] if with_upstream_values else []
    return render(chart, values_files=files, sets=UPSTREAM_SETS[chart])


def _identity(objects: list[Obj]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (o["apiVersion"], o["kind"], o["metadata"]["name"], o["metadata"].get("namespace", "")) for o in objects
    )


def _by_key(objects: list[Obj], kind: str) -> dict[tuple[str, str], Obj]:
    return {key(o): o for o in objects if o["kind"] == kind}


def _host_paths(workload: Obj) -> dict[str, Any]:
    spec = workload["spec"]["template"]["spec"]
    return {v["name"]: v["hostPath"] for v in spec["volumes"] if "hostPath" in v}


def _registration_paths(workload: Obj) -> list[str]:
    return [
        arg
        for c in workload["spec"]["template"]["spec"]["containers"]
        for arg in c.get("args", [])
        if arg.startswith(("--kubelet-registration-path=", "--csi-address=", "--data-root=", "--endpoint="))
    ]


def _mount_paths(workload: Obj) -> dict[tuple[str, str], str]:
    return {
        (c["name"], m["name"]): m["mountPath"]
        for c in workload["spec"]["template"]["spec"]["containers"]
        for m in c.get("volumeMounts", [])
    }


@pytest.mark.parametrize("with_upstream_values", [True, False], ids=["upstream-values", "our-defaults"])
@pytest.mark.parametrize("chart", CHARTS)
class TestUpgradeIdentity:
    def test_same_objects(self, chart: Chart, with_upstream_values: bool) -> None:
        assert _identity(_ours(chart, with_upstream_values=with_upstream_values)) == _identity(upstream_objects(chart))

    def test_same_selectors_and_matching_pod_labels(self, chart: Chart, with_upstream_values: bool) -> None:
        ours, theirs = _ours(chart, with_upstream_values=with_upstream_values), upstream_objects(chart)
        for kind in WORKLOADS:
            for k, workload in _by_key(ours, kind).items():
                selector = workload["spec"]["selector"]
                assert selector == _by_key(theirs, kind)[k]["spec"]["selector"]
                labels = workload["spec"]["template"]["metadata"]["labels"]
                assert selector["matchLabels"].items() <= labels.items()
        for k, service in _by_key(ours, "Service").items():
            assert service["spec"]["selector"] == _by_key(theirs, "Service")[k]["spec"]["selector"]

    def test_same_host_paths_and_mount_paths(self, chart: Chart, with_upstream_values: bool) -> None:
        ours, theirs = _ours(chart, with_upstream_values=with_upstream_values), upstream_objects(chart)
        for k, daemonset in _by_key(ours, "DaemonSet").items():
            upstream = _by_key(theirs, "DaemonSet")[k]
            assert _host_paths(daemonset) == _host_paths(upstream)
            assert _registration_paths(daemonset) == _registration_paths(upstream)
            assert _mount_paths(daemonset) == _mount_paths(upstream)

    def test_same_csidriver_spec_where_upstream_sets_it(self, chart: Chart, with_upstream_values: bool) -> None:
        ours = _by_key(_ours(chart, with_upstream_values=with_upstream_values), "CSIDriver")
        theirs = _by_key(upstream_objects(chart), "CSIDriver")
        assert ours.keys() == theirs.keys()
        for k, upstream in theirs.items():
            spec = ours[k]["spec"]
            assert {field: spec.get(field) for field in upstream["spec"]} == upstream["spec"]
            # Upstream's live object has the API server's default: attach is immutable and must stay as stored.
            assert spec["attachRequired"] is True


def test_a_changed_data_root_is_seen() -> None:
    # The host-path comparison must be able to fail.
    ours = render("csi-driver", sets=["app.driver.csiDataDir=/var/lib/certcsi"])
    daemonset = _by_key(ours, "DaemonSet")["DaemonSet", "cert-manager-csi-driver"]
    upstream = _by_key(upstream_objects("csi-driver"), "DaemonSet")["DaemonSet", "cert-manager-csi-driver"]
    assert _host_paths(daemonset) != _host_paths(upstream)
