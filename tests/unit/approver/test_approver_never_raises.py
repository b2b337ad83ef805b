"""Whatever arrives, the evaluator answers with a verdict: arbitrary objects, fields and bytes never raise.

The catch-all "internal" rule is a last line of defence; these inputs must never need it.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

from approver_support import (
    OWN_SA_POLICY,
    POLICY,
    SPIFFE_ID,
    csr_pem,
    make_request,
)
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certcsi.approver import IDENTITY_ANNOTATION, RULES, Verdict, evaluate

AUTO = replace(POLICY, auto_approve_non_spiffe=True)
POLICIES = st.sampled_from([POLICY, AUTO, OWN_SA_POLICY])
DER = x509.load_pem_x509_csr(csr_pem()).public_bytes(Encoding.DER)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.binary(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
FIELDS = ["request", "duration", "isCA", "usages", "username", "issuerRef"]


def lookup(namespace: str, name: str) -> tuple[str, str] | None:
    return (namespace, name) if name else None


def _check(verdict: Verdict) -> None:
    assert isinstance(verdict, Verdict)
    assert verdict.approved in (True, False, None)
    assert verdict.rule in RULES
    assert verdict.rule != "internal", verdict


def _pem(der: bytes) -> str:
    body = base64.encodebytes(der).decode("ascii")
    return base64.b64encode(
        f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n".encode()
    ).decode("ascii")


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(request=JSON, policy=POLICIES)
def test_any_object_at_all(request: Any, policy: Any) -> None:
    _check(evaluate(request, policy, pod_identity=lookup))


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(FIELDS), JSON), annotated=st.booleans(), policy=POLICIES)
def test_any_spec_fields(fields: dict[str, Any], annotated: bool, policy: Any) -> None:
    request = make_request(**fields)
    if not annotated:
        del request["metadata"]["annotations"]
    _check(evaluate(request, policy, pod_identity=lookup))


@FUZZ
@given(data=st.binary(max_size=600), policy=POLICIES)
def test_any_bytes_as_the_request(data: bytes, policy: Any) -> None:
    _check(evaluate(make_request(request=base64.b64encode(data).decode()), policy, pod_identity=lookup))
    _check(evaluate(make_request(request=_pem(data)), policy, pod_identity=lookup))


@FUZZ
@given(
    flips=st.lists(st.tuples(st.integers(0, len(DER) - 1), st.integers(1, 255)), min_size=1, max_size=4),
    policy=POLICIES,
)
def test_a_valid_csr_with_corrupted_bytes(flips: list[tuple[int, int]], policy: Any) -> None:
    der = bytearray(DER)
    for position, mask in flips:
        der[position] ^= mask
    verdict = evaluate(make_request(request=_pem(bytes(der))), policy, pod_identity=lookup)
    _check(verdict)


@FUZZ
@given(metadata=JSON, status=JSON)
def test_any_metadata_and_status(metadata: Any, status: Any) -> None:
    request = make_request()
    request["metadata"] = metadata
    request["status"] = status
    _check(evaluate(request, POLICY))
    if isinstance(metadata, dict):
        metadata[IDENTITY_ANNOTATION] = SPIFFE_ID
        _check(evaluate(request, OWN_SA_POLICY, pod_identity=lookup))
