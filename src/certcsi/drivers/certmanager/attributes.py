"""csi.cert-manager.io volume attributes: parsed once into a typed, defaulted, validated value.

Every broken rule raises InvalidVolumeAttribute naming the attribute and the rule. An unknown
`csi.cert-manager.io/...` key is ignored, as upstream does, and listed in `unknown_attributes` (the
driver turns each into a warning); parsed strictly (--strict-attributes) it is an error. Deliberate
differences from upstream csi-driver (each only rejects what upstream silently mis-handles, or
accepts more; README's "Differences from the Go drivers" lists the stricter ones):
- the PKCS#12 password never appears in an error (upstream echoes it);
- an empty value means "not set" for every attribute (upstream does so for the defaulted ones);
- empty entries in comma lists (a trailing comma) are dropped instead of becoming empty SANs;
- `pkcs12-enable: "false"` needs no password (upstream demands one it never uses);
- SANs, subject values and annotation keys are checked here, so a bad one fails the mount with its
  name instead of failing at the API server or at signing;
- new: `email-sans`;
- new: `${POD_IP}` (with a pod-ip readiness gate), and variables are expanded in `ip-sans` too so
  that `ip-sans: ${POD_IP}` works (upstream expands no variable there).
`renew-before` ≥ the certificate's lifetime is accepted and, as upstream, falls back to the default
renewal time (see `renewal.renew_before_time`).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypedDict, cast

from cryptography import x509
from cryptography.x509.oid import NameOID

from certcsi.csi.volume_context import KUBELET_GROUP
from certcsi.drivers.certmanager.variables import expand, pod_variables
from certcsi.drivers.unknown_attributes import unknown_attribute_error
from certcsi.durations import parse_go_duration
from certcsi.errors import TRUNCATED, InvalidVolumeAttribute, quoted
from certcsi.kube.names import CERT_MANAGER_GROUP as CERT_MANAGER
from certcsi.kube.names import is_qualified_name, issuer_ref_problem
from certcsi.pki.keys import DEFAULT_ECDSA_SIZE, DEFAULT_RSA_SIZE, ECDSA_CURVES, KeyAlgorithm, KeyEncoding, KeySpec
from certcsi.pki.subject import build_subject, parse_rfc4514, split_list
from certcsi.pki.usages import DEFAULT_USAGES, key_usage_extension, split_usages
from certcsi.redact import redact_secret
from certcsi.volumes.driver import IssuerRef, parse_group_id

GROUP = "csi.cert-manager.io"
_P = GROUP + "/"

ISSUER_NAME = _P + "issuer-name"
ISSUER_KIND = _P + "issuer-kind"
ISSUER_GROUP = _P + "issuer-group"
LITERAL_SUBJECT = _P + "literal-subject"
COMMON_NAME = _P + "common-name"
ORGANIZATIONS = _P + "organizations"
ORGANIZATIONAL_UNITS = _P + "organizationalunits"
COUNTRIES = _P + "countries"
PROVINCES = _P + "provinces"
LOCALITIES = _P + "localities"
STREET_ADDRESSES = _P + "streetaddresses"
POSTAL_CODES = _P + "postalcodes"
SERIAL_NUMBER = _P + "serialnumber"
DNS_NAMES = _P + "dns-names"
URI_SANS = _P + "uri-sans"
IP_SANS = _P + "ip-sans"
EMAIL_SANS = _P + "email-sans"
DURATION = _P + "duration"
RENEW_BEFORE = _P + "renew-before"
IS_CA = _P + "is-ca"
KEY_USAGES = _P + "key-usages"
KEY_ALGORITHM = _P + "key-algorithm"
KEY_SIZE = _P + "key-size"
KEY_ENCODING = _P + "key-encoding"
REUSE_PRIVATE_KEY = _P + "reuse-private-key"
CERTIFICATE_FILE = _P + "certificate-file"
PRIVATEKEY_FILE = _P + "privatekey-file"
CA_FILE = _P + "ca-file"
FS_GROUP = _P + "fs-group"
PKCS12_ENABLE = _P + "pkcs12-enable"
PKCS12_FILENAME = _P + "pkcs12-filename"
PKCS12_PASSWORD = _P + "pkcs12-password"

# Subject list attributes, by the keyword of pki.subject.build_subject they fill.
_SUBJECT_LISTS: dict[str, str] = {
    ORGANIZATIONS: "organizations",
    ORGANIZATIONAL_UNITS: "organizational_units",
    COUNTRIES: "countries",
    PROVINCES: "provinces",
    LOCALITIES: "localities",
    STREET_ADDRESSES: "street_addresses",
    POSTAL_CODES: "postal_codes",
}

KNOWN_ATTRIBUTES: frozenset[str] = frozenset(
    {
        ISSUER_NAME, ISSUER_KIND, ISSUER_GROUP, LITERAL_SUBJECT, COMMON_NAME, *_SUBJECT_LISTS,
        SERIAL_NUMBER, DNS_NAMES, URI_SANS, IP_SANS, EMAIL_SANS, DURATION, RENEW_BEFORE, IS_CA,
        KEY_USAGES, KEY_ALGORITHM, KEY_SIZE, KEY_ENCODING, REUSE_PRIVATE_KEY, CERTIFICATE_FILE,
        PRIVATEKEY_FILE, CA_FILE, FS_GROUP, PKCS12_ENABLE, PKCS12_FILENAME, PKCS12_PASSWORD,
    }
)  # fmt: skip

DEFAULT_DURATION = timedelta(hours=2160)  # cert-manager's code default (its docs say 720h)
_ALGORITHMS: dict[str, KeyAlgorithm] = {"rsa": "RSA", "ecdsa": "ECDSA", "ed25519": "Ed25519"}
_ENCODINGS: dict[str, KeyEncoding] = {"pkcs1": "PKCS1", "pkcs8": "PKCS8"}
_WITHHELD = "invalid value (details withheld: they contain a secret)"
DEFAULT_KEY = KeySpec("RSA", DEFAULT_RSA_SIZE, "PKCS1")
_EMPTY_NAME = x509.Name([])

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, kw_only=True)
class CertAttributes:
    """One volume's request, with every default applied and every variable expanded."""

    issuer: IssuerRef
    common_name: str | None = None  # after expansion; from the literal subject's CN when that is set
    literal_subject: str | None = None  # after expansion
    organizations: tuple[str, ...] = ()
    organizational_units: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    localities: tuple[str, ...] = ()
    street_addresses: tuple[str, ...] = ()
    postal_codes: tuple[str, ...] = ()
    serial_number: str | None = None
    subject: x509.Name = _EMPTY_NAME  # what the CSR carries: the literal subject, else the fields
    dns_names: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    ip_addresses: tuple[IPAddress, ...] = ()
    emails: tuple[str, ...] = ()
    duration: timedelta = DEFAULT_DURATION
    renew_before: timedelta | None = None
    is_ca: bool = False
    usages: tuple[str, ...] = DEFAULT_USAGES
    key: KeySpec = DEFAULT_KEY
    reuse_private_key: bool = False
    certificate_file: str = "tls.crt"
    privatekey_file: str = "tls.key"
    ca_file: str = "ca.crt"
    fs_group: int | None = None
    pkcs12_enabled: bool = False
    pkcs12_filename: str = "keystore.p12"
    pkcs12_password: str = field(default="", repr=False)
    # csi.cert-manager.io keys this driver does not know, ignored (as upstream does), in context order.
    unknown_attributes: tuple[str, ...] = ()


