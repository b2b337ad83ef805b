"""Approved and Denied: each at most once, only True, never together, and final once set."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from cm_support import CRS, request_body

from certcsi.sandbox.apiserver.authn import UserInfo
from certcsi.sandbox.apiserver.errors import ApiError
from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import CertManager, signer_names

APPROVED = {
    "type": "Approved",
    "status": "True",
    "reason": "me",
    "message": "ok",
    "lastTransitionTime": "2024-01-01T00:00:00Z",
}
DENIED = {
    "type": "Denied",
    "status": "True",
    "reason": "me",
    "message": "no",
    "lastTransitionTime": "2024-01-01T00:00:00Z",
}


@pytest.fixture
def admitted(store: Store) -> Store:
    CertManager(store)
    store.create(CRS, request_body())
    return store


def set_conditions(store: Store, conditions: list[dict[str, Any]], *, user: Any = None) -> dict[str, Any]:
    def change(obj: dict[str, Any]) -> None:
        obj["status"] = {"conditions": conditions}

    return store.mutate(CRS, "team", "req", change, subresource="status", user=user)


def messages(exc: ApiError) -> list[str]:
    assert exc.details is not None
    return [f"{c['field']}: {c['message']}" for c in exc.details["causes"]]


def test_approved_and_denied_cannot_coexist(admitted: Store) -> None:
    with pytest.raises(ApiError) as info:
        set_conditions(admitted, [APPROVED, DENIED])
    assert info.value.code == 422
    assert messages(info.value) == [
        "status.conditions: Forbidden: both 'Denied' and 'Approved' conditions cannot coexist"
    ]


def test_approval_may_only_be_true(admitted: Store) -> None:
    with pytest.raises(ApiError) as info:
        set_conditions(admitted, [{**APPROVED, "status": "False"}])
    assert messages(info.value) == [
        'status.conditions.Approved: Invalid value: "False": "Approved" condition may only be set to True'
    ]


def test_approval_cannot_be_removed_or_changed_once_set(admitted: Store) -> None:
    set_conditions(admitted, [APPROVED])
    with pytest.raises(ApiError) as info:
        set_conditions(admitted, [])
    assert messages(info.value) == ["status.conditions: Forbidden: 'Approved' condition may not be modified once set"]
    with pytest.raises(ApiError):
        set_conditions(admitted, [{**APPROVED, "message": "edited"}])
    with pytest.raises(ApiError):
        set_conditions(admitted, [DENIED])


def test_denial_is_final(admitted: Store) -> None:
    set_conditions(admitted, [DENIED])
    with pytest.raises(ApiError) as info:
        set_conditions(admitted, [APPROVED])
    assert "status.conditions: Forbidden: 'Denied' condition may not be modified once set" in messages(info.value)


def test_other_conditions_may_change_beside_approval(admitted: Store) -> None:
    set_conditions(admitted, [APPROVED])
    ready = {"type": "Ready", "status": "False", "reason": "Pending", "message": "wait"}
    updated = set_conditions(admitted, [APPROVED, ready])
    assert [c["type"] for c in updated["status"]["conditions"]] == ["Approved", "Ready"]


def test_signer_permission_is_asked_for_user_approvals(store: Store) -> None:
    asked: list[tuple[str, Sequence[str]]] = []

    def can_approve(user: Any, names: Sequence[str]) -> bool:
        asked.append((user.username, names))
        return bool(user.username == "approver")

    CertManager(store, can_approve=can_approve)
    store.create(CRS, request_body())
    with pytest.raises(ApiError) as info:
        set_conditions(store, [APPROVED], user=UserInfo("mallory"))
    assert messages(info.value) == [
        'status.conditions: Forbidden: user "mallory" does not have permissions to set approved/denied '
        "conditions for issuer {name:sandbox-ca kind:ClusterIssuer group:cert-manager.io}"
    ]
    set_conditions(store, [APPROVED], user=UserInfo("approver"))
    assert asked[-1] == ("approver", ["clusterissuers.cert-manager.io/*", "clusterissuers.cert-manager.io/sandbox-ca"])


def test_signer_names_of_a_namespaced_issuer() -> None:
    assert signer_names({"name": "ca", "kind": "Issuer"}, "team") == [
        "issuers.cert-manager.io/*",
        "issuers.cert-manager.io/team.ca",
    ]
