"""Bearer tokens read as go-jose reads a JWS: RS256 by this server's key, unpadded base64url parts, a JSON
object header without critical extensions and a JSON object payload; anything else authenticates no one."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from authn_support import Clock, mint, token_store
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from certcsi.sandbox.apiserver.authn import TokenAuthority, Unauthorized


@pytest.fixture
def authority() -> TokenAuthority:
    return TokenAuthority(reader=token_store(), clock=Clock(), token_cache_size=0)


def part(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed(authority: TokenAuthority, header: Any, claims: Any) -> str:
    """A token with any header and payload, signed by the authority's own key (reaching past the signature)."""
    head = part(header) if not isinstance(header, str) else header
    body = part(claims) if not isinstance(claims, str) else claims
    key = authority._private_key  # only the authority's key gets a token this far
    signature = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{part(signature)}"


def claims_of(authority: TokenAuthority) -> dict[str, Any]:
    payload = mint(authority).split(".")[1]
    loaded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return loaded


def test_a_well_formed_token_signed_here_authenticates(authority: TokenAuthority) -> None:
    token = signed(authority, {"alg": "RS256", "kid": authority.key_id}, claims_of(authority))
    assert authority.authenticate(token).username == "system:serviceaccount:app:runner"


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "RS512"},
        {"alg": "none"},
        {"alg": "RS256", "crit": ["exp"]},
        ["RS256"],
    ],
)
def test_headers_other_than_plain_rs256_are_refused(authority: TokenAuthority, header: Any) -> None:
    with pytest.raises(Unauthorized, match="not a valid JWT"):
        authority.authenticate(signed(authority, header, claims_of(authority)))


@pytest.mark.parametrize("payload", [["a", "list"], "not json", 42])
def test_a_payload_that_is_not_a_json_object_is_refused(authority: TokenAuthority, payload: Any) -> None:
    body = part(payload.encode()) if isinstance(payload, str) else part(payload)
    with pytest.raises(Unauthorized, match="not a valid JWT"):
        authority.authenticate(signed(authority, {"alg": "RS256"}, body))


def test_padding_and_characters_outside_base64url_are_refused(authority: TokenAuthority) -> None:
    token = mint(authority)
    head, body, signature = token.split(".")
    for bad in (f"{head}.{body}.{signature}==", f"{head}.{body}+.{signature}", f"{head}.{body}", f"{token}.x"):
        with pytest.raises(Unauthorized, match="not a valid JWT"):
            authority.authenticate(bad)