def request_annotations(context: Mapping[str, str]) -> dict[str, str]:
    """Attributes of any other group (e.g. `venafi.cert-manager.io/custom-fields`): request annotations."""
    return {
        key: value
        for key, value in context.items()
        if "/" in key and key.split("/", 1)[0] not in (GROUP, KUBELET_GROUP)
    }


def parse_attributes(context: Mapping[str, str], *, pod_ip: str | None = None, strict: bool = False) -> CertAttributes:
    """Parse, default and validate a volume context (pod info included, secrets merged in).

    `pod_ip` is the value of `${POD_IP}`; None leaves that variable undefined. `strict` makes an
    unknown csi.cert-manager.io key an error instead of an entry in `unknown_attributes`.

    Raises InvalidVolumeAttribute only; its text never contains the PKCS#12 password, even when
    another attribute's value happens to contain it.
    """
    password = context.get(PKCS12_PASSWORD, "")
    try:
        return _parse(context, pod_ip, strict=strict)
    except InvalidVolumeAttribute as err:
        # A value cut short may end inside the password, showing a part no form matches.
        cut = TRUNCATED in str(err) and _elsewhere(context, password)
        if not cut and redact_secret(str(err), password) == str(err):
            raise
        scrubbed = _scrubbed(err, password, withhold=cut)
    # Raised outside the except block so the original (unscrubbed) error is not chained to it.
    raise scrubbed


