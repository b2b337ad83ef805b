"""`kubectl apply` as a user runs it against the sandbox: client-side and server-side, of multi-document
manifests (namespace, RBAC, CSIDriver, DaemonSet, Deployment, Service, a CRD and its resources), with
`--dry-run=server` and `kubectl diff` writing nothing."""

from __future__ import annotations

import pytest
from apiserver_support import Cluster
from manifests import CRD, INSTALL, NAMESPACE, WIDGET

from certcsi.sandbox.apiserver.resources import BY_KEY

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


async def test_client_side_apply_creates_every_document(cluster: Cluster) -> None:
    out = (await cluster.kubectl("apply", "-f", "-", stdin=INSTALL)).ok()
    assert _lines(out) == [
        f"namespace/{NAMESPACE} created",
        "serviceaccount/driver created",
        "clusterrole.rbac.authorization.k8s.io/shop-driver created",
        "clusterrolebinding.rbac.authorization.k8s.io/shop-driver created",
        "csidriver.storage.k8s.io/shop.example.io created",
        "daemonset.apps/driver created",
        "deployment.apps/approver created",
        "service/approver created",
    ]
    listed = (await cluster.kubectl("get", "daemonsets,deployments,services", "-n", NAMESPACE, "-o", "name")).ok()
    assert _lines(listed) == ["daemonset.apps/driver", "deployment.apps/approver", "service/approver"]


async def test_applying_again_changes_nothing(cluster: Cluster) -> None:
    before = cluster.store.resource_version
    out = (await cluster.kubectl("apply", "-f", "-", stdin=INSTALL)).ok()
    assert all(line.endswith(" unchanged") for line in _lines(out)), out
    assert cluster.store.resource_version == before


async def test_server_side_apply_after_client_side_names_the_conflicting_manager(cluster: Cluster) -> None:
    # The manifest leaves fieldRef.apiVersion out; the server defaults it to v1 and fieldRef is atomic,
    # so kubectl-client-side-apply owns a value the server-side applier would change (as on a cluster).
    answer = await cluster.kubectl("apply", "--server-side", "-f", "-", stdin=INSTALL)
    assert answer.code == 1
    assert 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1' in answer.err
    assert '.spec.template.spec.containers[name="driver"].env[name="NODE_ID"].valueFrom.fieldRef' in answer.err
    assert "daemonset.apps/driver serverside-applied" not in answer.out
    assert "deployment.apps/approver serverside-applied" in answer.out


async def test_server_side_apply_of_the_defaulted_form_or_forced_succeeds(cluster: Cluster) -> None:
    indent = " " * 18
    defaulted = INSTALL.replace("fieldPath: spec.nodeName", f"apiVersion: v1\n{indent}fieldPath: spec.nodeName")
    out = (await cluster.kubectl("apply", "--server-side", "-f", "-", stdin=defaulted)).ok()
    assert "daemonset.apps/driver serverside-applied" in out
    forced = (await cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=INSTALL)).ok()
    assert "daemonset.apps/driver serverside-applied" in forced
    daemonset = cluster.store.get(BY_KEY["apps/daemonsets"], NAMESPACE, "driver")
    managers = {(e["manager"], e["operation"]) for e in daemonset["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers


async def test_dry_run_server_and_diff_write_nothing(cluster: Cluster) -> None:
    changed = INSTALL.replace("replicas: 2", "replicas: 5")
    changed = changed.replace(f"name: {NAMESPACE}\n---", "name: elsewhere\n---", 1)
    before = cluster.store.resource_version
    dry = (await cluster.kubectl("apply", "--dry-run=server", "-f", "-", stdin=changed)).ok()
    assert "deployment.apps/approver configured (server dry run)" in dry
    diff = await cluster.kubectl("diff", "-f", "-", stdin=INSTALL.replace("replicas: 2", "replicas: 5"))
    assert diff.code == 1, diff.err  # 1: differences found
    assert "-  replicas: 2" in diff.out and "+  replicas: 5" in diff.out
    assert cluster.store.resource_version == before
    assert cluster.store.get(BY_KEY["apps/deployments"], NAMESPACE, "approver")["spec"]["replicas"] == 2
    assert cluster.store.find(BY_KEY["/namespaces"], None, "elsewhere") is None


async def test_a_users_crd_is_served_validated_and_printed(cluster: Cluster) -> None:
    (await cluster.kubectl("apply", "-f", "-", stdin=CRD)).ok()
    (await cluster.kubectl("apply", "-f", "-", stdin=WIDGET)).ok()
    table = _lines((await cluster.kubectl("get", "widgets", "-n", NAMESPACE)).ok())
    assert table[0].split() == ["NAME", "SIZE", "COLOR", "AGE"]
    assert table[1].split()[:3] == ["big", "3", "blue"]  # the schema's default filled in
    bad = await cluster.kubectl("apply", "-f", "-", stdin=WIDGET.replace("size: 3", "size: 0"))
    assert bad.code == 1
    assert "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1" in bad.err
    (await cluster.kubectl("delete", "crd", "widgets.example.com")).ok()
    gone = await cluster.kubectl("get", "widgets", "-n", NAMESPACE)
    # kubectl's discovery cache may still know the type; the server no longer serves it either way.
    assert gone.code == 1
    assert "the server could not find the requested resource" in gone.err or "doesn't have a resource type" in gone.err
