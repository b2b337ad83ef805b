"""The sandbox's TokenAuthority: TokenRequest minting and bearer-token authentication."""

from __future__ import annotations

import base64
import json
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from authn_support import NOW, NS, POD, SA, Clock, Store, mint, token_store

from certcsi.sandbox.apiserver.authn import (
    DEFAULT_ISSUER,
    LEEWAY_SECONDS,
    PODS,
    SERVICEACCOUNTS,
    BoundObjectConflict,
    TokenAuthority,
    Unauthorized,
    UserInfo,
)


@pytest.fixture
def store() -> Store:
    return token_store()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def authority(store: Store, clock: Clock) -> TokenAuthority:
    return TokenAuthority(reader=store, clock=clock)


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _sign(authority: TokenAuthority, claims: dict[str, Any]) -> str:
    """A token with arbitrary claims under the authority's own key, to reach checks past the signature."""
    key = authority._private_key  # the test needs a correctly signed token with wrong claims
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": authority.key_id})


# --- minting -----------------------------------------------------------------------------------


def test_minted_claims_are_those_of_a_projected_token(authority: TokenAuthority) -> None:
    token, expires = authority.mint(
        namespace=NS, service_account=SA, audiences=None, expiration_seconds=3600, bound_pod=(POD, "pod-uid-1")
    )
    claims = _claims(token)
    assert set(claims) == {"aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub"}
    assert claims["iss"] == DEFAULT_ISSUER
    assert claims["sub"] == "system:serviceaccount:app:runner"
    assert claims["aud"] == [DEFAULT_ISSUER]
    assert claims["iat"] == claims["nbf"] == int(NOW)
    assert claims["exp"] == int(NOW) + 3600
    assert claims["kubernetes.io"] == {
        "namespace": NS,
        "serviceaccount": {"name": SA, "uid": "sa-uid-1"},
        "pod": {"name": POD, "uid": "pod-uid-1"},
    }
    assert expires == datetime.fromtimestamp(NOW + 3600, tz=UTC)


def test_header_names_rs256_and_the_authority_key(authority: TokenAuthority) -> None:
    header = jwt.get_unverified_header(mint(authority))
    assert header["alg"] == "RS256"
    assert header["kid"] == authority.key_id


def test_unbound_token_has_no_pod_claim(authority: TokenAuthority) -> None:
    assert "pod" not in _claims(mint(authority))["kubernetes.io"]


def test_each_token_has_its_own_jti(authority: TokenAuthority) -> None:
    assert _claims(mint(authority))["jti"] != _claims(mint(authority))["jti"]


@pytest.mark.parametrize("audiences", [None, []])
def test_no_audiences_means_the_api_audiences(store: Store, audiences: list[str] | None) -> None:
    authority = TokenAuthority(reader=store, api_audiences=("api-a", "api-b"))
    assert _claims(mint(authority, audiences=audiences))["aud"] == ["api-a", "api-b"]


def test_requested_audiences_are_kept(authority: TokenAuthority) -> None:
    assert _claims(mint(authority, audiences=["vault", "spire"]))["aud"] == ["vault", "spire"]


@pytest.mark.parametrize("seconds", [0, 599, (1 << 32) + 1])
def test_expiration_outside_the_kubernetes_bounds_is_refused(authority: TokenAuthority, seconds: int) -> None:
    with pytest.raises(ValueError, match=r"spec\.expirationSeconds"):
        mint(authority, expiration_seconds=seconds)


def test_ten_minutes_is_the_shortest_expiration(authority: TokenAuthority) -> None:
    assert _claims(mint(authority, expiration_seconds=600))["exp"] == int(NOW) + 600


def test_missing_service_account_cannot_get_a_token(authority: TokenAuthority) -> None:
    with pytest.raises(LookupError, match='serviceaccounts "ghost" not found'):
        authority.mint(namespace=NS, service_account="ghost", audiences=None)


def test_missing_bound_pod_cannot_get_a_token(authority: TokenAuthority) -> None:
    with pytest.raises(LookupError, match='pods "ghost" not found') as caught:
        authority.mint(namespace=NS, service_account=SA, audiences=None, bound_pod=("ghost", "x"))
    assert not isinstance(caught.value, BoundObjectConflict)


def test_bound_pod_with_another_uid_is_a_conflict(authority: TokenAuthority) -> None:
    with pytest.raises(BoundObjectConflict, match=r"spec\.boundObjectRef\.uid"):
        authority.mint(namespace=NS, service_account=SA, audiences=None, bound_pod=(POD, "old-uid"))