def _elsewhere(context: Mapping[str, str], secret: str) -> bool:
    """Whether `secret` is part of another entry of the context (a key, or another attribute's value)."""
    return bool(secret) and any(
        secret in key or (secret in value and key != PKCS12_PASSWORD) for key, value in context.items()
    )


def _scrubbed(err: InvalidVolumeAttribute, secret: str, *, withhold: bool) -> InvalidVolumeAttribute:
    """`err` with every form of the secret redacted; its rule withheld when that cannot be done reliably."""
    attribute = redact_secret(err.attribute, secret)
    clean = InvalidVolumeAttribute(attribute, redact_secret(err.rule, secret))
    # e.g. the secret is a substring of fixed wording, or a value cut short ends inside it
    if withhold or redact_secret(str(clean), secret) != str(clean):
        clean = InvalidVolumeAttribute(attribute, _WITHHELD)
    return clean


def _parse(context: Mapping[str, str], pod_ip: str | None, *, strict: bool) -> CertAttributes:
    unknown = _check_keys(context)
    if unknown and strict:
        raise unknown_attribute_error(unknown[0], KNOWN_ATTRIBUTES)
    values = {key: value for key, value in context.items() if key.startswith(_P) and value != ""}
    variables = pod_variables(context, pod_ip=pod_ip)

    def expanded(key: str) -> str | None:
        text = values.get(key)
        return None if text is None else expand(text, variables, attribute=key)

    issuer = _issuer(values)
    subject = _subject_fields(values, expanded)
    sans = _Sans(
        dns_names=_names(DNS_NAMES, expanded(DNS_NAMES), _check_dns_name),
        uris=_names(URI_SANS, expanded(URI_SANS), _check_uri),
        emails=_names(EMAIL_SANS, expanded(EMAIL_SANS), _check_email),
        ip_addresses=tuple(_ip(item) for item in _csv(expanded(IP_SANS))),
    )
    if not any(sans.values()) and not subject.get("common_name"):
        raise InvalidVolumeAttribute(
            DNS_NAMES,
            "the certificate would name nothing: set at least one of dns-names, ip-sans, uri-sans, "
            "email-sans or common-name (or a CN in literal-subject)",
        )
    return CertAttributes(
        issuer=issuer,
        **subject,
        **sans,
        duration=_duration(values, DURATION) or DEFAULT_DURATION,
        renew_before=_duration(values, RENEW_BEFORE),
        is_ca=_bool(values, IS_CA, default=False),
        usages=_usages(values),
        key=_key_spec(values),
        reuse_private_key=_bool(values, REUSE_PRIVATE_KEY, default=False),
        fs_group=_fs_group(values),
        **_files(values),
        unknown_attributes=unknown,
    )


class _Subject(TypedDict, total=False):
    common_name: str | None
    literal_subject: str
    organizations: tuple[str, ...]
    organizational_units: tuple[str, ...]
    countries: tuple[str, ...]
    provinces: tuple[str, ...]
    localities: tuple[str, ...]
    street_addresses: tuple[str, ...]
    postal_codes: tuple[str, ...]
    serial_number: str | None
    subject: x509.Name


class _Sans(TypedDict):
    dns_names: tuple[str, ...]
    uris: tuple[str, ...]
    emails: tuple[str, ...]
    ip_addresses: tuple[IPAddress, ...]


