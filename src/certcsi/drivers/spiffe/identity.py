"""Who a SPIFFE volume is for: the pod's service account, read from the token kubelet passes.

The token is decoded WITHOUT verifying its signature: the driver is not its audience, and the API
server verifies it when the CertificateRequest is created with it. The token itself never appears
in a message. Also the SPIFFE vocabulary the driver and the approver share.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from certcsi.csi.volume_context import POD_NAMESPACE, SERVICE_ACCOUNT_NAME, SERVICE_ACCOUNT_TOKENS
from certcsi.errors import InvalidVolume
from certcsi.volumes.driver import Volume
from certcsi.volumes.manager import service_account_token

__all__ = [
    "IDENTITY_ANNOTATION",
    "MISSING_CLAIMS",
    "USAGES",
    "TokenIdentity",
    "check_trust_domain",
    "spiffe_id",
    "token_identity",
]

IDENTITY_ANNOTATION = "spiffe.csi.cert-manager.io/identity"
# Exactly what the driver requests and the approver demands (order as upstream's approver lists them).
USAGES: tuple[str, ...] = ("key encipherment", "digital signature", "client auth", "server auth")
MISSING_CLAIMS = "missing namespace or serviceaccount name in request token"

# The SPIFFE spec's trust-domain alphabet.
_TRUST_DOMAIN = re.compile(r"[a-z0-9._-]+")


@dataclass(frozen=True)
class TokenIdentity:
    """The service account a pod's token speaks for, and the token (to create the request with)."""

    namespace: str
    service_account: str
    token: str = field(repr=False)

    def spiffe_id(self, trust_domain: str) -> str:
        return spiffe_id(trust_domain, self.namespace, self.service_account)


def check_trust_domain(trust_domain: str) -> str:
    """`trust_domain` itself; ValueError when it is not a SPIFFE trust domain name."""
    if not _TRUST_DOMAIN.fullmatch(trust_domain):
        raise ValueError(f"trust domain must be lowercase letters, digits, '.', '-' or '_', got {trust_domain!r}")
    return trust_domain


def spiffe_id(trust_domain: str, namespace: str, service_account: str) -> str:
    """spiffe://<trust-domain>/ns/<namespace>/sa/<service account>."""
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"


def token_identity(volume: Volume) -> TokenIdentity:
    """The identity in the volume's `""`-audience token; InvalidVolume saying what is wrong."""
    token = service_account_token(volume)
    if token is None:
        raise InvalidVolume(
            f"{SERVICE_ACCOUNT_TOKENS} is missing: the CSIDriver object must request a token for the API server "
            '(spec.tokenRequests with audience "")'
        )
    claims = _unverified_claims(token)
    private = claims.get("kubernetes.io")
    private = private if isinstance(private, Mapping) else {}
    account = private.get("serviceaccount")
    namespace = private.get("namespace")
    name = account.get("name") if isinstance(account, Mapping) else None
    if not (isinstance(namespace, str) and namespace and isinstance(name, str) and name):
        raise InvalidVolume(MISSING_CLAIMS)
    _check_matches_pod(volume, namespace, name)
    return TokenIdentity(namespace=namespace, service_account=name, token=token)


def _unverified_claims(token: str) -> Mapping[str, Any]:
    not_jwt = InvalidVolume(f'{SERVICE_ACCOUNT_TOKENS}: the token for audience "" is not a JWT')
    parts = token.split(".")
    if len(parts) != 3:
        raise not_jwt
    payload = parts[1]
    try:
        raw = base64.b64decode(payload + "=" * (-len(payload) % 4), altchars=b"-_", validate=True)
        claims = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeError):
        # `from None`: a decoding error may quote the token.
        raise not_jwt from None
    if not isinstance(claims, dict):
        raise not_jwt
    return claims


def _check_matches_pod(volume: Volume, namespace: str, name: str) -> None:
    """kubelet never mixes these up; a mismatch means the volume context was tampered with."""
    pod_namespace = volume.attributes.get(POD_NAMESPACE)
    if pod_namespace and pod_namespace != namespace:
        raise InvalidVolume(f"the request token is for namespace {namespace!r}, but the pod is in {pod_namespace!r}")
    pod_account = volume.attributes.get(SERVICE_ACCOUNT_NAME)
    if pod_account and pod_account != name:
        raise InvalidVolume(f"the request token is for service account {name!r}, but the pod runs as {pod_account!r}")
