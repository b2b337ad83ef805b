"""RBAC is exact and minimal: each rule is there only when a configured call needs it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from chart_support import ALL_CONFIGS, config_objects
from helm_charts import Chart, Obj, render
from helm_charts import find as only


def objects(chart: Chart, sets: Sequence[str] = ()) -> list[Obj]:
    return render(chart, sets=sets)


CR = "cert-manager.io"
LIST_WATCH = {"apiGroups": [CR], "resources": ["certificaterequests"], "verbs": ["list", "watch"]}
CREATE = {"apiGroups": [CR], "resources": ["certificaterequests"], "verbs": ["create"]}
DELETE = {"apiGroups": [CR], "resources": ["certificaterequests"], "verbs": ["delete"]}
EVENTS = {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]}
# The approver records each decision once (decisions are final), so it never patches an event.
APPROVER_EVENTS = {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]}
STATUS = {"apiGroups": [CR], "resources": ["certificaterequests/status"], "verbs": ["update"]}
LEASE_CREATE = {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]}


def _rules(found: Sequence[Obj], kind: str, name: str) -> list[Obj]:
    rules: list[Obj] = only(found, kind, name)["rules"]
    return rules


def _signers(names: list[str] | None) -> Obj:
    found: Obj = {"apiGroups": [CR], "resources": ["signers"], "verbs": ["approve"]}
    if names:
        found["resourceNames"] = names
    return found


def test_csi_driver_default_rules() -> None:
    assert _rules(objects("csi-driver"), "ClusterRole", "cert-manager-csi-driver") == [
        LIST_WATCH,
        CREATE,
        DELETE,
        EVENTS,
    ]


def test_csi_driver_with_token_requests_does_not_create_as_itself() -> None:
    rules = _rules(objects("csi-driver", ["app.driver.useTokenRequest=true"]), "ClusterRole", "cert-manager-csi-driver")
    assert rules == [LIST_WATCH, DELETE, EVENTS]


def test_csi_driver_reads_pods_only_for_readiness_gates() -> None:
    gated = objects("csi-driver", ["app.driver.podReadinessGates={pod-ip:any}", "app.driver.continueOnNotReady=true"])
    watch = {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}
    get = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
    assert _rules(gated, "ClusterRole", "cert-manager-csi-driver")[-2:] == [watch, get]
    plain = _rules(objects("csi-driver"), "ClusterRole", "cert-manager-csi-driver")
    assert watch not in plain and get not in plain


def test_spiffe_driver_creates_as_itself_only_in_own_service_account_mode() -> None:
    name = "cert-manager-csi-driver-spiffe"
    assert _rules(objects("csi-driver-spiffe"), "ClusterRole", name) == [LIST_WATCH, DELETE, EVENTS]
    own = objects("csi-driver-spiffe", ["app.driver.useOwnServiceAccount=true"])
    assert _rules(own, "ClusterRole", name) == [LIST_WATCH, CREATE, DELETE, EVENTS]


def test_runtime_config_map_is_readable_by_name_only_and_only_when_configured() -> None:
    # Upstream's (empty) Role is kept, so `helm upgrade` neither deletes nor recreates it.
    assert only(objects("csi-driver-spiffe"), "Role", "cert-manager-csi-driver-spiffe")["rules"] == []
    found = objects("csi-driver-spiffe", ["app.runtimeIssuanceConfigMap=issuer-config"])
    role = only(found, "Role", "cert-manager-csi-driver-spiffe")
    assert role["metadata"]["namespace"] == "cert-manager"
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list", "watch"], "resourceNames": ["issuer-config"]}
    ]


def test_approver_default_rules() -> None:
    found = objects("csi-driver-spiffe")
    assert _rules(found, "ClusterRole", "cert-manager-csi-driver-spiffe-approver") == [
        LIST_WATCH,
        STATUS,
        _signers(["clusterissuers.cert-manager.io/spiffe-ca"]),
        APPROVER_EVENTS,
    ]
    assert _rules(found, "Role", "cert-manager-csi-driver-spiffe-approver") == [
        LEASE_CREATE,
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "update"],
            "resourceNames": ["spiffe.csi.cert-manager.io"],
        },
    ]


@pytest.mark.parametrize(
    ("sets", "names"),
    [
        (["app.issuer.kind=Issuer", "app.issuer.name=ca"], ["issuers.cert-manager.io/*"]),
        (["app.issuer.kind=ClusterIssuer", "app.issuer.name=ca"], ["clusterissuers.cert-manager.io/ca"]),
        (
            ["app.issuer.kind=AWSPCAClusterIssuer", "app.issuer.group=awspca.cert-manager.io", "app.issuer.name=pca"],
            ["awspcaclusterissuers.awspca.cert-manager.io/pca"],
        ),
        (["app.approver.signerName=issuers.example.com/ns.x"], ["issuers.example.com/ns.x"]),
        (["app.approver.autoApproveNonSpiffe=true"], None),
        (["app.runtimeIssuanceConfigMap=issuer-config"], None),
    ],
)
def test_approver_may_approve_only_for_the_signers_it_serves(sets: list[str], names: list[str] | None) -> None:
    rules = _rules(objects("csi-driver-spiffe", sets), "ClusterRole", "cert-manager-csi-driver-spiffe-approver")
    assert [r for r in rules if r["resources"] == ["signers"]] == [_signers(names)]


def test_approver_reads_pods_only_in_own_service_account_mode() -> None:
    pods = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
    name = "cert-manager-csi-driver-spiffe-approver"
    assert pods not in _rules(objects("csi-driver-spiffe"), "ClusterRole", name)
    assert pods in _rules(objects("csi-driver-spiffe", ["app.driver.useOwnServiceAccount=true"]), "ClusterRole", name)


def test_approver_reads_the_runtime_config_map_only_for_auto_approval() -> None:
    name = "cert-manager-csi-driver-spiffe-approver"
    plain = objects("csi-driver-spiffe", ["app.runtimeIssuanceConfigMap=cm"])
    assert all(r["resources"] != ["configmaps"] for r in _rules(plain, "Role", name))
    auto = objects("csi-driver-spiffe", ["app.runtimeIssuanceConfigMap=cm", "app.approver.autoApproveNonSpiffe=true"])
    config_map = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list", "watch"], "resourceNames": ["cm"]}
    assert config_map in _rules(auto, "Role", name)


@pytest.mark.parametrize("chart", ["csi-driver", "csi-driver-spiffe"])
def test_openshift_scc_only_when_explicitly_enabled(chart: Chart) -> None:
    scc = {"apiGroups": ["security.openshift.io"], "resources": ["securitycontextconstraints"], "verbs": ["use"]}

    def scc_rules(found: list[Obj]) -> list[Obj]:
        return [
            r for o in found if o["kind"] == "ClusterRole" for r in o["rules"] if r["resources"] == scc["resources"]
        ]

    assert scc_rules(objects(chart)) == []  # "detect", and Helm's cluster serves no security.openshift.io
    enabled = objects(
        chart, ["openshift.securityContextConstraint.enabled=true", "openshift.securityContextConstraint.name=x"]
    )
    assert scc_rules(enabled) == [{**scc, "resourceNames": ["x"]}]


@pytest.mark.parametrize(("chart", "config"), ALL_CONFIGS)
def test_no_wildcards_no_secrets_and_every_role_bound_to_the_account_that_runs(chart: Chart, config: str) -> None:
    found = config_objects(chart, config)
    accounts = {o["metadata"]["name"] for o in found if o["kind"] == "ServiceAccount"}
    running = {
        o["spec"]["template"]["spec"]["serviceAccountName"] for o in found if o["kind"] in ("DaemonSet", "Deployment")
    }
    assert running == accounts
    for role in (o for o in found if o["kind"] in ("ClusterRole", "Role")):
        for r in role["rules"] or []:
            assert "*" not in r["verbs"] and "*" not in r["resources"] and "*" not in r["apiGroups"]
            assert "secrets" not in r["resources"]
        binding = only(found, role["kind"] + "Binding", role["metadata"]["name"])
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": role["kind"],
            "name": role["metadata"]["name"],
        }
        [subject] = binding["subjects"]
        assert subject["kind"] == "ServiceAccount" and subject["name"] in accounts
        assert subject["namespace"] == only(found, "ServiceAccount", subject["name"])["metadata"]["namespace"]
