"""cert-manager's webhook rules on create: CSR decodes, issuerRef is sane, duration parses, usages agree."""

from __future__ import annotations

import pytest
from cm_support import CRS, b64, csr_pem, request_body

from certcsi.sandbox.apiserver.errors import ApiError
from certcsi.sandbox.apiserver.storage import Store
from certcsi.sandbox.certmanager import CertManager


@pytest.fixture
def admitted(store: Store) -> Store:
    CertManager(store)
    return store


def single_cause(store: Store, body: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ApiError) as info:
        store.create(CRS, body)
    assert info.value.code == 422
    assert info.value.details is not None
    causes = info.value.details["causes"]
    assert len(causes) == 1, causes
    return dict(causes[0])


def test_request_that_is_not_a_pem_csr_names_spec_request(admitted: Store) -> None:
    cause = single_cause(admitted, request_body(csr=b"hello world"))
    assert cause["field"] == "spec.request"
    assert cause["reason"] == "FieldValueInvalid"
    assert "failed to decode csr: error decoding certificate request PEM block" in cause["message"]


def test_pem_that_is_not_a_csr_is_refused(admitted: Store) -> None:
    cause = single_cause(
        admitted, request_body(csr=b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")
    )
    assert cause["field"] == "spec.request"
    assert "failed to decode csr" in cause["message"]


def test_empty_request_is_required(admitted: Store) -> None:
    body = request_body()
    body["spec"]["request"] = ""
    cause = single_cause(admitted, body)
    assert (cause["reason"], cause["field"]) == ("FieldValueRequired", "spec.request")


def test_empty_issuer_name_is_required(admitted: Store) -> None:
    cause = single_cause(admitted, request_body(issuer=""))
    assert (cause["reason"], cause["field"]) == ("FieldValueRequired", "spec.issuerRef.name")
    assert cause["message"] == "Required value: must be specified"


def test_kind_must_be_a_cert_manager_kind_in_its_group(admitted: Store) -> None:
    cause = single_cause(admitted, request_body(kind="AWSPCAClusterIssuer"))
    assert (cause["reason"], cause["field"]) == ("FieldValueInvalid", "spec.issuerRef.kind")
    assert "must be one of Issuer or ClusterIssuer" in cause["message"]


def test_external_group_may_use_any_kind(admitted: Store) -> None:
    body = request_body(kind="AWSPCAClusterIssuer")
    body["spec"]["issuerRef"]["group"] = "awspca.cert-manager.io"
    assert admitted.create(CRS, body)["spec"]["issuerRef"]["kind"] == "AWSPCAClusterIssuer"


def test_duration_must_be_a_go_duration(admitted: Store) -> None:
    cause = single_cause(admitted, request_body(duration="90d"))
    assert (cause["reason"], cause["field"]) == ("FieldValueInvalid", "spec.duration")
    assert 'time: unknown unit "d" in duration "90d"' in cause["message"]


def test_csr_usages_must_match_spec_usages_when_both_are_set(admitted: Store) -> None:
    csr = csr_pem(usages=("digital signature", "client auth"))
    cause = single_cause(admitted, request_body(csr=csr, usages=["digital signature", "server auth"]))
    assert cause["field"] == "spec.request"
    assert "csr key usages do not match specified usages" in cause["message"]


def test_matching_usages_and_signing_alias_pass(admitted: Store) -> None:
    csr = csr_pem(usages=("digital signature", "server auth"))
    created = admitted.create(CRS, request_body(csr=csr, usages=["signing", "server auth"]))
    assert created["spec"]["usages"] == ["signing", "server auth"]


def test_ca_request_implies_cert_sign(admitted: Store) -> None:
    csr = csr_pem(usages=("digital signature", "cert sign"), is_ca=True)
    assert admitted.create(CRS, request_body(csr=csr, usages=["digital signature"], isCA=True))


def test_a_valid_request_is_admitted_unchanged(admitted: Store) -> None:
    body = request_body(duration="1h", usages=["digital signature", "key encipherment"], isCA=False)
    created = admitted.create(CRS, body)
    assert created["spec"]["request"] == body["spec"]["request"]
    assert created["spec"]["duration"] == "1h"


def test_base64_with_line_breaks_is_accepted(admitted: Store) -> None:
    text = b64(csr_pem())
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    body = request_body()
    body["spec"]["request"] = wrapped
    assert admitted.create(CRS, body)
