"""`kubectl auth can-i [--list] [--as]` and `kubectl auth whoami` against the sandbox's RBAC, and
impersonation refused to a user RBAC does not let `impersonate`."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio
from apiserver_support import Cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")
RBAC = "/apis/rbac.authorization.k8s.io/v1"
APP = "system:serviceaccount:default:app"


async def _post(cluster: Cluster, path: str, body: dict[str, object]) -> None:
    status, answer = await cluster.request("POST", path, body=json.dumps(body).encode())
    assert status == 201, answer


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app_reader(cluster: Cluster) -> str:
    """A service account `app` that may read pods in `default`; returns its username."""
    await _post(cluster, "/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "app"}})
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    await _post(cluster, f"{RBAC}/namespaces/default/roles", {"metadata": {"name": "reader"}, "rules": rules})
    binding = {
        "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": "default"}],
    }
    await _post(cluster, f"{RBAC}/namespaces/default/rolebindings", binding)
    return APP


async def test_can_i_as_the_admin(cluster: Cluster) -> None:
    assert (await cluster.kubectl("auth", "can-i", "create", "pods")).ok().strip() == "yes"


async def test_can_i_as_a_service_account(cluster: Cluster, app_reader: str) -> None:
    allowed = await cluster.kubectl("auth", "can-i", "list", "pods", "-n", "default", f"--as={app_reader}")
    assert (allowed.code, allowed.out.strip()) == (0, "yes")
    denied = await cluster.kubectl("auth", "can-i", "delete", "pods", "-n", "default", f"--as={app_reader}")
    assert (denied.code, denied.out.strip()) == (1, "no")


async def test_can_i_list_shows_the_bound_rules(cluster: Cluster, app_reader: str) -> None:
    out = (await cluster.kubectl("auth", "can-i", "--list", "-n", "default", f"--as={app_reader}")).ok()
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line and not line.startswith(" ")}
    assert "[get list]" in rows["pods"]
    assert "[create]" in rows["selfsubjectaccessreviews.authorization.k8s.io"]


async def test_whoami_as_the_admin_and_impersonated(cluster: Cluster) -> None:
    me = (await cluster.kubectl("auth", "whoami", "-o", "json")).ok()
    assert json.loads(me)["status"]["userInfo"]["username"] == "kubernetes-admin"
    other = (await cluster.kubectl("auth", "whoami", "--as=jane", "--as-group=devs", "-o", "json")).ok()
    info = json.loads(other)["status"]["userInfo"]
    assert (info["username"], info["groups"]) == ("jane", ["devs", "system:authenticated"])


async def test_impersonation_needs_the_impersonate_verb(cluster: Cluster, app_reader: str) -> None:
    token = (await cluster.kubectl("create", "token", "app", "-n", "default")).ok().strip()
    refused = await cluster.kubectl("get", "pods", "-n", "default", "--as=jane", token=token)
    assert refused.code == 1
    assert (
        'users "jane" is forbidden: User "system:serviceaccount:default:app" cannot impersonate resource "users" '
        'in API group "" at the cluster scope'
    ) in refused.err
