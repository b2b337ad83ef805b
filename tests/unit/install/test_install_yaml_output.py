"""The output is plain multi-document YAML that `kubectl apply -f -` reads: no anchors, one object each."""

from __future__ import annotations

import pytest
import yaml

from certcsi.install import Chart, render


@pytest.mark.parametrize("chart", ["csi-driver", "csi-driver-spiffe"])
def test_plain_documents(chart: Chart) -> None:
    text = render(chart, values_files=[], sets=["commonLabels.team=a"])
    assert text.startswith("---\n")
    assert "&id" not in text and "*id" not in text
    documents = list(yaml.safe_load_all(text))
    assert all(isinstance(d, dict) and d["apiVersion"] and d["kind"] and d["metadata"]["name"] for d in documents)


def test_rendering_is_deterministic() -> None:
    sets = ["app.driver.podReadinessGates={pod-ip:any}", "metrics.podmonitor.enabled=true"]
    assert render("csi-driver", values_files=[], sets=sets) == render("csi-driver", values_files=[], sets=sets)


def test_accounts_and_rbac_come_before_the_workloads() -> None:
    order = [d["kind"] for d in yaml.safe_load_all(render("csi-driver-spiffe", values_files=[], sets=[]))]
    last = {kind: len(order) - 1 - order[::-1].index(kind) for kind in order}
    assert max(last[k] for k in ("ServiceAccount", "ClusterRoleBinding", "RoleBinding")) < order.index("DaemonSet")
