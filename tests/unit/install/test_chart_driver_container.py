"""The driver container runs privileged as root (it mounts for pods), and gates that can only pass
after mounting come with continueOnNotReady, else the install is refused naming the key."""

from __future__ import annotations

import helm_python as helm
import pytest
from helm_charts import Chart, container, find, render

DRIVERS: dict[Chart, str] = {
    "csi-driver": "cert-manager-csi-driver",
    "csi-driver-spiffe": "cert-manager-csi-driver-spiffe",
}


@pytest.mark.parametrize("chart", DRIVERS)
def test_the_driver_runs_privileged_as_root_with_bidirectional_mounts(chart: Chart) -> None:
    driver = container(find(render(chart), "DaemonSet"), DRIVERS[chart])
    assert driver["securityContext"]["privileged"] is True
    assert driver["securityContext"]["runAsUser"] == 0
    propagation = {m["name"]: m.get("mountPropagation") for m in driver["volumeMounts"]}
    assert propagation["pods-mount-dir"] == propagation["csi-data-dir"] == "Bidirectional"


@pytest.mark.parametrize(
    "gate", ["pod-ip:any", "pod-condition:Ready", "pod-condition:Ready=True", "pod-condition:ContainersReady"]
)
def test_a_gate_passing_only_after_mounting_needs_continue_on_not_ready(gate: str) -> None:
    with pytest.raises(helm.HelmError, match=r"app\.driver\.continueOnNotReady: must be true with app\.driver"):
        render("csi-driver", sets=[f"app.driver.podReadinessGates={{pod-annotation:a,{gate}}}"])
    sets = [f"app.driver.podReadinessGates={{{gate}}}", "app.driver.continueOnNotReady=true"]
    args = container(find(render("csi-driver", sets=sets), "DaemonSet"), DRIVERS["csi-driver"])["args"]
    assert f"--pod-readiness-gate={gate}" in args and "--continue-on-not-ready=true" in args


@pytest.mark.parametrize("gate", ["pod-annotation:example.com/ready", "pod-condition:Ready=False"])
def test_a_gate_that_can_pass_before_mounting_needs_nothing_else(gate: str) -> None:
    render("csi-driver", sets=[f"app.driver.podReadinessGates={{{gate}}}"])
