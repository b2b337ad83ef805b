"""On CREATE the requester's identity replaces whatever spec.username/uid/groups/extra said."""

from __future__ import annotations

import pytest
from cm_support import CRS, request_body

from certcsi.sandbox.apiserver.authn import UserInfo
from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import CertManager


@pytest.fixture
def admitted(store: Store) -> Store:
    CertManager(store)
    return store


def test_identity_is_stamped_from_the_caller(admitted: Store) -> None:
    user = UserInfo(
        "system:serviceaccount:team:app",
        uid="1234",
        groups=("system:serviceaccounts", "system:authenticated"),
        extra={"authentication.kubernetes.io/pod-name": ("app-0",)},
    )
    body = request_body(username="admin", uid="forged", groups=["system:masters"], extra={"x": ["y"]})
    created = admitted.create(CRS, body, user=user)
    spec = created["spec"]
    assert spec["username"] == "system:serviceaccount:team:app"
    assert spec["uid"] == "1234"
    assert spec["groups"] == ["system:serviceaccounts", "system:authenticated"]
    assert spec["extra"] == {"authentication.kubernetes.io/pod-name": ["app-0"]}


def test_extra_is_removed_when_the_caller_has_none(admitted: Store) -> None:
    created = admitted.create(CRS, request_body(extra={"x": ["y"]}), user=UserInfo("alice", groups=("dev",)))
    assert "extra" not in created["spec"]
    assert created["spec"]["username"] == "alice"
    assert created["spec"]["groups"] == ["dev"]


def test_in_process_system_writes_keep_what_they_say(admitted: Store) -> None:
    created = admitted.create(CRS, request_body(username="system:serviceaccount:a:b", groups=["g"]))
    assert created["spec"]["username"] == "system:serviceaccount:a:b"
    assert created["spec"]["groups"] == ["g"]
    assert "uid" not in created["spec"]
