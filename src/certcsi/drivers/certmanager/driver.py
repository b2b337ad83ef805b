"""The csi.cert-manager.io driver: volume attributes in, CertificateRequest plan and files out.

Pure: no Kubernetes, no gRPC, no disk. The engine calls it several times per issuance (validate,
key, request, files, renewal time), so each volume's attributes are parsed once and kept until its
context changes or the engine forgets the volume (`parse_cache`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from certcsi.drivers.certmanager.attributes import (
    ISSUER_NAME,
    KNOWN_ATTRIBUTES,
    PKCS12_PASSWORD,
    CertAttributes,
    parse_attributes,
    request_annotations,
)
from certcsi.drivers.certmanager.parse_cache import ContextKey, ParseCache
from certcsi.drivers.certmanager.variables import POD_IP
from certcsi.drivers.unknown_attributes import unknown_attribute_warning
from certcsi.errors import IssuanceError
from certcsi.pki.certs import parse_pem_chain
from certcsi.pki.csr import CsrSpec, build_csr
from certcsi.pki.keypool import KeyPool
from certcsi.pki.keys import ECDSA_CURVES, KeySpec, PrivateKey, encode_private_key
from certcsi.pki.pkcs12 import encode_pkcs12
from certcsi.volumes.driver import Issued, RequestPlan, Volume, VolumeWarning
from certcsi.volumes.schedule import default_renewal_time, renew_before_time

DRIVER_NAME = "csi.cert-manager.io"
# Contexts of live volumes are a few KiB each: 16 MiB keeps thousands, and bounds a flood of huge ones.
DEFAULT_CACHE_BYTES = 16 * 1024 * 1024


def _parser(*, strict: bool) -> Callable[[ContextKey], CertAttributes]:
    def parse(key: ContextKey) -> CertAttributes:
        items, pod_ip = key
        return parse_attributes(dict(items), pod_ip=pod_ip, strict=strict)

    return parse


class CertManagerDriver:
    """Implements certcsi.volumes.driver.Driver for csi.cert-manager.io volume attributes."""

    secret_attributes: frozenset[str] = frozenset({PKCS12_PASSWORD})

    def __init__(
        self,
        *,
        name: str = DRIVER_NAME,
        strict_attributes: bool = False,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        keys: KeyPool | None = None,
    ) -> None:
        """`strict_attributes`: an unknown csi.cert-manager.io key fails the volume instead of a warning.

        `keys`: where fresh keys come from (the node's pool); None makes each one when asked.
        """
        self.name = name
        self._keys = keys if keys is not None else KeyPool(size=0)
        # Per instance, so the cache (which holds PKCS#12 passwords in memory) dies with the driver.
        self._parsed = ParseCache(_parser(strict=strict_attributes), max_bytes=cache_bytes)

    def attributes(self, volume: Volume) -> CertAttributes:
        """The volume's parsed attributes; raises InvalidVolumeAttribute."""
        context = dict(volume.attributes)
        context.update((k, v) for k, v in volume.secrets.items() if k in self.secret_attributes)
        # The pod's IP is part of the parse only when a value names it: with readiness gates the engine
        # asks with a placeholder at publish and the pod's address at issuance, and a context without
        # ${POD_IP} would otherwise be parsed again at each.
        pod_ip = volume.pod_ip if any(POD_IP in value for value in context.values()) else None
        return self._parsed.get(volume.volume_id, (tuple(sorted(context.items())), pod_ip))

    def recognises(self, attributes: Mapping[str, str]) -> bool:
        """Every csi.cert-manager.io volume names its issuer; a SPIFFE volume never carries the attribute."""
        return ISSUER_NAME in attributes

    def validate(self, volume: Volume) -> tuple[VolumeWarning, ...]:
        attrs = self.attributes(volume)
        secret = attrs.pkcs12_password or volume.secrets.get(PKCS12_PASSWORD)
        return tuple(
            unknown_attribute_warning(key, KNOWN_ATTRIBUTES, secret=secret) for key in attrs.unknown_attributes
        )

    def forget(self, volume_id: str) -> None:
        self._parsed.forget(volume_id)

    async def generate_key(self, volume: Volume, previous: PrivateKey | None) -> PrivateKey:
        attrs = self.attributes(volume)
        if attrs.reuse_private_key and previous is not None and _key_fits(previous, attrs.key):
            return previous
        return await self._keys.take(attrs.key)

    def build_request(self, volume: Volume, key: PrivateKey) -> RequestPlan:
        attrs = self.attributes(volume)
        spec = CsrSpec(
            subject=attrs.subject,
            dns_names=attrs.dns_names,
            ip_addresses=attrs.ip_addresses,
            uris=attrs.uris,
            emails=attrs.emails,
            usages=attrs.usages,
            is_ca=attrs.is_ca,
        )
        return RequestPlan(
            csr_pem=build_csr(key, spec),
            issuer_ref=attrs.issuer,
            duration=attrs.duration,
            is_ca=attrs.is_ca,
            usages=attrs.usages,
            annotations=request_annotations(volume.attributes),
        )

    def files(self, volume: Volume, key: PrivateKey, issued: Issued) -> Mapping[str, bytes]:
        attrs = self.attributes(volume)
        files = {
            attrs.certificate_file: issued.certificate_pem,
            attrs.privatekey_file: encode_private_key(key, attrs.key.encoding),
            attrs.ca_file: issued.ca_pem,
        }
        if attrs.pkcs12_enabled:
            files[attrs.pkcs12_filename] = _keystore(key, issued, attrs.pkcs12_password)
        return files

    def fs_group(self, volume: Volume) -> int | None:
        group = self.attributes(volume).fs_group
        return volume.mount_group if group is None else group

    def next_issuance(self, volume: Volume, issued: Issued) -> datetime:
        renew_before = self.attributes(volume).renew_before
        if renew_before is None:
            return default_renewal_time(issued.not_before, issued.not_after)
        return renew_before_time(issued.not_before, issued.not_after, renew_before)


def _key_fits(key: PrivateKey, spec: KeySpec) -> bool:
    """Whether a kept key still matches what the volume asks for (algorithm and size)."""
    if spec.algorithm == "RSA":
        return isinstance(key, rsa.RSAPrivateKey) and key.key_size == spec.size
    if spec.algorithm == "ECDSA":
        curve = ECDSA_CURVES.get(spec.size or 0)
        return isinstance(key, ec.EllipticCurvePrivateKey) and curve is not None and isinstance(key.curve, curve)
    return isinstance(key, ed25519.Ed25519PrivateKey)


def _keystore(key: PrivateKey, issued: Issued, password: str) -> bytes:
    try:
        chain = parse_pem_chain(issued.certificate_pem)
        return encode_pkcs12(key=key, chain=chain, password=password.encode("utf-8"))
    except ValueError as exc:
        # pki messages never carry the password; say which request produced the unusable chain.
        raise IssuanceError(f"request {issued.request_name!r}: cannot write the PKCS#12 keystore: {exc}") from None
