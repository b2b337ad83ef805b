"""The user-facing reference of every csi.cert-manager.io volume attribute: default and rule.

`docs/reference.md` is generated from this table (`python -m certcsi.docs`), and a test fails
when the table and the parser's set of known attributes drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from certcsi.drivers.certmanager import attributes as a


@dataclass(frozen=True)
class AttributeDoc:
    key: str
    default: str
    rule: str


ATTRIBUTES: tuple[AttributeDoc, ...] = (
    AttributeDoc(a.ISSUER_NAME, "—", "required: the Issuer or ClusterIssuer that signs; a DNS subdomain"),
    AttributeDoc(
        a.ISSUER_KIND, "`Issuer`", "`Issuer` or `ClusterIssuer`; for an external issuer's group any Kubernetes kind"
    ),
    AttributeDoc(a.ISSUER_GROUP, "`cert-manager.io`", "the issuer's API group, a DNS subdomain"),
    AttributeDoc(a.COMMON_NAME, "—", "variables expanded; at most 64 bytes of UTF-8; ignored with `literal-subject`"),
    AttributeDoc(
        a.LITERAL_SUBJECT,
        "—",
        "RFC 4514 subject used verbatim (types CN, O, OU, C, L, ST, STREET, SERIALNUMBER, DC, UID or dotted OIDs); "
        "variables expanded; values checked as the fields below",
    ),
    AttributeDoc(a.ORGANIZATIONS, "—", "comma-separated (`\\,` escapes a comma); variables expanded; each ≤ 64"),
    AttributeDoc(a.ORGANIZATIONAL_UNITS, "—", "as `organizations`; each ≤ 64"),
    AttributeDoc(a.COUNTRIES, "—", "as `organizations`; each 2 PrintableString characters"),
    AttributeDoc(a.PROVINCES, "—", "as `organizations`; each ≤ 128"),
    AttributeDoc(a.LOCALITIES, "—", "as `organizations`; each ≤ 128"),
    AttributeDoc(a.STREET_ADDRESSES, "—", "as `organizations`; each ≤ 128"),
    AttributeDoc(a.POSTAL_CODES, "—", "as `organizations`; each ≤ 40"),
    AttributeDoc(
        a.SERIAL_NUMBER,
        "—",
        "subject serial number, not expanded; ≤ 64 PrintableString characters (letters, digits, space, `'()+,-./:=?`)",
    ),
    AttributeDoc(a.DNS_NAMES, "—", "comma-separated DNS names; variables expanded"),
    AttributeDoc(a.URI_SANS, "—", "comma-separated absolute URIs; variables expanded"),
    AttributeDoc(a.IP_SANS, "—", "comma-separated IPv4 / IPv6 addresses"),
    AttributeDoc(a.EMAIL_SANS, "—", "comma-separated addresses `local@domain` (certcsi addition)"),
    AttributeDoc(a.DURATION, "`2160h`", "Go duration > 0 (upstream's code default; its docs say 720h)"),
    AttributeDoc(a.RENEW_BEFORE, "a third of the lifetime", "Go duration > 0; longer than the lifetime → default"),
    AttributeDoc(a.IS_CA, "`false`", "`true` or `false`"),
    AttributeDoc(a.KEY_USAGES, "`digital signature,key encipherment`", "comma-separated cert-manager usages"),
    AttributeDoc(a.KEY_ALGORITHM, "`RSA`", "`RSA`, `ECDSA` or `Ed25519` (any case)"),
    AttributeDoc(a.KEY_SIZE, "RSA 2048, ECDSA 256", "RSA 2048 to 8192; ECDSA 256, 384 or 521; empty for Ed25519"),
    AttributeDoc(a.KEY_ENCODING, "`PKCS1` for RSA, else `PKCS8`", "`PKCS1` (RSA only) or `PKCS8`, any case"),
    AttributeDoc(a.REUSE_PRIVATE_KEY, "`false`", "`true` keeps the key across renewals"),
    AttributeDoc(a.CERTIFICATE_FILE, "`tls.crt`", "file name: no `/`, not `..`, ≤ 255 bytes, all distinct"),
    AttributeDoc(a.PRIVATEKEY_FILE, "`tls.key`", "as `certificate-file`"),
    AttributeDoc(a.CA_FILE, "`ca.crt`", "as `certificate-file`"),
    AttributeDoc(a.FS_GROUP, "the pod's `fsGroup`", "integer 1 to 4294967294: files are readable by that group"),
    AttributeDoc(a.PKCS12_ENABLE, "`false`", "`true` also writes a PKCS#12 keystore"),
    AttributeDoc(a.PKCS12_FILENAME, "`keystore.p12`", "as `certificate-file`"),
    AttributeDoc(a.PKCS12_PASSWORD, "—", "required with `pkcs12-enable`; never stored outside the tmpfs or logged"),
)
