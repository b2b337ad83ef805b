"""Who is calling the sandbox API: the static admin token, and ServiceAccount JWTs minted and checked
the way kube-apiserver does it (TokenRequest, bound tokens, RS256 with a `kid`).

No HTTP here. The server maps the errors like kube-apiserver:

    Unauthorized              the bearer token authenticates no one           → 401 Unauthorized
    LookupError               mint(): the ServiceAccount or bound pod is gone  → 404 NotFound
    └── BoundObjectConflict   mint(): the bound pod's uid is not the given one → 409 Conflict
    ValueError                mint(): a spec field breaks a rule (named)       → 400 BadRequest

kube-apiserver answers every authentication failure with the bare message "Unauthorized"; the
messages here say why (for the server's log) and never contain the token.

An RS256 verification costs more than the rest of a request, so a token's verified claims are kept
(bounded, least recently used first out, until the token expires), as kube-apiserver's token cache
does: keyed by a keyed hash of the token, never the token itself. Only the signature, issuer and
audience checks are skipped for a known token; its times and whether its ServiceAccount and pod
still exist are checked on every request, so the cache never lets through what a fresh check refuses.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from certcsi.sandbox.apiserver.identity import (
    ADMIN,
    ObjectReader,
    UserInfo,
    service_account_username,
)

# UserInfo and service_account_username live in identity.py (shared with rbac) and are re-exported here.
__all__ = [
    "ADMIN",
    "BoundObjectConflict",
    "TokenAuthority",
    "Unauthorized",
    "UserInfo",
    "service_account_username",
]

SERVICEACCOUNTS = "/serviceaccounts"
PODS = "/pods"
NODES = "/nodes"
DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32
# go-jose's default leeway, which kube-apiserver's service-account token validator relies on.
LEEWAY_SECONDS = 60
# kube-apiserver still honours a token for this long after its ServiceAccount or pod got a
# deletionTimestamp, so that graceful termination can finish its API calls.
DELETION_GRACE_SECONDS = 60
# Verified tokens kept: a node's worth of pods, each token about a kilobyte.
DEFAULT_TOKEN_CACHE_SIZE = 4096

EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"
EXTRA_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
EXTRA_NODE_NAME = "authentication.kubernetes.io/node-name"
EXTRA_NODE_UID = "authentication.kubernetes.io/node-uid"
_PRIVATE = "kubernetes.io"
_ALGORITHM = "RS256"
# A base64url part of a token: the alphabet only, no padding, never a length that decodes to nothing whole.
_BASE64URL = re.compile(r"(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?")


class Unauthorized(Exception):
    """The bearer token authenticates no one; the message says why and never echoes the token."""


class BoundObjectConflict(LookupError):
    """mint(): the pod named in the binding exists with another uid (deleted and recreated)."""


def _key_id(public_key: rsa.RSAPublicKey) -> str:
    # kube-apiserver derives the kid from the key itself: base64url(sha256(DER public key)).
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def _uid(obj: Mapping[str, Any]) -> str:
    return str(obj.get("metadata", {}).get("uid", ""))


def _deleted_before(obj: Mapping[str, Any], cutoff: float) -> bool:
    stamp = obj.get("metadata", {}).get("deletionTimestamp")
    if not isinstance(stamp, str):
        return False
    try:
        return datetime.fromisoformat(stamp).timestamp() < cutoff
    except ValueError:
        return False


def _check_expiration(expiration_seconds: int) -> None:
    if expiration_seconds < MIN_EXPIRATION_SECONDS:
        raise ValueError("spec.expirationSeconds: may not specify a duration less than 10 minutes")
    if expiration_seconds > MAX_EXPIRATION_SECONDS:
        raise ValueError("spec.expirationSeconds: may not specify a duration larger than 2^32 seconds")


@dataclass(frozen=True)
class _Verified:
    """A token whose signature, issuer and audience checked out: what it claims, and who that is."""

    claimed: _Claimed
    user: UserInfo
    times: Mapping[str, Any]  # exp, nbf, iat as the token has them


@dataclass(frozen=True)
class _Claimed:
    """The identity a verified token claims, before it is checked against the stored objects."""

    namespace: str
    sa_name: str
    sa_uid: str
    pod_name: str
    pod_uid: str
    jti: str
    node_name: str = ""
    node_uid: str = ""


class TokenAuthority:
    """Signs projected ServiceAccount tokens and authenticates bearer tokens for the sandbox API."""

    def __init__(
        self,
        *,
        reader: ObjectReader,
        issuer: str = DEFAULT_ISSUER,
        api_audiences: tuple[str, ...] = (DEFAULT_ISSUER,),
        clock: Callable[[], float] = time.time,
        token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE,
    ) -> None:
        if not api_audiences:
            raise ValueError("api_audiences: must name at least one audience")
        self._reader = reader
        self._issuer = issuer
        self._audiences = tuple(api_audiences)
        self._clock = clock
        self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # Kept as a key object so that every verification skips PEM parsing.
        self._public_key = self._private_key.public_key()
        self._kid = _key_id(self._public_key)
        self._admin_token = secrets.token_urlsafe(32)
        self._verified: OrderedDict[bytes, _Verified] = OrderedDict()
        self._cache_size = token_cache_size
        self._cache_key = secrets.token_bytes(32)  # tokens are cached under a keyed hash, never as text

    @property
    def admin_token(self) -> str:
        """The static bearer token of `kubernetes-admin` (group system:masters)."""
        return self._admin_token

    @property
    def issuer(self) -> str:
        return self._issuer

    @property
    def api_audiences(self) -> tuple[str, ...]:
        return self._audiences

    @property
    def key_id(self) -> str:
        return self._kid

    def mint(
        self,
        *,
        namespace: str,
        service_account: str,
        audiences: Sequence[str] | None,
        expiration_seconds: int = 3600,
        bound_pod: tuple[str, str] | None = None,
    ) -> tuple[str, datetime]:
        """A TokenRequest: returns the JWT and its expirationTimestamp.

        `bound_pod` is (name, uid); an empty uid binds to whatever pod has that name now.
        """
        _check_expiration(expiration_seconds)
        sa = self._reader.get(SERVICEACCOUNTS, namespace, service_account)
        if sa is None:
            raise LookupError(f'serviceaccounts "{service_account}" not found')
        private: dict[str, Any] = {
            "namespace": namespace,
            "serviceaccount": {"name": service_account, "uid": _uid(sa)},
        }
        if bound_pod is not None:
            private["pod"] = self._pod_claim(namespace, service_account, *bound_pod)
            node = self._node_claim(namespace, bound_pod[0])
            if node is not None:
                private["node"] = node
        now = int(self._clock())
        expires = now + expiration_seconds
        claims = {
            "aud": list(audiences) if audiences else list(self._audiences),
            "exp": expires,
            "iat": now,
            "iss": self._issuer,
            "jti": str(uuid.uuid4()),
            _PRIVATE: private,
            "nbf": now,
            "sub": service_account_username(namespace, service_account),
        }
        token = jwt.encode(claims, self._private_key, algorithm=_ALGORITHM, headers={"kid": self._kid})
        return token, datetime.fromtimestamp(expires, tz=UTC)

    def _node_claim(self, namespace: str, pod_name: str) -> dict[str, str] | None:
        """The node a bound pod runs on, when it is scheduled to one that exists (as kube-apiserver:
        a missing node only leaves the claim out)."""
        pod = self._reader.get(PODS, namespace, pod_name) or {}
        node_name = (pod.get("spec") or {}).get("nodeName")
        node = self._reader.get(NODES, None, node_name) if isinstance(node_name, str) and node_name else None
        return {"name": str(node_name), "uid": _uid(node)} if node is not None else None

    def _pod_claim(self, namespace: str, service_account: str, name: str, uid: str) -> dict[str, str]:
        pod = self._reader.get(PODS, namespace, name)
        if pod is None:
            raise LookupError(f'pods "{name}" not found')
        runs_as = pod.get("spec", {}).get("serviceAccountName") or "default"
        if runs_as != service_account:
            raise ValueError(
                f'spec.boundObjectRef: cannot bind token for serviceaccount "{service_account}" '
                "to pod running with different serviceaccount name."
            )
        if uid and _uid(pod) != uid:
            raise BoundObjectConflict(
                f"spec.boundObjectRef.uid: the UID in the bound object reference ({uid}) does not match "
                "the UID in record. The object might have been deleted and then recreated"
            )
        return {"name": name, "uid": _uid(pod)}

    def authenticate(self, token: str) -> UserInfo:
        """The user a bearer token stands for; Unauthorized for anything else."""
        if hmac.compare_digest(token.encode("utf-8", "surrogatepass"), self._admin_token.encode()):
            return ADMIN
        verified = self._verify_cached(token)
        self._check_times(verified.times)
        self._check_still_bound(verified.claimed)
        return verified.user

    @property
    def cached_tokens(self) -> int:
        """How many verified tokens are kept."""
        return len(self._verified)

    def _verify_cached(self, token: str) -> _Verified:
        """The token's verified claims: kept from an earlier request, or verified now and kept."""
        key = hashlib.blake2b(token.encode("utf-8", "surrogatepass"), key=self._cache_key, digest_size=16).digest()
        verified = self._verified.get(key)
        if verified is not None:
            if self._clock() <= verified.times["exp"] + LEEWAY_SECONDS:
                self._verified.move_to_end(key)
                return verified
            del self._verified[key]  # expired: verified afresh below, which refuses it
        claims = self._verify(token)
        self._check_times(claims)
        claimed = _claimed_identity(claims)
        times = {name: claims.get(name) for name in ("exp", "nbf", "iat")}
        verified = _Verified(claimed=claimed, user=_user_of(claimed), times=times)
        if self._cache_size > 0:
            self._verified[key] = verified
            if len(self._verified) > self._cache_size:
                self._verified.popitem(last=False)
        return verified

    def _verify(self, token: str) -> Mapping[str, Any]:
        """The claims of a token this server signed for one of its audiences (times not checked)."""
        claims = _verified_claims(token, self._public_key)
        if claims.get("iss") != self._issuer:
            raise Unauthorized("token issuer is not this API server")
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else audiences
        if not isinstance(audiences, list) or not set(self._audiences).intersection(audiences):
            raise Unauthorized("token audiences are invalid for this API server")
        return claims

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self._clock()
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        if not isinstance(exp, int | float):
            raise Unauthorized("token has no expiry")
        if now > exp + LEEWAY_SECONDS:
            raise Unauthorized("service account token has expired")
        if isinstance(nbf, int | float) and now + LEEWAY_SECONDS < nbf:
            raise Unauthorized("service account token is not valid yet")
        if isinstance(iat, int | float) and now + LEEWAY_SECONDS < iat:
            raise Unauthorized("service account token is issued in the future")

    def _check_still_bound(self, claimed: _Claimed) -> None:
        cutoff = self._clock() - DELETION_GRACE_SECONDS
        sa = self._reader.get(SERVICEACCOUNTS, claimed.namespace, claimed.sa_name)
        if sa is None or _deleted_before(sa, cutoff):
            raise Unauthorized(f"service account {claimed.namespace}/{claimed.sa_name} has been deleted")
        if _uid(sa) != claimed.sa_uid:
            raise Unauthorized("service account UID does not match the token's claim")
        if not claimed.pod_name:
            return
        pod = self._reader.get(PODS, claimed.namespace, claimed.pod_name)
        if pod is None or _deleted_before(pod, cutoff):
            raise Unauthorized(f"pod {claimed.namespace}/{claimed.pod_name} has been deleted")
        if _uid(pod) != claimed.pod_uid:
            raise Unauthorized("pod UID does not match the token's claim")


