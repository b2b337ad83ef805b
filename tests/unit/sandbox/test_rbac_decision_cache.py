"""The Authorizer's decision cache over the sandbox's store: bindings are walked once per request shape,
and any change to a Role, ClusterRole or binding is seen by the very next request."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from certcsi.sandbox.apiserver.identity import UserInfo
from certcsi.sandbox.apiserver.rbac import (
    CLUSTER_ROLE_BINDINGS,
    CLUSTER_ROLES,
    ROLE_BINDINGS,
    ROLES,
    Authorizer,
    RequestAttributes,
)
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.apiserver.storage import Store, StoreReader

NS = "app"
RBAC = "rbac.authorization.k8s.io"
ROLE_REF = {"apiGroup": RBAC, "kind": "Role", "name": "requester"}
RUNNER = {"kind": "ServiceAccount", "name": "runner", "namespace": NS}


def account(pod: str = "") -> UserInfo:
    extra = {"authentication.kubernetes.io/pod-name": [pod]} if pod else {}
    groups = ("system:serviceaccounts", f"system:serviceaccounts:{NS}", "system:authenticated")
    return UserInfo(f"system:serviceaccount:{NS}:runner", uid="sa-uid", groups=groups, extra=extra)


def create(name: str = "") -> RequestAttributes:
    return RequestAttributes("create", "cert-manager.io", "certificaterequests", namespace=NS, name=name)


def delete(name: str) -> RequestAttributes:
    return RequestAttributes("delete", "cert-manager.io", "certificaterequests", namespace=NS, name=name)


class CountingReader(StoreReader):
    """The store's reader, counting the lists the RBAC walk makes."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.lists: Counter[str] = Counter()

    def list(self, resource: str, namespace: str | None) -> list[dict[str, Any]]:
        self.lists[resource] += 1
        return super().list(resource, namespace)


@pytest.fixture
def store() -> Store:
    s = Store()
    s.create(BY_KEY["/namespaces"], {"metadata": {"name": NS}})
    role(s, {"verbs": ["create"], "apiGroups": ["cert-manager.io"], "resources": ["certificaterequests"]})
    s.create(BY_KEY[ROLE_BINDINGS], {"metadata": {"name": "requester", "namespace": NS}, "roleRef": ROLE_REF,
                                     "subjects": [RUNNER]})  # fmt: skip
    return s


def role(store: Store, *rules: dict[str, Any]) -> None:
    body = {"metadata": {"name": "requester", "namespace": NS}, "rules": list(rules)}
    if store.find(BY_KEY[ROLES], NS, "requester") is None:
        store.create(BY_KEY[ROLES], body)
    else:
        store.update(BY_KEY[ROLES], body, namespace=NS, name="requester")


@pytest.fixture
def reader(store: Store) -> CountingReader:
    return CountingReader(store)


def test_the_same_request_shape_walks_the_bindings_once(reader: CountingReader) -> None:
    authorizer = Authorizer(reader)
    first = authorizer.authorize(account("web-0"), create())
    walked = sum(reader.lists.values())
    # Another pod of the same ServiceAccount: pod extras never count in RBAC.
    assert [authorizer.authorize(account(f"web-{i}"), create()) for i in range(5)] == [first] * 5
    assert first.allowed
    assert sum(reader.lists.values()) == walked


def test_every_decision_is_audited_cached_or_not(reader: CountingReader) -> None:
    seen: list[bool] = []
    authorizer = Authorizer(reader, audit=lambda _user, _attrs, decision: seen.append(decision.allowed))
    for _ in range(3):
        authorizer.authorize(account(), create())
        authorizer.authorize(account(), delete("a"))
    assert seen == [True, False] * 3


def test_a_changed_role_is_seen_by_the_next_request(store: Store, reader: CountingReader) -> None:
    authorizer = Authorizer(reader)
    assert authorizer.authorize(account(), create()).allowed
    role(store, {"verbs": ["get"], "apiGroups": ["cert-manager.io"], "resources": ["certificaterequests"]})
    assert not authorizer.authorize(account(), create()).allowed


def test_a_removed_binding_is_seen_by_the_next_request(store: Store, reader: CountingReader) -> None:
    authorizer = Authorizer(reader)
    assert authorizer.authorize(account(), create()).allowed
    store.delete(BY_KEY[ROLE_BINDINGS], NS, "requester")
    assert not authorizer.authorize(account(), create()).allowed


def test_a_new_cluster_binding_is_seen_by_the_next_request(store: Store, reader: CountingReader) -> None:
    authorizer = Authorizer(reader)
    assert not authorizer.authorize(account(), delete("a")).allowed
    everything = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
    store.create(BY_KEY[CLUSTER_ROLES], {"metadata": {"name": "everything"}, "rules": [everything]})
    ref = {"apiGroup": RBAC, "kind": "ClusterRole", "name": "everything"}
    body = {"metadata": {"name": "everything"}, "roleRef": ref, "subjects": [RUNNER]}
    store.create(BY_KEY[CLUSTER_ROLE_BINDINGS], body)
    assert authorizer.authorize(account(), delete("a")).allowed


def test_other_writes_keep_the_decisions(store: Store, reader: CountingReader) -> None:
    authorizer = Authorizer(reader)
    authorizer.authorize(account(), create())
    walked = sum(reader.lists.values())
    store.create(BY_KEY["/configmaps"], {"metadata": {"name": "x", "namespace": NS}})
    authorizer.authorize(account(), create())
    assert sum(reader.lists.values()) == walked


def test_resource_names_make_a_decision_hold_for_that_name_only(store: Store, reader: CountingReader) -> None:
    role(
        store,
        {"verbs": ["create"], "apiGroups": ["cert-manager.io"], "resources": ["certificaterequests"]},
        {
            "verbs": ["delete"],
            "apiGroups": ["cert-manager.io"],
            "resources": ["certificaterequests"],
            "resourceNames": ["mine"],
        },
    )
    authorizer = Authorizer(reader)
    assert authorizer.authorize(account(), delete("mine")).allowed
    assert not authorizer.authorize(account(), delete("theirs")).allowed
    assert authorizer.authorize(account(), delete("mine")).allowed
    assert not authorizer.authorize(account(), delete("theirs")).allowed


def test_without_a_change_count_nothing_is_cached(store: Store) -> None:
    class PlainReader:
        """An ObjectReader that cannot tell whether RBAC changed."""

        def __init__(self) -> None:
            self.inner = StoreReader(store)
            self.lists = 0

        def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
            return self.inner.get(resource, namespace, name)

        def list(self, resource: str, namespace: str | None) -> list[dict[str, Any]]:
            self.lists += 1
            return self.inner.list(resource, namespace)

    plain = PlainReader()
    authorizer = Authorizer(plain)
    authorizer.authorize(account(), create())
    once = plain.lists
    authorizer.authorize(account(), create())
    assert plain.lists == 2 * once
