"""spiffe.csi.cert-manager.io: every pod gets an X.509 SVID for its service account, signed by cert-manager."""

from certcsi.drivers.spiffe.annotations import ExtraAnnotations, parse_extra_annotations
from certcsi.drivers.spiffe.driver import DRIVER_NAME, FS_GROUP, SpiffeDriver
from certcsi.drivers.spiffe.identity import (
    IDENTITY_ANNOTATION,
    USAGES,
    TokenIdentity,
    check_trust_domain,
    spiffe_id,
    token_identity,
)
from certcsi.drivers.spiffe.issuer import CONFIGMAP_KEYS, IssuerConfig, RuntimeIssuer

__all__ = [
    "CONFIGMAP_KEYS",
    "DRIVER_NAME",
    "FS_GROUP",
    "IDENTITY_ANNOTATION",
    "USAGES",
    "ExtraAnnotations",
    "IssuerConfig",
    "RuntimeIssuer",
    "SpiffeDriver",
    "TokenIdentity",
    "check_trust_domain",
    "parse_extra_annotations",
    "spiffe_id",
    "token_identity",
]
