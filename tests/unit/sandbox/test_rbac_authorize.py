"""The sandbox's RBAC authorizer: subjects, bindings, scoping and rule matching as kube-apiserver."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from certcsi.sandbox.apiserver.authn import UserInfo
from certcsi.sandbox.apiserver.rbac import (
    CLUSTER_ROLE_BINDINGS,
    CLUSTER_ROLES,
    ROLE_BINDINGS,
    ROLES,
    Authorizer,
    Decision,
    RequestAttributes,
)

CM = "cert-manager.io"
SA_USER = UserInfo(
    "system:serviceaccount:app:runner",
    uid="sa-uid",
    groups=("system:serviceaccounts", "system:serviceaccounts:app", "system:authenticated"),
)
ALICE = UserInfo("alice", groups=("devs", "system:authenticated"))
CREATE_CR = RequestAttributes("create", CM, "certificaterequests", namespace="app")


class Store:
    """A dict-backed ObjectReader that counts how often it is asked."""

    def __init__(self) -> None:
        self.by_resource: dict[str, list[dict[str, Any]]] = {}
        self.calls: Counter[str] = Counter()

    def add(self, resource: str, name: str, namespace: str | None = None, **body: Any) -> None:
        metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
        self.by_resource.setdefault(resource, []).append({"metadata": metadata, **body})

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        self.calls["get"] += 1
        return next((o for o in self._select(resource, namespace) if o["metadata"]["name"] == name), None)

    def _select(self, resource: str, namespace: str | None) -> list[dict[str, Any]]:
        objects = self.by_resource.get(resource, [])
        return [o for o in objects if namespace is None or o["metadata"].get("namespace") == namespace]

    def list(self, resource: str, namespace: str | None) -> list[dict[str, Any]]:
        self.calls["list"] += 1
        return self._select(resource, namespace)

    # --- builders, in the shapes `kubectl get -o json` shows -------------------------------------

    def cluster_role(self, name: str, *rules: dict[str, Any]) -> None:
        self.add(CLUSTER_ROLES, name, rules=list(rules))

    def role(self, namespace: str, name: str, *rules: dict[str, Any]) -> None:
        self.add(ROLES, name, namespace, rules=list(rules))

    def cluster_binding(self, name: str, role: str, *subjects: dict[str, str], kind: str = "ClusterRole") -> None:
        ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role}
        self.add(CLUSTER_ROLE_BINDINGS, name, roleRef=ref, subjects=list(subjects))

    def binding(self, namespace: str, name: str, role: str, *subjects: dict[str, str], kind: str = "Role") -> None:
        ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role}
        self.add(ROLE_BINDINGS, name, namespace, roleRef=ref, subjects=list(subjects))


def rule(verbs: list[str], groups: list[str], resources: list[str], names: list[str] | None = None) -> dict[str, Any]:
    built: dict[str, Any] = {"verbs": verbs, "apiGroups": groups, "resources": resources}
    if names is not None:
        built["resourceNames"] = names
    return built


def user(name: str) -> dict[str, str]:
    return {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def group(name: str) -> dict[str, str]:
    return {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def service_account(name: str, namespace: str | None) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, **({"namespace": namespace} if namespace else {})}


CR_CREATOR = rule(["create"], [CM], ["certificaterequests"])


@pytest.fixture
def store() -> Store:
    return Store()


def allowed(store: Store, who: UserInfo, attrs: RequestAttributes) -> bool:
    return Authorizer(store).authorize(who, attrs).allowed


# --- who: masters and the subject kinds ----------------------------------------------------------


def test_nothing_bound_means_denied_without_reason(store: Store) -> None:
    assert Authorizer(store).authorize(SA_USER, CREATE_CR) == Decision(False, "")


def test_system_masters_may_do_anything_without_bindings(store: Store) -> None:
    admin = UserInfo("kubernetes-admin", groups=("system:masters",))
    assert allowed(store, admin, RequestAttributes("delete", "", "namespaces", name="kube-system"))


def test_user_subject_grants_cluster_wide(store: Store) -> None:
    store.cluster_role("cr-creator", CR_CREATOR)
    store.cluster_binding("alice-crs", "cr-creator", user("alice"))
    decision = Authorizer(store).authorize(ALICE, CREATE_CR)
    assert decision == Decision(
        True, 'RBAC: allowed by ClusterRoleBinding "alice-crs" of ClusterRole "cr-creator" to User "alice"'
    )
    assert allowed(store, ALICE, RequestAttributes("create", CM, "certificaterequests", namespace="other"))
    assert not allowed(store, SA_USER, CREATE_CR)


def test_user_subject_matches_the_exact_name_only(store: Store) -> None:
    store.cluster_role("cr-creator", CR_CREATOR)
    store.cluster_binding("b", "cr-creator", user("alice"))
    assert not allowed(store, UserInfo("alice2", groups=("system:authenticated",)), CREATE_CR)


def test_group_subject_grants_members(store: Store) -> None:
    store.cluster_role("cr-creator", CR_CREATOR)
    store.cluster_binding("devs-crs", "cr-creator", group("devs"))
    assert allowed(store, ALICE, CREATE_CR)
    assert not allowed(store, UserInfo("devs"), CREATE_CR)


@pytest.mark.parametrize(
    ("group_name", "granted"),
    [
        ("system:authenticated", True),
        ("system:serviceaccounts", True),
        ("system:serviceaccounts:app", True),
        ("system:serviceaccounts:other", False),
        ("system:unauthenticated", False),
    ],
)
def test_service_account_groups(store: Store, group_name: str, granted: bool) -> None:
    store.cluster_role("cr-creator", CR_CREATOR)
    store.cluster_binding("b", "cr-creator", group(group_name))
    assert allowed(store, SA_USER, CREATE_CR) is granted


def test_service_account_subject_in_a_cluster_binding(store: Store) -> None:
    store.cluster_role("cr-creator", CR_CREATOR)
    store.cluster_binding("runner-crs", "cr-creator", service_account("runner", "app"))
    assert Authorizer(store).authorize(SA_USER, CREATE_CR).reason == (
        'RBAC: allowed by ClusterRoleBinding "runner-crs" of ClusterRole "cr-creator" to ServiceAccount "runner/app"'
    )


def test_service_account_subject_in_another_namespace_does_not_match(store: Store) -> None:
    store.cluster_role("cr-creator", CR_CREATOR)
    store.cluster_binding("b", "cr-creator", service_account("runner", "other"))
    assert not allowed(store, SA_USER, CREATE_CR)


def test_cluster_binding_service_account_subject_needs_a_namespace(store: Store) -> None:
    store.cluster_role("cr-creator", CR_CREATOR)
    store.cluster_binding("b", "cr-creator", service_account("runner", None))
    assert not allowed(store, SA_USER, CREATE_CR)


def test_role_binding_defaults_service_account_subjects_to_its_namespace(store: Store) -> None:
    store.role("app", "cr-creator", CR_CREATOR)
    store.binding("app", "b", "cr-creator", service_account("runner", None))
    assert Authorizer(store).authorize(SA_USER, CREATE_CR).reason == (
        'RBAC: allowed by RoleBinding "b/app" of Role "cr-creator" to ServiceAccount "runner/app"'
    )


def test_unknown_subject_kinds_match_nobody(store: Store) -> None:
    store.cluster_role("cr-creator", CR_CREATOR)
    store.cluster_binding("b", "cr-creator", {"kind": "Robot", "name": "alice"})
    assert not allowed(store, ALICE, CREATE_CR)


def test_any_subject_of_a_binding_may_match(store: Store) -> None:
    store.cluster_role("cr-creator", CR_CREATOR)
    store.cluster_binding("b", "cr-creator", user("bob"), group("nobody"), group("devs"))
    assert Authorizer(store).authorize(ALICE, CREATE_CR).reason.endswith('to Group "devs"')


# --- where: namespaces and role kinds ----------------------------------------------------------


def test_role_binding_grants_its_role_in_its_namespace_only(store: Store) -> None:
    store.role("app", "cr-creator", CR_CREATOR)
    store.binding("app", "b", "cr-creator", service_account("runner", "app"))
    assert allowed(store, SA_USER, CREATE_CR)
    assert not allowed(store, SA_USER, RequestAttributes("create", CM, "certificaterequests", namespace="other"))
    assert not allowed(store, SA_USER, RequestAttributes("list", CM, "certificaterequests"))


def test_role_binding_to_cluster_role_is_scoped_to_the_binding_namespace(store: Store) -> None:
    store.cluster_role("cr-creator", CR_CREATOR)
    store.binding("app", "b", "cr-creator", service_account("runner", "app"), kind="ClusterRole")
    assert Authorizer(store).authorize(SA_USER, CREATE_CR).reason == (
        'RBAC: allowed by RoleBinding "b/app" of ClusterRole "cr-creator" to ServiceAccount "runner/app"'
    )
    assert not allowed(store, SA_USER, RequestAttributes("create", CM, "certificaterequests", namespace="other"))
    assert not allowed(store, SA_USER, RequestAttributes("create", CM, "certificaterequests"))


def test_role_binding_cannot_reach_a_role_of_another_namespace(store: Store) -> None:
    store.role("other", "cr-creator", CR_CREATOR)
    store.binding("app", "b", "cr-creator", service_account("runner", "app"))
    decision = Authorizer(store).authorize(SA_USER, CREATE_CR)
    assert decision == Decision(False, 'RBAC: role.rbac.authorization.k8s.io "cr-creator" not found')


def test_role_binding_for_a_foreign_service_account_grants_it_here(store: Store) -> None:
    store.role("other", "cr-creator", CR_CREATOR)
    store.binding("other", "b", "cr-creator", service_account("runner", "app"))
    assert allowed(store, SA_USER, RequestAttributes("create", CM, "certificaterequests", namespace="other"))
    assert not allowed(store, SA_USER, CREATE_CR)


def test_cluster_role_binding_cannot_reach_a_role(store: Store) -> None:
    store.role("app", "cr-creator", CR_CREATOR)
    store.cluster_binding("b", "cr-creator", user("alice"), kind="Role")
    assert not allowed(store, ALICE, CREATE_CR)


def test_missing_cluster_role_grants_nothing_and_says_so(store: Store) -> None:
    store.cluster_binding("b", "gone", user("alice"))
    decision = Authorizer(store).authorize(ALICE, CREATE_CR)
    assert decision == Decision(False, 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found')


def test_several_missing_roles_are_aggregated_once_each(store: Store) -> None:
    store.cluster_binding("b1", "gone", user("alice"))
    store.cluster_binding("b2", "gone", group("devs"))
    store.binding("app", "b3", "lost", user("alice"))
    assert Authorizer(store).authorize(ALICE, CREATE_CR).reason == (
        'RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, '
        'role.rbac.authorization.k8s.io "lost" not found]'
    )


def test_one_missing_role_named_twice_is_reported_once(store: Store) -> None:
    store.cluster_binding("b1", "gone", user("alice"))
    store.cluster_binding("b2", "gone", group("devs"))
    assert Authorizer(store).authorize(ALICE, CREATE_CR).reason == (
        'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found'
    )


def test_unsupported_role_kind_grants_nothing(store: Store) -> None:
    store.cluster_role("cr-creator", CR_CREATOR)
    store.cluster_binding("b", "cr-creator", user("alice"), kind="Policy")
    assert Authorizer(store).authorize(ALICE, CREATE_CR).reason == 'RBAC: unsupported role reference kind: "Policy"'


def test_missing_role_does_not_hide_another_grant(store: Store) -> None:
    store.cluster_binding("a-broken", "gone", user("alice"))
    store.cluster_role("cr-creator", CR_CREATOR)
    store.cluster_binding("b-working", "cr-creator", user("alice"))
    assert allowed(store, ALICE, CREATE_CR)


# --- what: rule matching -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "granting_rule",
    [
        rule(["*"], [CM], ["certificaterequests"]),
        rule(["create"], ["*"], ["certificaterequests"]),
        rule(["create"], [CM], ["*"]),
        rule(["get", "create"], ["", CM], ["pods", "certificaterequests"]),
    ],
)
def test_wildcards_and_lists_match(store: Store, granting_rule: dict[str, Any]) -> None:
    store.cluster_role("r", granting_rule)
    store.cluster_binding("b", "r", user("alice"))
    assert allowed(store, ALICE, CREATE_CR)


@pytest.mark.parametrize(
    "other_rule",
    [
        rule(["get"], [CM], ["certificaterequests"]),
        rule(["create"], [""], ["certificaterequests"]),
        rule(["create"], [CM], ["certificates"]),
        rule(["create"], [CM], ["certificaterequests/status"]),
        {"verbs": ["*"], "nonResourceURLs": ["*"]},
    ],
)
def test_any_mismatch_denies(store: Store, other_rule: dict[str, Any]) -> None:
    store.cluster_role("r", other_rule)
    store.cluster_binding("b", "r", user("alice"))
    assert not allowed(store, ALICE, CREATE_CR)


STATUS_UPDATE = RequestAttributes("update", CM, "certificaterequests", "status", namespace="app", name="cr-1")


@pytest.mark.parametrize(
    ("resources", "granted"),
    [
        (["certificaterequests"], False),
        (["certificaterequests/status"], True),
        (["*/status"], True),
        (["*/scale"], False),
        (["*"], True),
        # kube-apiserver has no "<resource>/*" form: it only matches that literal resource name.
        (["certificaterequests/*"], False),
    ],
)
def test_subresources_need_their_own_rule(store: Store, resources: list[str], granted: bool) -> None:
    store.cluster_role("r", rule(["update"], [CM], resources))
    store.cluster_binding("b", "r", user("alice"))
    assert allowed(store, ALICE, STATUS_UPDATE) is granted


def test_subresource_rule_does_not_grant_the_resource(store: Store) -> None:
    store.cluster_role("r", rule(["update"], [CM], ["certificaterequests/status", "*/status"]))
    store.cluster_binding("b", "r", user("alice"))
    assert not allowed(store, ALICE, RequestAttributes("update", CM, "certificaterequests", namespace="app"))


CONFIG_READER = rule(["get", "list", "watch", "create", "delete"], [""], ["configmaps"], ["runtime-config"])


@pytest.mark.parametrize(
    ("verb", "name", "granted"),
    [
        ("get", "runtime-config", True),
        ("get", "other", False),
        ("delete", "runtime-config", True),
        # list and watch carry a name only with a metadata.name field selector.
        ("list", "runtime-config", True),
        ("watch", "runtime-config", True),
        ("list", "", False),
        ("watch", "", False),
        # create has no name, so resourceNames can never allow it.
        ("create", "", False),
    ],
)
def test_resource_names(store: Store, verb: str, name: str, granted: bool) -> None:
    store.role("app", "r", CONFIG_READER)
    store.binding("app", "b", "r", service_account("runner", "app"))
    attrs = RequestAttributes(verb, "", "configmaps", namespace="app", name=name)
    assert allowed(store, SA_USER, attrs) is granted


def test_empty_resource_names_allow_every_name(store: Store) -> None:
    store.cluster_role("r", rule(["get"], [""], ["configmaps"], []))
    store.cluster_binding("b", "r", user("alice"))
    assert allowed(store, ALICE, RequestAttributes("get", "", "configmaps", namespace="app", name="x"))


def test_cert_manager_signer_approval(store: Store) -> None:
    signer = "clusterissuers.cert-manager.io/csi-driver-spiffe-ca"
    store.cluster_role("approver", rule(["approve"], [CM], ["signers"], [signer]))
    store.cluster_binding("b", "approver", service_account("approver", "cert-manager"))
    approver = UserInfo("system:serviceaccount:cert-manager:approver", groups=("system:authenticated",))
    assert allowed(store, approver, RequestAttributes("approve", CM, "signers", name=signer))
    assert not allowed(store, approver, RequestAttributes("approve", CM, "signers", name="issuers.cert-manager.io/*"))


# --- cost -----------------------------------------------------------------------------------------


def test_each_role_is_read_once_per_request(store: Store) -> None:
    store.cluster_role("unrelated", rule(["get"], [""], ["secrets"]))
    for index in range(50):
        store.cluster_binding(f"b{index}", "unrelated", group("system:authenticated"))
        store.binding("app", f"rb{index}", "unrelated", group("devs"), kind="ClusterRole")
    assert not allowed(store, ALICE, CREATE_CR)
    assert store.calls == Counter(list=2, get=1)


def test_cluster_scope_requests_skip_role_bindings(store: Store) -> None:
    assert not allowed(store, ALICE, RequestAttributes("list", CM, "clusterissuers"))
    assert store.calls == Counter(list=1)
