"""The SPIFFE approver's decision as a pure function: a CertificateRequest in, a Verdict out.

Upstream's checks run in upstream's order and the first failure denies; certcsi adds stricter
checks where upstream is weak (key type, any subject attribute, the pod behind an own-service-account
request). Nothing here raises on bad input: garbage is denied with a message naming the rule. The
only exception that escapes is `PodLookupError`, because a failed live lookup is not a verdict.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn
from urllib.parse import SplitResult, urlsplit

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from certcsi.drivers.spiffe.identity import IDENTITY_ANNOTATION, USAGES, check_trust_domain, spiffe_id
from certcsi.durations import format_go_duration, parse_go_duration
from certcsi.pki.csr import load_csr
from certcsi.pki.usages import usages_of
from certcsi.volumes.driver import IssuerRef

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

CONDITION_REASON = "spiffe.csi.cert-manager.io"
APPROVED_MESSAGE = "Approved request"
DENIED_PREFIX = "Denied request: "
REQUIRED_USAGES: tuple[str, ...] = USAGES

# Key types by the tokens `--allowed-key-types` takes; the driver only ever generates ECDSA P-256.
KEY_TYPES: frozenset[str] = frozenset(
    {"ECDSA-P256", "ECDSA-P384", "ECDSA-P521", "RSA-2048", "RSA-3072", "RSA-4096", "RSA-8192", "Ed25519"}
)
DEFAULT_KEY_TYPES: frozenset[str] = frozenset({"ECDSA-P256"})

# Stable rule ids (metrics labels), in evaluation order.
RULES: tuple[str, ...] = (
    "already-decided",
    "not-spiffe",
    "request",
    "duration",
    "signature",
    "key-type",
    "names",
    "subject",
    "extension",
    "san-type",
    "key-usage",
    "extended-key-usage",
    "is-ca",
    "usages",
    "username",
    "uri-count",
    "uri-scheme",
    "trust-domain",
    "driver-service-account",
    "spiffe-id",
    "pod-owner",
    "non-spiffe-issuer",
    "non-spiffe-uri",
    "approved",
    "approved-non-spiffe",
    "internal",
)

_ALLOWED_KEY_USAGES = frozenset({"digital signature", "key encipherment"})
_ALLOWED_EXT_KEY_USAGES = frozenset({"server auth", "client auth"})
_ALLOWED_EXTENSIONS = frozenset(
    {ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.KEY_USAGE, ExtensionOID.EXTENDED_KEY_USAGE}
)
_CURVE_TOKENS = {"secp256r1": "ECDSA-P256", "secp384r1": "ECDSA-P384", "secp521r1": "ECDSA-P521"}
_SA_PREFIX = ("system", "serviceaccount")
_MAX_SHOWN = 120

# (namespace, pod name) -> (namespace, service account) of that pod, or None when there is no such pod.
PodIdentity = Callable[[str, str], "tuple[str, str] | None"]


class PodLookupError(Exception):
    """The injected pod lookup failed: retry later, do not decide (a Denied condition is final)."""


@dataclass(frozen=True)
class Policy:
    """What the approver enforces; the controller replaces it when the runtime issuer changes."""

    trust_domain: str
    certificate_duration: timedelta = timedelta(hours=1)
    # The SPIFFE issuer: only consulted by --auto-approve-non-spiffe (upstream ignores it otherwise).
    issuer_ref: IssuerRef | None = None
    allowed_key_types: frozenset[str] = DEFAULT_KEY_TYPES
    # "system:serviceaccount:<ns>:<sa>" of the driver in --use-own-service-account mode, else None.
    own_service_account: str | None = None
    auto_approve_non_spiffe: bool = False

    def __post_init__(self) -> None:
        check_trust_domain(self.trust_domain)
        if self.certificate_duration <= timedelta(0):
            raise ValueError("certificate_duration: must be positive")
        unknown = sorted(self.allowed_key_types - KEY_TYPES)
        if unknown or not self.allowed_key_types:
            raise ValueError(f"allowed_key_types: want a non-empty subset of {sorted(KEY_TYPES)}, unknown: {unknown}")
        if self.own_service_account is not None and _service_account(self.own_service_account) is None:
            raise ValueError(
                "own_service_account: must be system:serviceaccount:<namespace>:<name>, "
                f"got {self.own_service_account!r}"
            )


@dataclass(frozen=True)
class Verdict:
    """approved None: not for this approver (leave it alone); `reason` is the condition message."""

    approved: bool | None
    reason: str
    rule: str


class _Denied(Exception):
    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


def _deny(rule: str, detail: str) -> NoReturn:
    raise _Denied(rule, detail)


# --- public helpers ------------------------------------------------------------------------------


def parse_key_types(text: str) -> frozenset[str]:
    """`--allowed-key-types` ("ECDSA-P256,RSA-2048", any case) as canonical tokens; ValueError naming unknowns."""
    by_upper = {token.upper(): token for token in KEY_TYPES}
    tokens = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [token for token in tokens if token.upper() not in by_upper]
    if unknown or not tokens:
        raise ValueError(f"--allowed-key-types: unknown key type(s) {unknown}; valid: {','.join(sorted(KEY_TYPES))}")
    return frozenset(by_upper[token.upper()] for token in tokens)


def key_type(public_key: object) -> str:
    """A descriptive token for any public key ("ECDSA-P256", "RSA-2047", "DSA-2048", ...)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA-{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return _CURVE_TOKENS.get(public_key.curve.name, f"ECDSA-{public_key.curve.name}")
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(public_key, dsa.DSAPublicKey):
        return f"DSA-{public_key.key_size}"
    return type(public_key).__name__


def normalise_issuer_ref(name: str, kind: str = "", group: str = "") -> IssuerRef:
    """cert-manager's defaults: an empty kind is "Issuer", an empty group "cert-manager.io"."""
    return IssuerRef(name=name, kind=kind or "Issuer", group=group or "cert-manager.io")


# --- the decision --------------------------------------------------------------------------------


def evaluate(request: Mapping[str, Any], policy: Policy, *, pod_identity: PodIdentity | None = None) -> Verdict:
    """Decide one CertificateRequest (the API object as a dict; spec.request is base64 PEM).

    `pod_identity` is the live Pod lookup own-service-account mode needs; an exception from it is
    raised as PodLookupError. Any other failure, however malformed the request, is a denial.
    """
    try:
        return _evaluate(request, policy, pod_identity)
    except _Denied as denied:
        return Verdict(approved=False, reason=f"{DENIED_PREFIX}{denied.rule}: {denied.detail}", rule=denied.rule)
    except PodLookupError:
        raise
    except Exception as e:  # the last line of defence: a crash would stall every pending request
        return Verdict(
            approved=False,
            reason=f"{DENIED_PREFIX}internal: the request could not be evaluated ({type(e).__name__})",
            rule="internal",
        )


def _evaluate(request: Mapping[str, Any], policy: Policy, pod_identity: PodIdentity | None) -> Verdict:
    obj = request if isinstance(request, Mapping) else {}
    metadata = _mapping(obj.get("metadata"))
    spec = _mapping(obj.get("spec"))
    if _already_decided(obj):
        return Verdict(approved=None, reason="the request is already Approved or Denied", rule="already-decided")
    if IDENTITY_ANNOTATION not in _mapping(metadata.get("annotations")):
        if not policy.auto_approve_non_spiffe:
            return Verdict(approved=None, reason=f"no {IDENTITY_ANNOTATION} annotation", rule="not-spiffe")
        _check_non_spiffe(spec, policy)
        return Verdict(approved=True, reason=APPROVED_MESSAGE, rule="approved-non-spiffe")

    csr = _parse_request(spec)  # 1
    _check_duration(spec, policy)  # 2
    _check_signature(csr)  # 3
    _check_key_type(csr, policy)  # stricter
    _check_names(csr)  # 4
    _check_subject(csr)  # stricter
    _check_extensions(csr)  # 5
    _check_is_ca(spec)  # 6
    _check_usages(spec)  # 7
    if policy.own_service_account is None:  # 8
        _check_pod_identity(csr, spec, policy)
    else:
        _check_driver_identity(csr, metadata, spec, policy, pod_identity)
    return Verdict(approved=True, reason=APPROVED_MESSAGE, rule="approved")


# --- structure -----------------------------------------------------------------------------------


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _show(value: object) -> str:
    """A requester-supplied value for a message: quoted, and cut so a huge value cannot flood it."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else f"{text[:_MAX_SHOWN]}...(truncated)"


def _already_decided(obj: Mapping[str, Any]) -> bool:
    conditions = _mapping(obj.get("status")).get("conditions")
    if not isinstance(conditions, Sequence) or isinstance(conditions, str | bytes):
        return False
    return any(
        isinstance(c, Mapping) and c.get("type") in ("Approved", "Denied") and c.get("status") == "True"
        for c in conditions
    )


def _service_account(username: object) -> tuple[str, str] | None:
    """(namespace, name) of "system:serviceaccount:<ns>:<name>", else None."""
    if not isinstance(username, str):
        return None
    parts = username.split(":")
    if len(parts) != 4 or tuple(parts[:2]) != _SA_PREFIX or not parts[2] or not parts[3]:
        return None
    return parts[2], parts[3]


# --- 1..7: the CSR and the spec ------------------------------------------------------------------


def _parse_request(spec: Mapping[str, Any]) -> x509.CertificateSigningRequest:
    raw = spec.get("request")
    if not isinstance(raw, str) or not raw:
        _deny("request", "failed to parse request: spec.request is missing or not a base64 string")
    try:
        pem = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        _deny("request", "failed to parse request: spec.request is not valid base64")
    try:
        csr = load_csr(pem)
    except ValueError as e:
        _deny("request", f"failed to parse request: {e}")
    except x509.InvalidVersion:  # not a ValueError, and pki.csr.load_csr lets it through
        _deny("request", "failed to parse request: unsupported CSR version")
    try:
        # cryptography decodes extensions lazily; Go's parser rejects a bad one up front, and so do we.
        _ = csr.extensions
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as e:
        _deny("request", f"failed to parse request: malformed CSR extensions ({type(e).__name__})")
    return csr


def _check_duration(spec: Mapping[str, Any], policy: Policy) -> None:
    required = format_go_duration(policy.certificate_duration)
    raw = spec.get("duration")
    if raw is None:
        _deny("duration", f"spec.duration must be {required!r} (the enforced duration), got none")
    try:
        requested = parse_go_duration(raw) if isinstance(raw, str) else None
    except ValueError:
        requested = None
    if requested != policy.certificate_duration:
        _deny("duration", f"spec.duration must be {required!r} (the enforced duration), got {_show(raw)}")


def _check_signature(csr: x509.CertificateSigningRequest) -> None:
    try:
        valid = csr.is_signature_valid
    except (UnsupportedAlgorithm, ValueError, TypeError) as e:
        _deny("signature", f"signature check failed for csr: {type(e).__name__}")
    if not valid:
        _deny("signature", "signature check failed for csr: the signature does not verify")


def _check_key_type(csr: x509.CertificateSigningRequest, policy: Policy) -> None:
    try:
        token = key_type(csr.public_key())
    except (UnsupportedAlgorithm, ValueError) as e:
        _deny("key-type", f"unsupported public key ({type(e).__name__})")
    if token not in policy.allowed_key_types:
        allowed = ", ".join(sorted(policy.allowed_key_types))
        _deny("key-type", f"key type {token} is not allowed (allowed: {allowed})")


def _san(csr: x509.CertificateSigningRequest) -> x509.SubjectAlternativeName | None:
    try:
        return csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def _check_names(csr: x509.CertificateSigningRequest) -> None:
    san = _san(csr)
    found = {
        "DNS names": san.get_values_for_type(x509.DNSName) if san else [],
        "IP addresses": [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] if san else [],
        "common name": [str(a.value) for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)],
        "email addresses": san.get_values_for_type(x509.RFC822Name) if san else [],
    }
    listed = [f"{what}={_show(values)}" for what, values in found.items() if values]
    if listed:
        _deny("names", f"forbidden names (only one URI SAN is allowed): {' '.join(listed)}")


def _check_subject(csr: x509.CertificateSigningRequest) -> None:
    if len(csr.subject) == 0:
        return
    oids = [attribute.oid.dotted_string for attribute in csr.subject]
    _deny("subject", f"the CSR subject must be empty, got attribute OID(s) {_show(oids)}")


def _check_extensions(csr: x509.CertificateSigningRequest) -> None:
    for extension in csr.extensions:
        value = extension.value
        if extension.oid not in _ALLOWED_EXTENSIONS:
            _deny("extension", f"forbidden extension: {extension.oid.dotted_string}")
        if isinstance(value, x509.SubjectAlternativeName):
            others = sorted({type(n).__name__ for n in value if not isinstance(n, x509.UniformResourceIdentifier)})
            if others:
                _deny("san-type", f"non URI SAN given: {', '.join(others)}")
        elif isinstance(value, x509.KeyUsage):
            forbidden = usages_of(value, None) - _ALLOWED_KEY_USAGES
            if forbidden:
                _deny("key-usage", f"forbidden key usage(s): {', '.join(sorted(forbidden))}")
        elif isinstance(value, x509.ExtendedKeyUsage):
            forbidden = usages_of(None, value) - _ALLOWED_EXT_KEY_USAGES
            if forbidden:
                _deny("extended-key-usage", f"forbidden extended key usage(s): {', '.join(sorted(forbidden))}")
        else:  # an allowed OID cryptography could not decode into its type
            _deny("extension", f"malformed extension: {extension.oid.dotted_string}")


def _check_is_ca(spec: Mapping[str, Any]) -> None:
    is_ca = spec.get("isCA", False)
    if is_ca is True:
        _deny("is-ca", "request contains spec.isCA=true")
    if is_ca is not False:
        _deny("is-ca", f"spec.isCA must be a boolean, got {_show(is_ca)}")


def _check_usages(spec: Mapping[str, Any]) -> None:
    usages = spec.get("usages")
    ok = (
        isinstance(usages, list)
        and all(isinstance(u, str) for u in usages)
        and len(usages) == len(REQUIRED_USAGES)
        and set(usages) == set(REQUIRED_USAGES)
    )
    if not ok:
        _deny("usages", f"request contains wrong usages, exp={list(REQUIRED_USAGES)} got={_show(usages)}")


# --- 8: who asks, for which SPIFFE ID ------------------------------------------------------------


def _single_uri(csr: x509.CertificateSigningRequest) -> tuple[str, SplitResult]:
    san = _san(csr)
    uris = san.get_values_for_type(x509.UniformResourceIdentifier) if san else []
    if len(uris) != 1:
        _deny("uri-count", f"expected exactly 1 SPIFFE URI present on request, got={len(uris)}")
    try:
        parsed = urlsplit(uris[0])
    except ValueError:
        _deny("uri-scheme", f"the URI SAN is not a valid URI: {_show(uris[0])}")
    if parsed.scheme != "spiffe" or not uris[0].startswith("spiffe:"):
        _deny("uri-scheme", f"URI scheme is not spiffe: {_show(uris[0].split(':', 1)[0])}")
    return uris[0], parsed


def _check_pod_identity(csr: x509.CertificateSigningRequest, spec: Mapping[str, Any], policy: Policy) -> None:
    username = spec.get("username")
    account = _service_account(username)
    if account is None:
        _deny("username", f"got non-serviceaccount encoded username: {_show(username)}")
    uri, _ = _single_uri(csr)
    expected = spiffe_id(policy.trust_domain, *account)
    if uri != expected:
        _deny("spiffe-id", f"unexpected SPIFFE ID requested, exp={expected!r} got={_show(uri)}")


def _check_driver_identity(
    csr: x509.CertificateSigningRequest,
    metadata: Mapping[str, Any],
    spec: Mapping[str, Any],
    policy: Policy,
    pod_identity: PodIdentity | None,
) -> None:
    uri, parsed = _single_uri(csr)
    if parsed.netloc != policy.trust_domain:
        _deny("trust-domain", f"unexpected trust domain, exp={policy.trust_domain!r} got={_show(parsed.netloc)}")
    username = spec.get("username")
    if username != policy.own_service_account:
        _deny(
            "driver-service-account",
            "request must be made by the csi-driver-spiffe ServiceAccount, "
            f"exp={policy.own_service_account!r} got={_show(username)}",
        )
    # Upstream stops here, so the driver's account could mint any ns/sa; tie the URI to the pod.
    namespace = metadata.get("namespace")
    parts = parsed.path.split("/")
    if (
        parsed.query
        or parsed.fragment
        or len(parts) != 5
        or parts[0] != ""
        or parts[1] != "ns"
        or parts[3] != "sa"
        or not parts[2]
        or not parts[4]
    ):
        _deny("spiffe-id", f"SPIFFE ID must be spiffe://<trust domain>/ns/<namespace>/sa/<name>, got {_show(uri)}")
    if parts[2] != namespace:
        _deny("spiffe-id", f"SPIFFE ID namespace {parts[2]!r} is not the request's namespace {_show(namespace)}")
    _check_owner_pod(metadata, (parts[2], parts[4]), pod_identity)


def _check_owner_pod(metadata: Mapping[str, Any], wanted: tuple[str, str], pod_identity: PodIdentity | None) -> None:
    if pod_identity is None:
        _deny("pod-owner", "no Pod lookup is configured, so the requesting Pod cannot be verified")
    refs = metadata.get("ownerReferences")
    pods = [
        ref
        for ref in (refs if isinstance(refs, list) else [])
        if isinstance(ref, Mapping) and ref.get("kind") == "Pod" and ref.get("apiVersion") == "v1"
    ]
    if len(pods) != 1 or not isinstance(pods[0].get("name"), str) or not pods[0]["name"]:
        _deny("pod-owner", f"the request must have exactly one Pod owner reference, got {len(pods)}")
    namespace, pod_name = wanted[0], pods[0]["name"]
    try:
        found = pod_identity(namespace, pod_name)
    except Exception as e:
        raise PodLookupError(f"looking up pod {namespace}/{pod_name} failed: {type(e).__name__}") from e
    if found is None:
        _deny("pod-owner", f"the owner Pod {namespace}/{pod_name} does not exist")
    if tuple(found) != wanted:
        _deny(
            "pod-owner",
            f"the owner Pod {namespace}/{pod_name} runs as {found[0]}/{found[1]}, "
            f"not as the requested {wanted[0]}/{wanted[1]}",
        )


# --- --auto-approve-non-spiffe -------------------------------------------------------------------


def _check_non_spiffe(spec: Mapping[str, Any], policy: Policy) -> None:
    ref = spec.get("issuerRef")
    name, kind, group = (ref.get(k, "") if isinstance(ref, Mapping) else None for k in ("name", "kind", "group"))
    if not (isinstance(name, str) and name and isinstance(kind, str) and isinstance(group, str)):
        _deny("non-spiffe-issuer", f"spec.issuerRef is malformed: {_show(ref)}")
    if policy.issuer_ref is None:
        _deny("non-spiffe-issuer", "no SPIFFE issuer is configured, so the request cannot be shown not to target it")
    spiffe_issuer = policy.issuer_ref
    if normalise_issuer_ref(name, kind, group) == normalise_issuer_ref(
        spiffe_issuer.name, spiffe_issuer.kind, spiffe_issuer.group
    ):
        _deny("non-spiffe-issuer", "non-SPIFFE certificate targeting configured SPIFFE issuer")
    san = _san(_parse_request(spec))
    uris = san.get_values_for_type(x509.UniformResourceIdentifier) if san else []
    # URI schemes are case-insensitive (RFC 3986 §3.1): "SPIFFE://" is still a SPIFFE ID to some verifiers.
    if any(uri.split(":", 1)[0].lower() == "spiffe" for uri in uris):
        _deny("non-spiffe-uri", "non-SPIFFE certificate request contains SPIFFE URI SAN")