class _Files(TypedDict):
    certificate_file: str
    privatekey_file: str
    ca_file: str
    pkcs12_enabled: bool
    pkcs12_filename: str
    pkcs12_password: str


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _check_keys(context: Mapping[str, str]) -> tuple[str, ...]:
    """The unknown csi.cert-manager.io keys; InvalidVolumeAttribute for a key no annotation can have."""
    unknown: list[str] = []
    for key in context:
        group = key.split("/", 1)[0] if "/" in key else None
        if group == GROUP and key not in KNOWN_ATTRIBUTES:
            unknown.append(key)
        if group not in (None, GROUP, KUBELET_GROUP) and not is_qualified_name(key):
            raise InvalidVolumeAttribute(
                key,
                "is passed on as a CertificateRequest annotation, so it must be a valid Kubernetes "
                'annotation key: "<DNS subdomain>/<name>", name 1-63 letters, digits, "-", "_" or "." '
                "starting and ending with a letter or digit",
            )
    return tuple(unknown)


def _issuer(values: Mapping[str, str]) -> IssuerRef:
    name = values.get(ISSUER_NAME)
    if name is None:
        raise InvalidVolumeAttribute(ISSUER_NAME, "required: the name of the cert-manager issuer to sign with")
    ref = IssuerRef(name=name, kind=values.get(ISSUER_KIND, "Issuer"), group=values.get(ISSUER_GROUP, CERT_MANAGER))
    # A request naming an issuer that cannot exist would only wait out the issue timeout.
    problem = issuer_ref_problem(name=ref.name, kind=ref.kind, group=ref.group)
    if problem is not None:
        field, rule = problem
        attribute = {"name": ISSUER_NAME, "kind": ISSUER_KIND, "group": ISSUER_GROUP}[field]
        raise InvalidVolumeAttribute(attribute, f"{rule}, got {quoted(getattr(ref, field))}")
    return ref


# ---- subject ---------------------------------------------------------------------------------


def _subject_fields(values: Mapping[str, str], expanded: Callable[[str], str | None]) -> _Subject:
    literal = expanded(LITERAL_SUBJECT)
    if literal is not None:
        try:
            subject = parse_rfc4514(literal)
        except ValueError as exc:  # its message says whether the syntax or a value's string type is wrong
            raise InvalidVolumeAttribute(LITERAL_SUBJECT, str(exc)) from None
        cns = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        cn = str(cns[0].value) if cns else None
        return _Subject(literal_subject=literal, subject=subject, common_name=cn)
    # Keyword arguments of pki.subject.build_subject, by the attribute that fills each.
    parts: dict[str, tuple[str, Any]] = {
        "common_name": (COMMON_NAME, expanded(COMMON_NAME) or None),
        "serial_number": (SERIAL_NUMBER, values.get(SERIAL_NUMBER)),
    }
    for key, keyword in _SUBJECT_LISTS.items():
        text = expanded(key)
        parts[keyword] = (key, tuple(split_list(text)) if text else ())
    kwargs = {keyword: value for keyword, (_, value) in parts.items()}
    try:
        subject = build_subject(**kwargs)
    except ValueError:
        # Rebuild one field at a time to name the attribute that broke an X.509 rule.
        for keyword, (attribute, value) in parts.items():
            try:
                build_subject(**{keyword: value})
            except ValueError as exc:
                rule = f"not valid in a certificate subject: {exc}"
                raise InvalidVolumeAttribute(str(attribute), rule) from None
        raise InvalidVolumeAttribute(COMMON_NAME, "the subject attributes do not form a valid subject") from None
    fields = cast(_Subject, kwargs)
    fields["subject"] = subject
    return fields


# ---- SANs ------------------------------------------------------------------------------------


def _csv(text: str | None) -> tuple[str, ...]:
    """Comma list: entries trimmed, empty entries dropped, duplicates dropped (first kept)."""
    if not text:
        return ()
    items = (item.strip() for item in text.split(","))
    return tuple(dict.fromkeys(item for item in items if item))


def _names(key: str, text: str | None, check: Callable[[str], str | None]) -> tuple[str, ...]:
    names = _csv(text)
    for name in names:
        problem = check(name)
        if problem is not None:
            raise InvalidVolumeAttribute(key, problem)
    return names


_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _check_dns_name(name: str) -> str | None:
    if not _PRINTABLE_ASCII.fullmatch(name):
        return (
            f"DNS name {quoted(name)} must be ASCII without spaces or control characters "
            "(write internationalised names in their xn-- form)"
        )
    return None