def test_bound_pod_must_run_as_the_service_account(authority: TokenAuthority, store: Store) -> None:
    store.put(SERVICEACCOUNTS, "other", "sa-uid-2")
    with pytest.raises(ValueError, match="different serviceaccount name"):
        authority.mint(namespace=NS, service_account="other", audiences=None, bound_pod=(POD, "pod-uid-1"))


# --- authenticating ----------------------------------------------------------------------------


def test_admin_token_is_kubernetes_admin(authority: TokenAuthority) -> None:
    user = authority.authenticate(authority.admin_token)
    assert user == UserInfo("kubernetes-admin", groups=("system:masters", "system:authenticated"))


def test_admin_tokens_differ_between_authorities(store: Store) -> None:
    one, two = TokenAuthority(reader=store), TokenAuthority(reader=store)
    assert one.admin_token != two.admin_token
    with pytest.raises(Unauthorized):
        one.authenticate(two.admin_token)


def test_service_account_token_authenticates_the_service_account(authority: TokenAuthority) -> None:
    token = mint(authority)
    user = authority.authenticate(token)
    assert user.username == "system:serviceaccount:app:runner"
    assert user.uid == "sa-uid-1"
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:app", "system:authenticated")
    assert dict(user.extra) == {"authentication.kubernetes.io/credential-id": (f"JTI={_claims(token)['jti']}",)}


def test_pod_bound_token_carries_the_pod_in_extra(authority: TokenAuthority) -> None:
    token = mint(authority, bound=True)
    extra = authority.authenticate(token).extra
    assert extra["authentication.kubernetes.io/pod-name"] == (POD,)
    assert extra["authentication.kubernetes.io/pod-uid"] == ("pod-uid-1",)
    assert extra["authentication.kubernetes.io/credential-id"] == (f"JTI={_claims(token)['jti']}",)


def test_token_is_valid_until_expiry_plus_leeway(authority: TokenAuthority, clock: Clock) -> None:
    token = mint(authority, expiration_seconds=600)
    clock.now = NOW + 600 + LEEWAY_SECONDS
    assert authority.authenticate(token).username.endswith(":runner")


def test_expired_token_is_refused(authority: TokenAuthority, clock: Clock) -> None:
    token = mint(authority, expiration_seconds=600)
    clock.now = NOW + 600 + LEEWAY_SECONDS + 1
    with pytest.raises(Unauthorized, match="expired"):
        authority.authenticate(token)


def test_token_from_the_future_is_refused(authority: TokenAuthority, clock: Clock) -> None:
    clock.now = NOW + 3600
    token = mint(authority)
    clock.now = NOW
    with pytest.raises(Unauthorized, match="not valid yet"):
        authority.authenticate(token)


def test_token_of_another_authority_is_refused(authority: TokenAuthority, store: Store) -> None:
    foreign = mint(TokenAuthority(reader=store))
    with pytest.raises(Unauthorized, match="signature"):
        authority.authenticate(foreign)


