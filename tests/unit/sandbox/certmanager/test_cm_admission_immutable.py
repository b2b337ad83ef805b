"""After creation the spec, the identity and cert-manager's annotations never change; status may."""

from __future__ import annotations

from typing import Any

import pytest
from cm_support import CRS, request_body

from certcsi.sandbox.apiserver.authn import UserInfo
from certcsi.sandbox.apiserver.errors import ApiError
from certcsi.sandbox.apiserver.storage import Store, copy_obj
from certcsi.sandbox.certmanager import CertManager


@pytest.fixture
def admitted(store: Store) -> Store:
    CertManager(store)
    return store


def causes(exc: ApiError) -> list[tuple[str, str, str]]:
    assert exc.details is not None
    return [(c["reason"], c["field"], c["message"]) for c in exc.details["causes"]]


def test_spec_change_is_forbidden(admitted: Store) -> None:
    created = admitted.create(CRS, request_body(duration="1h"))
    changed = copy_obj(created)
    changed["spec"]["duration"] = "2h"
    with pytest.raises(ApiError) as info:
        admitted.update(CRS, changed, namespace="team", name="req")
    assert info.value.code == 422
    assert causes(info.value) == [("FieldValueForbidden", "spec", "Forbidden: cannot change spec after creation")]
    assert info.value.message.endswith("spec: Forbidden: cannot change spec after creation")
    assert admitted.get(CRS, "team", "req")["spec"]["duration"] == "1h"


def test_identity_change_names_the_identity_field(admitted: Store) -> None:
    created = admitted.create(CRS, request_body(), user=UserInfo("alice"))
    changed = copy_obj(created)
    changed["spec"]["username"] = "mallory"
    with pytest.raises(ApiError) as info:
        admitted.update(CRS, changed, namespace="team", name="req", user=UserInfo("mallory"))
    assert (
        "FieldValueForbidden",
        "spec.username",
        "Forbidden: username identity cannot be changed once set",
    ) in causes(info.value)


def test_metadata_and_status_writes_pass(admitted: Store) -> None:
    admitted.create(CRS, request_body())

    def label(obj: dict[str, Any]) -> None:
        obj["metadata"]["labels"] = {"a": "b"}

    assert admitted.mutate(CRS, "team", "req", label)["metadata"]["labels"] == {"a": "b"}

    def status(obj: dict[str, Any]) -> None:
        obj["status"] = {"failureTime": "2024-01-01T00:00:00Z"}

    assert admitted.mutate(CRS, "team", "req", status, subresource="status")["status"]["failureTime"]


def test_cert_manager_annotations_are_frozen(admitted: Store) -> None:
    body = request_body()
    body["metadata"]["annotations"] = {"cert-manager.io/certificate-name": "web", "team": "x"}
    admitted.create(CRS, body)

    def other(obj: dict[str, Any]) -> None:
        obj["metadata"]["annotations"]["team"] = "y"

    admitted.mutate(CRS, "team", "req", other)

    def ours(obj: dict[str, Any]) -> None:
        del obj["metadata"]["annotations"]["cert-manager.io/certificate-name"]

    with pytest.raises(ApiError) as info:
        admitted.mutate(CRS, "team", "req", ours)
    assert causes(info.value) == [
        (
            "FieldValueForbidden",
            "metadata.annotations.cert-manager.io/certificate-name",
            "Forbidden: cannot change cert-manager annotation after creation",
        )
    ]
