"""Bad values fail like Helm's schema validation does: one line naming the key and the rule, nothing rendered."""

from __future__ import annotations

import helm_python as helm
import pytest
from helm_charts import Chart, render


def _error(chart: Chart, *sets: str) -> str:
    with pytest.raises(helm.HelmError) as caught:
        render(chart, sets=sets)
    return str(caught.value)


@pytest.mark.parametrize(
    ("chart", "assignment", "where", "key"),
    [
        ("csi-driver", "imageRegistri=quay.io", "''", "imageRegistri"),
        ("csi-driver", "app.driver.useTokenRequests=true", "'/app/driver'", "useTokenRequests"),
        ("csi-driver", "metrics.podmonitor.intervall=1m", "'/metrics/podmonitor'", "intervall"),
        ("csi-driver-spiffe", "app.approver.autoApproveNonSpiffee=true", "'/app/approver'", "autoApproveNonSpiffee"),
        ("csi-driver-spiffe", "image.repository.webhook=x", "'/image/repository'", "webhook"),
        ("csi-driver-spiffe", "app.driver.gateBackoff.cap=1s", "'/app/driver'", "gateBackoff"),
    ],
)
def test_an_unknown_key_fails_naming_it(chart: Chart, assignment: str, where: str, key: str) -> None:
    assert f"at {where}: additional properties '{key}' not allowed" in _error(chart, assignment)


@pytest.mark.parametrize(
    ("chart", "assignment", "message"),
    [
        ("csi-driver", "app.livenessProbe.port=healthz", "at '/app/livenessProbe/port': got string, want integer"),
        ("csi-driver", "app.driver.useTokenRequest=yes", "at '/app/driver/useTokenRequest': got string, want boolean"),
        ("csi-driver", "app.logLevel=loud", "at '/app/logLevel': got string, want integer"),
        ("csi-driver", "app.driver.keyPoolSize=257", "at '/app/driver/keyPoolSize': maximum: got 257, want 256"),
        ("csi-driver-spiffe", "app.driver.keyPoolSize=-1", "at '/app/driver/keyPoolSize': minimum: got -1, want 0"),
        ("csi-driver", "nodeSelector.zone=1", "at '/nodeSelector/zone': got number, want string"),
        ("csi-driver-spiffe", "app.issuer=spiffe-ca", "at '/app/issuer': got string, want object"),
        (
            "csi-driver-spiffe",
            "app.approver.replicaCount=two",
            "at '/app/approver/replicaCount': got string, want integer",
        ),
    ],
)
def test_a_wrong_type_fails_naming_the_key_and_the_type(chart: Chart, assignment: str, message: str) -> None:
    assert message in _error(chart, assignment)


@pytest.mark.parametrize(
    ("chart", "assignment", "message"),
    [
        ("csi-driver", "metrics.port=70000", "at '/metrics/port': maximum: got 70,000, want 65,535"),
        ("csi-driver", "image.pullPolicy=Sometimes", "at '/image/pullPolicy': value must be one of"),
        ("csi-driver", "app.driver.csiDataDir=data", "at '/app/driver/csiDataDir': 'data' does not match pattern '^/'"),
        ("csi-driver", "app.driver.name=CSI_Driver", "at '/app/driver/name': 'CSI_Driver' does not match pattern"),
        ("csi-driver", "app.driver.podReadinessGates={pod-ipx:any}", "at '/app/driver/podReadinessGates/0'"),
        ("csi-driver", "securityContext.privileged=false", "at '/securityContext/privileged': value must be true"),
        ("csi-driver", "securityContext.runAsUser=1000", "at '/securityContext/runAsUser': value must be 0"),
        ("csi-driver-spiffe", "app.certificateRequestDuration=1 hour", "at '/app/certificateRequestDuration'"),
        ("csi-driver-spiffe", "app.driver.volumeFileName.key=../tls.key", "at '/app/driver/volumeFileName/key'"),
        ("csi-driver-spiffe", "openshift.securityContextConstraint.enabled=maybe", "value must be one of"),
    ],
)
def test_a_broken_rule_fails_naming_the_key_and_the_rule(chart: Chart, assignment: str, message: str) -> None:
    assert message in _error(chart, assignment)


def test_a_spiffe_driver_without_any_issuer_is_refused_naming_the_key() -> None:
    error = _error("csi-driver-spiffe", "app.issuer.name=")
    assert "app.issuer.name: must be set unless app.runtimeIssuanceConfigMap is set" in error


def test_the_error_holds_no_traceback_and_no_template_source() -> None:
    error = _error("csi-driver", "app.driver.useTokenRequests=true")
    assert "Traceback" not in error and "{{" not in error
