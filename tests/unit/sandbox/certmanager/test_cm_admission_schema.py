"""CRD schema admission: pruning, defaulting, and 422 Invalid with one Kubernetes cause per violation."""

from __future__ import annotations

from typing import Any

import pytest
from cm_support import CRS, request_body

from certcsi.sandbox.apiserver.errors import ApiError
from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import CertManager


@pytest.fixture
def admitted(store: Store) -> Store:
    CertManager(store)  # registers admission only; nothing started
    return store


def causes_of(exc: ApiError) -> list[tuple[str, str]]:
    assert exc.details is not None
    return [(c["reason"], c["field"]) for c in exc.details["causes"]]


def rejected(store: Store, body: dict[str, Any]) -> ApiError:
    with pytest.raises(ApiError) as info:
        store.create(CRS, body)
    assert info.value.code == 422
    assert info.value.reason == "Invalid"
    return info.value


def test_missing_required_fields_are_field_value_required(admitted: Store) -> None:
    body = request_body()
    del body["spec"]["issuerRef"]
    del body["spec"]["request"]
    exc = rejected(admitted, body)
    assert sorted(causes_of(exc)) == [
        ("FieldValueRequired", "spec.issuerRef"),
        ("FieldValueRequired", "spec.request"),
    ]
    assert exc.message.startswith('CertificateRequest.cert-manager.io "req" is invalid: [')


def test_issuer_ref_name_is_required_by_the_schema(admitted: Store) -> None:
    body = request_body()
    body["spec"]["issuerRef"] = {"kind": "Issuer"}
    exc = rejected(admitted, body)
    assert causes_of(exc) == [("FieldValueRequired", "spec.issuerRef.name")]
    assert exc.message == 'CertificateRequest.cert-manager.io "req" is invalid: spec.issuerRef.name: Required value'


def test_unknown_usage_is_not_supported_with_the_enum_listed(admitted: Store) -> None:
    exc = rejected(admitted, request_body(usages=["server auth", "teleport"]))
    assert causes_of(exc) == [("FieldValueNotSupported", "spec.usages[1]")]
    assert exc.details is not None
    message = exc.details["causes"][0]["message"]
    assert message.startswith('Unsupported value: "teleport": supported values: "signing", "digital signature"')


def test_wrong_type_is_type_invalid(admitted: Store) -> None:
    exc = rejected(admitted, request_body(isCA="yes"))
    assert causes_of(exc) == [("FieldValueTypeInvalid", "spec.isCA")]
    assert exc.details is not None
    assert "spec.isCA in body must be of type boolean" in exc.details["causes"][0]["message"]


def test_request_must_be_base64(admitted: Store) -> None:
    body = request_body()
    body["spec"]["request"] = "not base64!"
    exc = rejected(admitted, body)
    # kube-apiserver reports a `format: byte` violation as a type error.
    assert causes_of(exc) == [("FieldValueTypeInvalid", "spec.request")]
    assert exc.details is not None
    assert "spec.request in body must be of type byte" in exc.details["causes"][0]["message"]


def test_every_violation_is_reported_at_once(admitted: Store) -> None:
    exc = rejected(admitted, request_body(isCA="yes", usages=["nope"], duration=5))
    assert sorted(causes_of(exc)) == [
        ("FieldValueNotSupported", "spec.usages[0]"),
        ("FieldValueTypeInvalid", "spec.duration"),
        ("FieldValueTypeInvalid", "spec.isCA"),
    ]


def test_unknown_fields_and_nulls_are_pruned_and_group_defaulted(admitted: Store) -> None:
    body = request_body(kind="Issuer", duration=None, color="blue")
    body["spec"]["issuerRef"]["extraneous"] = 1
    body["status"] = {"bogus": True}
    body["topLevel"] = "dropped"
    created = admitted.create(CRS, body)
    assert "color" not in created["spec"]
    assert "duration" not in created["spec"]
    assert "topLevel" not in created
    assert created["spec"]["issuerRef"] == {"name": "sandbox-ca", "kind": "Issuer", "group": "cert-manager.io"}


def test_bad_status_fields_are_rejected_on_status_writes(admitted: Store) -> None:
    created = admitted.create(CRS, request_body())
    ns, name = "team", created["metadata"]["name"]

    def bad_time(obj: dict[str, Any]) -> None:
        obj["status"] = {"failureTime": "yesterday"}

    with pytest.raises(ApiError) as info:
        admitted.mutate(CRS, ns, name, bad_time, subresource="status")
    # Every `format` violation is a type error to kube-apiserver, date-time too.
    assert causes_of(info.value) == [("FieldValueTypeInvalid", "status.failureTime")]

    def bad_condition_status(obj: dict[str, Any]) -> None:
        obj["status"] = {"conditions": [{"type": "Ready", "status": "Maybe"}]}

    with pytest.raises(ApiError) as info:
        admitted.mutate(CRS, ns, name, bad_condition_status, subresource="status")
    assert causes_of(info.value) == [("FieldValueNotSupported", "status.conditions[0].status")]


def test_condition_types_are_list_map_keys(admitted: Store) -> None:
    created = admitted.create(CRS, request_body())

    def duplicate(obj: dict[str, Any]) -> None:
        ready = {"type": "Ready", "status": "False", "reason": "Pending", "message": "x"}
        obj["status"] = {"conditions": [ready, dict(ready)]}

    with pytest.raises(ApiError) as info:
        admitted.mutate(CRS, "team", created["metadata"]["name"], duplicate, subresource="status")
    assert causes_of(info.value) == [("FieldValueDuplicate", "status.conditions[1]")]


def test_valid_date_time_and_byte_fields_pass(admitted: Store) -> None:
    created = admitted.create(CRS, request_body())

    def good(obj: dict[str, Any]) -> None:
        obj["status"] = {"failureTime": "2024-05-01T10:00:00Z", "ca": "QUJD", "certificate": "QUJDRA=="}

    updated = admitted.mutate(CRS, "team", created["metadata"]["name"], good, subresource="status")
    assert updated["status"]["failureTime"] == "2024-05-01T10:00:00Z"


def test_other_resources_are_not_touched(admitted: Store) -> None:
    from cm_support import CLUSTER_ISSUERS

    issuer = admitted.create(CLUSTER_ISSUERS, {"metadata": {"name": "x"}, "spec": {"anything": 1}})
    assert issuer["spec"] == {"anything": 1}