def test_token_with_altered_claims_is_refused(authority: TokenAuthority) -> None:
    header, payload, signature = mint(authority).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["kubernetes.io"]["serviceaccount"]["name"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(Unauthorized, match="signature"):
        authority.authenticate(f"{header}.{forged}.{signature}")


@pytest.mark.parametrize("algorithm", ["none", "HS256"])
def test_unsigned_or_symmetric_tokens_are_refused(authority: TokenAuthority, algorithm: str) -> None:
    claims = _claims(mint(authority))
    key = "" if algorithm == "none" else "a-shared-secret-of-sufficient-length!"
    with pytest.raises(Unauthorized):
        authority.authenticate(jwt.encode(claims, key, algorithm=algorithm))


def test_token_for_another_audience_is_refused(authority: TokenAuthority) -> None:
    with pytest.raises(Unauthorized, match="audience"):
        authority.authenticate(mint(authority, audiences=["vault"]))


def test_token_needs_only_one_api_audience(authority: TokenAuthority) -> None:
    token = mint(authority, audiences=["vault", DEFAULT_ISSUER])
    assert authority.authenticate(token).uid == "sa-uid-1"


def test_token_of_another_issuer_is_refused(authority: TokenAuthority) -> None:
    claims = {**_claims(mint(authority)), "iss": "https://elsewhere.example"}
    with pytest.raises(Unauthorized, match="issuer"):
        authority.authenticate(_sign(authority, claims))


def test_subject_must_match_the_private_claims(authority: TokenAuthority) -> None:
    claims = {**_claims(mint(authority)), "sub": "system:serviceaccount:app:admin"}
    with pytest.raises(Unauthorized, match="subject"):
        authority.authenticate(_sign(authority, claims))


def test_token_without_service_account_claims_is_refused(authority: TokenAuthority) -> None:
    claims = {k: v for k, v in _claims(mint(authority)).items() if k != "kubernetes.io"}
    with pytest.raises(Unauthorized, match="claims"):
        authority.authenticate(_sign(authority, claims))


def test_deleted_service_account_invalidates_its_tokens(authority: TokenAuthority, store: Store) -> None:
    token = mint(authority)
    store.delete(SERVICEACCOUNTS, SA)
    with pytest.raises(Unauthorized, match="deleted"):
        authority.authenticate(token)


def test_recreated_service_account_does_not_inherit_old_tokens(authority: TokenAuthority, store: Store) -> None:
    token = mint(authority)
    store.put(SERVICEACCOUNTS, SA, "sa-uid-2")
    with pytest.raises(Unauthorized, match="UID"):
        authority.authenticate(token)


def test_deleted_bound_pod_invalidates_its_tokens(authority: TokenAuthority, store: Store) -> None:
    token = mint(authority, bound=True)
    store.delete(PODS, POD)
    with pytest.raises(Unauthorized, match="deleted"):
        authority.authenticate(token)


def test_recreated_bound_pod_does_not_inherit_old_tokens(authority: TokenAuthority, store: Store) -> None:
    token = mint(authority, bound=True)
    store.put(PODS, POD, "pod-uid-2", spec={"serviceAccountName": SA})
    with pytest.raises(Unauthorized, match="UID"):
        authority.authenticate(token)


def test_unbound_token_survives_pod_deletion(authority: TokenAuthority, store: Store) -> None:
    token = mint(authority)
    store.delete(PODS, POD)
    assert authority.authenticate(token).uid == "sa-uid-1"


def _terminating_since(seconds_ago: float) -> dict[str, str]:
    stamp = datetime.fromtimestamp(NOW - seconds_ago, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"deletionTimestamp": stamp}


@pytest.mark.parametrize(("resource", "name", "uid"), [(PODS, POD, "pod-uid-1"), (SERVICEACCOUNTS, SA, "sa-uid-1")])
def test_terminating_owner_keeps_tokens_for_a_grace_minute(
    authority: TokenAuthority, store: Store, resource: str, name: str, uid: str
) -> None:
    token = mint(authority, bound=True)
    kept = {k: v for k, v in store.objects[(resource, NS, name)].items() if k != "metadata"}
    store.put(resource, name, uid, metadata=_terminating_since(30), **kept)
    assert authority.authenticate(token).extra["authentication.kubernetes.io/pod-name"] == (POD,)
    store.put(resource, name, uid, metadata=_terminating_since(61), **kept)
    with pytest.raises(Unauthorized, match="deleted"):
        authority.authenticate(token)


def _failing_tokens(authority: TokenAuthority, store: Store) -> Iterator[str]:
    yield "garbage"
    yield "a.b.c"
    yield authority.admin_token + "x"
    yield mint(authority, audiences=["vault"])
    bound = mint(authority, bound=True)
    store.delete(PODS, POD)
    yield bound


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "Bearer x", "é.ü.ß"])
def test_garbage_is_refused(authority: TokenAuthority, token: str) -> None:
    with pytest.raises(Unauthorized):
        authority.authenticate(token)


def test_refusals_never_quote_the_token(authority: TokenAuthority, store: Store) -> None:
    for token in _failing_tokens(authority, store):
        with pytest.raises(Unauthorized) as caught:
            authority.authenticate(token)
        shown = "".join(traceback.format_exception(caught.value))
        assert token not in shown


def test_user_info_is_immutable_and_compares_by_value() -> None:
    extra = {"k": ("v",)}
    user = UserInfo("u", extra=extra)
    extra["k"] = ("changed",)
    assert user == UserInfo("u", extra={"k": ("v",)})
    assert hash(user) == hash(UserInfo("u", extra={"k": ("v",)}))
    with pytest.raises(TypeError):
        user.extra["k"] = ("w",)  # type: ignore[index]
