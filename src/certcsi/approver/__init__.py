"""The SPIFFE approver: decides the CertificateRequests csi-driver-spiffe creates.

`evaluate` is the whole decision as a pure function; the controller only feeds it requests and
writes its verdicts.
"""

from certcsi.approver.evaluator import (
    APPROVED_MESSAGE,
    CONDITION_REASON,
    DEFAULT_KEY_TYPES,
    DENIED_PREFIX,
    IDENTITY_ANNOTATION,
    KEY_TYPES,
    REQUIRED_USAGES,
    RULES,
    PodIdentity,
    PodLookupError,
    Policy,
    Verdict,
    evaluate,
    key_type,
    normalise_issuer_ref,
    parse_key_types,
)

__all__ = [
    "APPROVED_MESSAGE",
    "CONDITION_REASON",
    "DEFAULT_KEY_TYPES",
    "DENIED_PREFIX",
    "IDENTITY_ANNOTATION",
    "KEY_TYPES",
    "REQUIRED_USAGES",
    "RULES",
    "PodIdentity",
    "PodLookupError",
    "Policy",
    "Verdict",
    "evaluate",
    "key_type",
    "normalise_issuer_ref",
    "parse_key_types",
]