def _verified_claims(token: str, public_key: rsa.RSAPublicKey) -> Mapping[str, Any]:
    """The payload of a JWS compact token signed RS256 by `public_key` (RFC 7515), as go-jose reads one:
    three unpadded base64url parts, a JSON object header naming RS256 and no critical extensions, a
    JSON object payload. PyJWT signs the tokens; verifying them directly costs a third of PyJWT's
    decode (it checks each character of a kilobyte token in Python)."""
    parts = token.split(".")
    if len(parts) != 3 or not all(_BASE64URL.fullmatch(part) for part in parts):
        raise Unauthorized("bearer token is not a valid JWT")
    try:
        header = json.loads(_unpadded(parts[0]))
        claims = json.loads(_unpadded(parts[1]))
        signature = _unpadded(parts[2])
    except (ValueError, binascii.Error):  # never chained: a decoding error may quote the token
        raise Unauthorized("bearer token is not a valid JWT") from None
    if not isinstance(header, dict) or header.get("alg") != _ALGORITHM or "crit" in header:
        raise Unauthorized("bearer token is not a valid JWT")
    if not isinstance(claims, dict):
        raise Unauthorized("bearer token is not a valid JWT")
    try:
        public_key.verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise Unauthorized("token signature is invalid (not signed by this API server)") from None
    return claims