def _check_uri(uri: str) -> str | None:
    if not _PRINTABLE_ASCII.fullmatch(uri):
        return f"URI {quoted(uri)} must be ASCII without spaces or control characters (percent-encode them)"
    if not _URI_SCHEME.match(uri):
        return f"URI {quoted(uri)} must be an absolute URI starting with a scheme, e.g. spiffe://trust.domain/path"
    if _BAD_PERCENT.search(uri):
        return f"URI {quoted(uri)} has a '%' not followed by two hex digits"
    return None


# RFC 5322 dot-atom local part; a host name domain (address literals are not supported).
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+")
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*")


def _check_email(email: str) -> str | None:
    local, at, domain = email.partition("@")
    if not at or not local or not domain or "@" in domain:
        return f"email address {quoted(email)} must have exactly one '@' with a non-empty part on each side"
    if not (_EMAIL_LOCAL.fullmatch(local) and _EMAIL_DOMAIN.fullmatch(domain)):
        return (
            f"email address {quoted(email)} must be a plain ASCII address: no spaces, display name, <>, "
            "quotes or comments, and a host name after the '@'"
        )
    return None


def _ip(text: str) -> IPAddress:
    try:
        if "%" in text:  # Go's ParseIP takes no IPv6 zone; Python's does
            raise ValueError(text)
        address = ipaddress.ip_address(text)
    except ValueError:
        shown = quoted(text, dump=_go_quote)  # Go's %q, as upstream words it
        raise InvalidVolumeAttribute(IP_SANS, f"failed to parse IP address {shown}") from None
    # Go writes an IPv4-mapped IPv6 address as the 4-byte IPv4 address; do the same.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# ---- lifetime, flags, usages, key ------------------------------------------------------------


def _duration(values: Mapping[str, str], key: str) -> timedelta | None:
    text = values.get(key)
    if text is None:
        return None
    try:
        value = parse_go_duration(text)
    except (ValueError, OverflowError):
        rule = f'must be a Go duration such as "2160h" or "1h30m" (units h, m, s, ms, us, ns), got {quoted(text)}'
        raise InvalidVolumeAttribute(key, rule) from None
    if value <= timedelta(0):
        raise InvalidVolumeAttribute(key, f"must be greater than zero, got {quoted(text)}")
    return value


def _bool(values: Mapping[str, str], key: str, *, default: bool) -> bool:
    text = values.get(key)
    if text is None:
        return default
    if text not in ("true", "false"):
        raise InvalidVolumeAttribute(key, f'must be exactly "true" or "false", got {quoted(text)}')
    return text == "true"


def _usages(values: Mapping[str, str]) -> tuple[str, ...]:
    text = values.get(KEY_USAGES)
    if text is None:
        return DEFAULT_USAGES
    try:
        usages = tuple(dict.fromkeys(split_usages(text)))
        key_usage_extension(usages)  # cross-usage rules (e.g. "encipher only" needs "key agreement")
    except ValueError as exc:
        raise InvalidVolumeAttribute(KEY_USAGES, str(exc)) from None
    if not usages:
        raise InvalidVolumeAttribute(KEY_USAGES, "must list at least one usage")
    return usages


_INTEGER = re.compile(r"\+?[0-9]{1,20}")  # Go's Atoi, which upstream uses, takes a "+" sign


