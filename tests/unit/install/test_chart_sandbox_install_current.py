"""What `certcsi sandbox up --with <chart>` installs is what the chart renders (generated, kept current)."""

from __future__ import annotations

import pytest
from helm_charts import CHARTS, REPO, Chart, sandbox_chart_yaml

from certcsi.sandbox.bringup import chart_objects


@pytest.mark.parametrize("chart", CHARTS)
def test_the_sandbox_s_chart_file_is_current(chart: Chart) -> None:
    generated = REPO / "src" / "certcsi" / "sandbox" / "data" / f"{chart}.chart.yaml"
    assert generated.read_text() == sandbox_chart_yaml(chart), (
        f"run: python tests/support/helm_charts.py {chart} > {generated.relative_to(REPO)}"
    )


def test_both_charts_fit_on_one_node_sharing_upstream_s_data_directory_but_no_port() -> None:
    # Two drivers in one data root is the drop-in case (upstream's defaults); each locks its own name there.
    def paths_and_ports(chart: str) -> tuple[set[str], set[int]]:
        paths, ports = set(), set()
        for obj in chart_objects(chart):
            if obj["kind"] not in ("DaemonSet", "Deployment"):
                continue
            spec = obj["spec"]["template"]["spec"]
            paths |= {
                v["hostPath"]["path"]
                for v in spec.get("volumes") or []
                if "tmp" in v.get("hostPath", {}).get("path", "")
            }
            for container in spec["containers"]:
                for arg in container.get("args") or []:
                    if arg.startswith(("--metrics-bind-address=", "--readiness-probe-bind-address=")):
                        ports.add(int(arg.rsplit(":", 1)[1]))
        return paths, ports

    driver_paths, driver_ports = paths_and_ports("csi-driver")
    spiffe_paths, spiffe_ports = paths_and_ports("csi-driver-spiffe")
    assert driver_paths == spiffe_paths == {"/tmp/cert-manager-csi-driver"}
    assert driver_ports == {9402} and spiffe_ports == {9403, 6060}


def test_an_unknown_chart_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="--with: 'cert-manager' is not one of csi-driver, csi-driver-spiffe"):
        chart_objects("cert-manager")
