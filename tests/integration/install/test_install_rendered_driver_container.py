"""What the proof runs found in the rendered driver container, kept fixed: it runs privileged as root
whatever the values unset, values that would stop it are refused naming the key, and a readiness
gate that can only pass after mounting comes with --continue-on-not-ready (without it the driver
refuses to start; the gated lifecycle runs the rendered flags)."""

from __future__ import annotations

import pytest
from rbac_proof_support import Config, Obj, container, find, rendered

from certcsi.install import Chart, ValuesError

DRIVERS: dict[Chart, str] = {
    "csi-driver": "cert-manager-csi-driver",
    "csi-driver-spiffe": "cert-manager-csi-driver-spiffe",
}


def _driver(chart: Chart, *sets: str) -> Obj:
    return container(find(rendered(Config("test", chart, sets)), "DaemonSet"), DRIVERS[chart])


@pytest.mark.parametrize("chart", DRIVERS)
@pytest.mark.parametrize(
    "unset", ["securityContext=null", "securityContext.runAsUser=null", "securityContext.privileged=null"]
)
def test_the_driver_runs_privileged_as_root_whatever_the_values_unset(chart: Chart, unset: str) -> None:
    context = _driver(chart, unset)["securityContext"]
    assert context["privileged"] is True
    assert context["runAsUser"] == 0


def test_other_driver_security_settings_are_kept() -> None:
    context = _driver("csi-driver", "securityContext.seLinuxOptions.type=spc_t")["securityContext"]
    assert context["seLinuxOptions"] == {"type": "spc_t"}
    assert context["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("securityContext.runAsUser=1000", "securityContext.runAsUser"),
        ("securityContext.privileged=false", "securityContext.privileged"),
        ("securityContext.runAsNonRoot=true", "securityContext.runAsNonRoot"),
        ("securityContext.allowPrivilegeEscalation=false", "securityContext.allowPrivilegeEscalation"),
        ("podSecurityContext.runAsNonRoot=true", "podSecurityContext.runAsNonRoot"),
    ],
)
def test_values_that_would_stop_the_driver_are_refused_naming_the_key(value: str, key: str) -> None:
    with pytest.raises(ValuesError, match="must run privileged as root") as caught:
        _driver("csi-driver-spiffe", value)
    assert caught.value.key == key
    assert str(caught.value).startswith(f"value {key}:")


@pytest.mark.parametrize(
    ("gates", "continues"),
    [
        ("{pod-ip:any}", True),
        ("{pod-condition:Ready=True}", True),
        ("{pod-annotation:example.com/ready,pod-ip:ipv4}", True),
        ("{pod-annotation:example.com/ready}", False),
        ("{pod-condition:Ready=False}", False),
    ],
)
def test_gates_that_pass_only_after_mounting_publish_first(gates: str, continues: bool) -> None:
    args = _driver("csi-driver", f"app.driver.podReadinessGates={gates}")["args"]
    assert ("--continue-on-not-ready" in args) is continues


def test_a_gate_the_driver_would_reject_is_refused_at_install_naming_the_key() -> None:
    with pytest.raises(ValuesError, match="unknown gate type") as caught:
        _driver("csi-driver", "app.driver.podReadinessGates={pod-annotation:a,pod-ipx:any}")
    assert caught.value.key == "app.driver.podReadinessGates[1]"
