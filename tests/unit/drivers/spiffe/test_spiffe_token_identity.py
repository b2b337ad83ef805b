"""The identity comes from the pod's ""-audience token; every way the token can be wrong says which."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from spiffe_support import NS, POD, SA, TOKENS, pod_token, tokens_json, volume

from certcsi.drivers.spiffe import TokenIdentity, token_identity
from certcsi.errors import InvalidVolume


def _unsigned(claims: object) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def _rejects(token_or_secrets: str | dict[str, str], *fragments: str) -> InvalidVolume:
    secrets = token_or_secrets if isinstance(token_or_secrets, dict) else {TOKENS: tokens_json(token_or_secrets)}
    with pytest.raises(InvalidVolume) as info:
        token_identity(volume(secrets=secrets))
    for fragment in fragments:
        assert fragment in str(info.value)
    return info.value


def test_namespace_and_service_account_come_from_the_claims() -> None:
    token = pod_token()
    identity = token_identity(volume(token=token))
    assert identity == TokenIdentity(namespace=NS, service_account=SA, token=token)
    assert identity.spiffe_id("example.org") == f"spiffe://example.org/ns/{NS}/sa/{SA}"


def test_claims_are_read_without_the_signing_key() -> None:
    # Signed by a key the driver has never seen: the API server verifies it when the request is made.
    claims = {"kubernetes.io": {"namespace": NS, "serviceaccount": {"name": SA, "uid": "u"}}}
    token = jwt.encode(claims, "a-key-the-driver-never-sees-0123456789", algorithm="HS256")
    assert token_identity(volume(token=token)).service_account == SA


def test_missing_tokens_say_how_to_fix_it() -> None:
    _rejects({}, f"{TOKENS} is missing", "tokenRequests", 'audience ""')


@pytest.mark.parametrize("raw", ["not json", "[]", json.dumps({"vault": {"token": "x"}}), json.dumps({"": {}})])
def test_tokens_without_an_api_server_token_are_rejected(raw: str) -> None:
    _rejects({TOKENS: raw}, TOKENS)


@pytest.mark.parametrize(
    "token", ["abc", "a.b", "a.b.c.d", "a.!!!.c", f"a.{base64.urlsafe_b64encode(b'[1]').decode()}.c", "a.bm90IGpzb24.c"]
)
def test_a_token_that_is_not_a_jwt_is_rejected(token: str) -> None:
    error = _rejects(token, "not a JWT")
    assert token not in str(error)


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"kubernetes.io": {"namespace": NS}},
        {"kubernetes.io": {"serviceaccount": {"name": SA}}},
        {"kubernetes.io": {"namespace": "", "serviceaccount": {"name": SA}}},
        {"kubernetes.io": {"namespace": NS, "serviceaccount": {"name": 7}}},
        {"kubernetes.io": "sandbox"},
        {"sub": f"system:serviceaccount:{NS}:{SA}"},
    ],
)
def test_missing_claims_give_upstreams_message(claims: dict[str, object]) -> None:
    error = _rejects(_unsigned(claims))
    assert str(error) == "missing namespace or serviceaccount name in request token"


def test_a_token_from_another_namespace_than_the_pod_is_rejected() -> None:
    claims = {"kubernetes.io": {"namespace": "other-ns", "serviceaccount": {"name": SA}}}
    _rejects(_unsigned(claims), "namespace 'other-ns'", f"pod is in {NS!r}")


def test_a_token_for_another_account_than_the_pod_runs_as_is_rejected() -> None:
    _rejects(pod_token(service_account="other", pod="other-pod", uid="pod-uid-2"), "'other'", f"runs as {SA!r}")


def test_the_token_never_appears_in_an_error() -> None:
    for token in [pod_token() + "x", pod_token().replace(".", "", 1)]:
        try:
            token_identity(volume(token=token, attributes={"csi.storage.k8s.io/pod.namespace": "elsewhere"}))
        except InvalidVolume as e:
            assert token not in str(e) and token[:20] not in str(e) and e.__cause__ is None


def test_identity_repr_hides_the_token() -> None:
    token = pod_token()
    assert token not in repr(token_identity(volume(token=token)))
    assert POD  # the pod name is fine to show; only the token is secret
