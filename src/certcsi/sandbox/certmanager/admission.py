"""Admission for CertificateRequests: what kube-apiserver and cert-manager's webhook do on every write.

Around the store's CRD schema handling, in kube-apiserver's order: stamp the requester's identity
(`spec.username`, `uid`, `groups`, `extra`) on CREATE, as cert-manager's mutating webhook does;
then cert-manager's validating rules (the CSR decodes, the issuerRef is
sane, `spec.duration` parses, CSR usages agree with `spec.usages`, the spec, the identity and the
cert-manager annotations never change, Approved/Denied are exclusive, True, and final). Any failure
is one 422 Invalid carrying every cause.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from cryptography import x509

from certcsi.durations import parse_go_duration
from certcsi.pki.csr import load_csr
from certcsi.pki.usages import DEFAULT_USAGES, usages_of
from certcsi.sandbox.apiserver import errors
from certcsi.sandbox.apiserver.crdschema import Cause, go_value
from certcsi.sandbox.apiserver.resources import BY_KEY, CERT_MANAGER, ResourceType
from certcsi.sandbox.certmanager import conditions as cond

Obj = dict[str, Any]

CERTIFICATE_REQUESTS = BY_KEY[f"{CERT_MANAGER}/certificaterequests"]

# (user, signer names) → may this user approve or deny for one of these signers?  cert-manager asks
# RBAC for verb `approve` on `signers.cert-manager.io` with these resource names.
SignerAuthorizer = Callable[[Any, Sequence[str]], bool]

_ANNOTATION_PREFIXES = ("cert-manager.io", "acme.cert-manager.io")
_IDENTITY_FIELDS = ("uid", "username", "groups", "extra")
_ISSUER_PLURALS = {"Issuer": "issuers", "ClusterIssuer": "clusterissuers"}


def stamp_identity(spec: Obj, user: Any) -> None:
    """Overwrite the identity fields of `spec` with the caller's (cert-manager's mutating webhook)."""
    spec["uid"] = str(user.uid)
    spec["username"] = str(user.username)
    spec["groups"] = list(user.groups)
    spec.pop("extra", None)
    extra: Mapping[str, Sequence[str]] = user.extra
    if extra:
        spec["extra"] = {key: list(values) for key, values in extra.items()}


def signer_names(issuer_ref: Mapping[str, Any], namespace: str) -> list[str]:
    """The `signers` resource names that cover approving for `issuer_ref` (cert-manager's scheme)."""
    kind = issuer_ref.get("kind") or "Issuer"
    group = issuer_ref.get("group") or CERT_MANAGER
    plural = _ISSUER_PLURALS.get(kind, kind.lower() + "s") if group == CERT_MANAGER else kind.lower() + "s"
    name = issuer_ref.get("name", "")
    scoped = f"{namespace}.{name}" if kind != "ClusterIssuer" else name
    return [f"{plural}.{group}/*", f"{plural}.{group}/{scoped}"]


class CertificateRequestAdmission:
    """A Store admission plugin for cert-manager.io/v1 CertificateRequests; other types pass untouched.

    The store prunes, defaults and validates by the CRD schema around it, as kube-apiserver does
    around cert-manager's webhooks: `mutate` is the mutating webhook, `admit` the validating one.
    """

    def __init__(self, *, can_approve: SignerAuthorizer | None = None) -> None:
        self._can_approve = can_approve

    def mutate(self, *, operation: str, rt: ResourceType, obj: Obj, old: Obj | None, user: Any | None) -> None:
        if rt.key != CERTIFICATE_REQUESTS.key or operation != "CREATE" or user is None:
            return
        spec = obj.get("spec")
        if isinstance(spec, dict):
            stamp_identity(spec, user)

    def admit(self, *, operation: str, rt: ResourceType, obj: Obj, old: Obj | None, user: Any | None) -> None:
        if rt.key != CERTIFICATE_REQUESTS.key:
            return
        name = str((obj.get("metadata") or {}).get("name", ""))
        spec_unchanged = old is not None and obj.get("spec") == old.get("spec")
        causes = list(self._webhook_rules(obj, old, user, spec_changed=not spec_unchanged))
        if causes:
            raise errors.invalid(CERTIFICATE_REQUESTS, name, [c.as_tuple() for c in causes])

    # -- cert-manager's validating webhook --------------------------------------------------------

    def _webhook_rules(self, obj: Obj, old: Obj | None, user: Any | None, *, spec_changed: bool) -> Iterator[Cause]:
        conditions = cond.conditions_of(obj)
        if old is None:
            yield from validate_spec(obj.get("spec") or {})
        else:
            yield from _unchanged_annotations(old, obj)
            yield from _unchanged_approval(cond.conditions_of(old), conditions)
            if spec_changed:
                yield from _unchanged_identity(old.get("spec") or {}, obj.get("spec") or {})
                yield Cause("FieldValueForbidden", "spec", "Forbidden: cannot change spec after creation")
        yield from validate_approval_conditions(conditions)
        if old is not None and user is not None and self._can_approve is not None:
            yield from self._approval_permission(old, obj, user)

    def _approval_permission(self, old: Obj, obj: Obj, user: Any) -> Iterator[Cause]:
        before, after = cond.conditions_of(old), cond.conditions_of(obj)
        added = any(
            cond.find(before, kind) is None and cond.find(after, kind) is not None
            for kind in (cond.APPROVED, cond.DENIED)
        )
        if not added or self._can_approve is None:
            return
        ref = (obj.get("spec") or {}).get("issuerRef") or {}
        namespace = str(obj["metadata"].get("namespace", ""))
        if not self._can_approve(user, signer_names(ref, namespace)):
            yield Cause(
                "FieldValueForbidden",
                "status.conditions",
                f'Forbidden: user "{user.username}" does not have permissions to set approved/denied conditions '
                f"for issuer {_render_ref(ref)}",
            )


def _render_ref(ref: Mapping[str, Any]) -> str:
    return "{" + " ".join(f"{k}:{ref.get(k, '')}" for k in ("name", "kind", "group")) + "}"


def validate_spec(spec: Obj) -> Iterator[Cause]:
    """cert-manager's ValidateCertificateRequestSpec, plus the duration its decoder would reject."""
    yield from _validate_issuer_ref(spec.get("issuerRef") or {})
    duration = spec.get("duration")
    if isinstance(duration, str):
        try:
            parse_duration(duration)
        except ValueError as exc:
            yield Cause("FieldValueInvalid", "spec.duration", f"Invalid value: {go_value(duration)}: {exc}")
    request = spec.get("request")
    if not request:
        yield Cause("FieldValueRequired", "spec.request", "Required value: must be specified")
        return
    try:
        csr = decode_request(str(request))
    except ValueError as exc:
        yield Cause(
            "FieldValueInvalid", "spec.request", f"Invalid value: {go_value(request)}: failed to decode csr: {exc}"
        )
        return
    yield from _validate_csr_usages(spec, csr)


# The webhook decodes a request's CSR and the CA issuer signs it moments later: the latest are kept
# parsed (x509 objects are immutable; a failure is never kept).
@functools.lru_cache(maxsize=256)
def decode_request(request: str) -> x509.CertificateSigningRequest:
    """`spec.request` (base64 of a PEM CSR) as a CSR; ValueError saying what was wrong."""
    try:
        pem = base64.b64decode(request.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("spec.request is not valid base64") from None
    if b"-----BEGIN" not in pem:
        raise ValueError("error decoding certificate request PEM block")
    try:
        return load_csr(pem)
    except ValueError as exc:
        raise ValueError(str(exc).removeprefix("failed to decode CSR: ")) from None


@functools.lru_cache(maxsize=64)
def parse_duration(text: str) -> timedelta:
    """`spec.duration` as Go parses it; a few distinct values recur on every request, so they are kept."""
    return parse_go_duration(text)


def _validate_issuer_ref(ref: Mapping[str, Any]) -> Iterator[Cause]:
    if not ref.get("name"):
        yield Cause("FieldValueRequired", "spec.issuerRef.name", "Required value: must be specified")
    group = ref.get("group") or ""
    kind = ref.get("kind") or ""
    if group in ("", CERT_MANAGER) and kind not in ("", "Issuer", "ClusterIssuer"):
        message = "must be one of Issuer or ClusterIssuer"
        if group == "":
            message += " (an external issuer's kind needs spec.issuerRef.group set)"
        yield Cause("FieldValueInvalid", "spec.issuerRef.kind", f"Invalid value: {go_value(kind)}: {message}")


def _canonical(usages: Sequence[str]) -> frozenset[str]:
    aliases = {"signing": "digital signature", "s/mime": "email protection"}
    return frozenset(aliases.get(u, u) for u in usages)


def _validate_csr_usages(spec: Mapping[str, Any], csr: x509.CertificateSigningRequest) -> Iterator[Cause]:
    """If both the CSR and `spec.usages` name usages (and the spec's are not the defaults), they must agree."""
    usages = [u for u in spec.get("usages") or () if isinstance(u, str)]
    if not usages or _canonical(usages) == _canonical(DEFAULT_USAGES):
        return
    try:
        extensions = csr.extensions
        ku = _extension(extensions, x509.KeyUsage)
        eku = _extension(extensions, x509.ExtendedKeyUsage)
    except ValueError as exc:
        yield Cause("FieldValueInvalid", "spec.request", f"Invalid value: {go_value(spec.get('request'))}: {exc}")
        return
    in_csr = usages_of(ku, eku)
    if not in_csr or in_csr == _canonical(DEFAULT_USAGES):
        return
    wanted = set(_canonical(usages))
    if spec.get("isCA"):
        wanted.add("cert sign")
    if in_csr != wanted:
        yield Cause(
            "FieldValueInvalid",
            "spec.request",
            f"Invalid value: {go_value(spec.get('request'))}: csr key usages do not match specified usages, these "
            f"should match if both are set: csr has {sorted(in_csr)}, spec.usages has {sorted(wanted)}",
        )


def _extension(extensions: x509.Extensions, kind: type[Any]) -> Any:
    try:
        return extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _unchanged_annotations(old: Obj, new: Obj) -> Iterator[Cause]:
    before = old["metadata"].get("annotations") or {}
    after = new["metadata"].get("annotations") or {}
    for key in sorted(set(before) | set(after)):
        if key.startswith(_ANNOTATION_PREFIXES) and before.get(key) != after.get(key):
            yield Cause(
                "FieldValueForbidden",
                f"metadata.annotations.{key}",
                "Forbidden: cannot change cert-manager annotation after creation",
            )


def _unchanged_identity(old_spec: Mapping[str, Any], new_spec: Mapping[str, Any]) -> Iterator[Cause]:
    for field in _IDENTITY_FIELDS:
        before, after = old_spec.get(field), new_spec.get(field)
        if field == "groups":
            before, after = sorted(before or []), sorted(after or [])
        if before != after:
            yield Cause(
                "FieldValueForbidden", f"spec.{field}", f"Forbidden: {field} identity cannot be changed once set"
            )


def _unchanged_approval(before: list[Obj], after: list[Obj]) -> Iterator[Cause]:
    for kind in (cond.APPROVED, cond.DENIED):
        old = cond.find(before, kind)
        if old is not None and old != cond.find(after, kind):
            yield Cause(
                "FieldValueForbidden",
                "status.conditions",
                f"Forbidden: '{kind}' condition may not be modified once set",
            )


def validate_approval_conditions(conditions: list[Obj]) -> Iterator[Cause]:
    """At most one Approved and one Denied condition, each True, never both."""
    found = {kind: [c for c in conditions if c.get("type") == kind] for kind in (cond.APPROVED, cond.DENIED)}
    for kind, matches in found.items():
        if len(matches) > 1:
            yield Cause("FieldValueForbidden", "status.conditions", f'Forbidden: multiple "{kind}" conditions present')
        elif matches and matches[0].get("status") != cond.TRUE:
            yield Cause(
                "FieldValueInvalid",
                f"status.conditions.{kind}",
                f'Invalid value: {go_value(matches[0].get("status"))}: "{kind}" condition may only be set to True',
            )
    if found[cond.APPROVED] and found[cond.DENIED]:
        yield Cause(
            "FieldValueForbidden",
            "status.conditions",
            "Forbidden: both 'Denied' and 'Approved' conditions cannot coexist",
        )