def _integer(key: str, text: str, rule: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise InvalidVolumeAttribute(key, f"{rule}, got {quoted(text)}")
    return int(text)


def _key_spec(values: Mapping[str, str]) -> KeySpec:
    raw_algorithm = values.get(KEY_ALGORITHM, "RSA")
    algorithm = _ALGORITHMS.get(raw_algorithm.lower())
    if algorithm is None:
        rule = f"must be RSA, ECDSA or Ed25519 (any case), got {quoted(raw_algorithm)}"
        raise InvalidVolumeAttribute(KEY_ALGORITHM, rule)
    size_text = values.get(KEY_SIZE)
    size: int | None
    if algorithm == "Ed25519":
        if size_text is not None:
            raise InvalidVolumeAttribute(KEY_SIZE, "must be empty when key-algorithm is Ed25519")
        size = None
    elif algorithm == "RSA":
        rule = "RSA key size must be an integer from 2048 to 8192"
        size = DEFAULT_RSA_SIZE if size_text is None else _integer(KEY_SIZE, size_text, rule)
        if not 2048 <= size <= 8192:
            raise InvalidVolumeAttribute(KEY_SIZE, f"{rule}, got {size}")
    else:
        rule = "ECDSA key size must be 256, 384 or 521"
        size = DEFAULT_ECDSA_SIZE if size_text is None else _integer(KEY_SIZE, size_text, rule)
        if size not in ECDSA_CURVES:
            raise InvalidVolumeAttribute(KEY_SIZE, f"{rule}, got {size}")
    encoding_text = values.get(KEY_ENCODING, "PKCS1" if algorithm == "RSA" else "PKCS8")
    encoding = _ENCODINGS.get(encoding_text.lower())  # any case, as upstream normalises it
    if encoding is None:
        rule = f'must be "PKCS1" or "PKCS8" (any case), got {quoted(encoding_text)}'
        raise InvalidVolumeAttribute(KEY_ENCODING, rule)
    if encoding == "PKCS1" and algorithm != "RSA":
        raise InvalidVolumeAttribute(KEY_ENCODING, f"PKCS1 can only encode RSA keys; use PKCS8 with {algorithm}")
    return KeySpec(algorithm, size, encoding)


def _fs_group(values: Mapping[str, str]) -> int | None:
    text = values.get(FS_GROUP)
    if text is None:
        return None
    try:
        return parse_group_id(text)
    except ValueError as e:
        raise InvalidVolumeAttribute(FS_GROUP, str(e)) from None


# ---- files -----------------------------------------------------------------------------------


def _files(values: Mapping[str, str]) -> _Files:
    enable_text = values.get(PKCS12_ENABLE)
    if enable_text is None:
        for key in (PKCS12_FILENAME, PKCS12_PASSWORD):
            if key in values:
                raise InvalidVolumeAttribute(key, f'can only be used with {PKCS12_ENABLE} set to "true"')
    enabled = _bool(values, PKCS12_ENABLE, default=False)
    password = values.get(PKCS12_PASSWORD, "")
    if enabled and not password:
        raise InvalidVolumeAttribute(PKCS12_PASSWORD, f'required when {PKCS12_ENABLE} is "true"')
    names = {
        CERTIFICATE_FILE: values.get(CERTIFICATE_FILE, "tls.crt"),
        PRIVATEKEY_FILE: values.get(PRIVATEKEY_FILE, "tls.key"),
        CA_FILE: values.get(CA_FILE, "ca.crt"),
    }
    pkcs12_filename = values.get(PKCS12_FILENAME, "keystore.p12")
    if enabled:
        names[PKCS12_FILENAME] = pkcs12_filename
    owners: dict[str, str] = {}
    for key, name in names.items():
        _check_file_name(key, name)
        if name in owners:
            raise InvalidVolumeAttribute(
                key, f"file name {quoted(name)} is already used by {owners[name]}; every file needs its own name"
            )
        owners[name] = key
    return _Files(
        certificate_file=names[CERTIFICATE_FILE],
        privatekey_file=names[PRIVATEKEY_FILE],
        ca_file=names[CA_FILE],
        pkcs12_enabled=enabled,
        pkcs12_filename=pkcs12_filename,
        pkcs12_password=password,
    )


def _check_file_name(key: str, name: str) -> None:
    problem = None
    if "/" in name:
        problem = "must be a plain file name without '/' (files live directly in the volume)"
    elif "\x00" in name:
        problem = "must not contain a NUL character"
    elif name.startswith(".."):
        problem = "must not start with '..' (reserved for the volume's atomic-update directories)"
    elif name == ".":
        problem = "must not be '.'"
    elif len(name.encode("utf-8", "surrogatepass")) > 255:
        problem = "must be at most 255 bytes long"
    elif name != name.strip():
        problem = "must not start or end with whitespace"
    if problem is not None:
        raise InvalidVolumeAttribute(key, f"{problem}, got {quoted(name)}")