def _unpadded(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _user_of(claimed: _Claimed) -> UserInfo:
    """The ServiceAccount user a token's claims name, with kube-apiserver's extra fields."""
    extra: dict[str, tuple[str, ...]] = {}
    if claimed.pod_name:
        extra[EXTRA_POD_NAME] = (claimed.pod_name,)
        extra[EXTRA_POD_UID] = (claimed.pod_uid,)
    if claimed.node_name:
        extra[EXTRA_NODE_NAME] = (claimed.node_name,)
        if claimed.node_uid:
            extra[EXTRA_NODE_UID] = (claimed.node_uid,)
    if claimed.jti:
        extra[EXTRA_CREDENTIAL_ID] = (f"JTI={claimed.jti}",)
    return UserInfo(
        username=service_account_username(claimed.namespace, claimed.sa_name),
        uid=claimed.sa_uid,
        groups=(
            "system:serviceaccounts",
            f"system:serviceaccounts:{claimed.namespace}",
            "system:authenticated",
        ),
        extra=extra,
    )


def _str_at(claims: Mapping[str, Any], *path: str) -> str:
    value: Any = claims
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, str) else ""


def _claimed_identity(claims: Mapping[str, Any]) -> _Claimed:
    claimed = _Claimed(
        namespace=_str_at(claims, _PRIVATE, "namespace"),
        sa_name=_str_at(claims, _PRIVATE, "serviceaccount", "name"),
        sa_uid=_str_at(claims, _PRIVATE, "serviceaccount", "uid"),
        pod_name=_str_at(claims, _PRIVATE, "pod", "name"),
        pod_uid=_str_at(claims, _PRIVATE, "pod", "uid"),
        jti=_str_at(claims, "jti"),
        node_name=_str_at(claims, _PRIVATE, "node", "name"),
        node_uid=_str_at(claims, _PRIVATE, "node", "uid"),
    )
    if not (claimed.namespace and claimed.sa_name and claimed.sa_uid):
        raise Unauthorized("token lacks the kubernetes.io service account claims")
    if claims.get("sub") != service_account_username(claimed.namespace, claimed.sa_name):
        raise Unauthorized("token subject does not match its service account claims")
    if bool(claimed.pod_name) != bool(claimed.pod_uid):
        raise Unauthorized("token's pod claim needs both name and uid")
    return claimed
