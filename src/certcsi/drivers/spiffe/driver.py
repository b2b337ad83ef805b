"""The spiffe.csi.cert-manager.io driver: a pod's token in, an X.509 SVID request and files out.

Pure: no Kubernetes, no gRPC, no disk. The identity comes from the pod's own token, the issuer from
`RuntimeIssuer` at each issuance, the CA bundle (when configured) from an injected callable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType

from certcsi.drivers.spiffe.annotations import without_reserved
from certcsi.drivers.spiffe.identity import IDENTITY_ANNOTATION, USAGES, check_trust_domain, token_identity
from certcsi.drivers.spiffe.issuer import RuntimeIssuer
from certcsi.drivers.spiffe.workload.opting import WORKLOAD_API, workload_api_enabled
from certcsi.drivers.unknown_attributes import unknown_attribute_error, unknown_attribute_warning
from certcsi.errors import InvalidVolumeAttribute
from certcsi.pki.csr import CsrSpec, build_csr
from certcsi.pki.keypool import KeyPool
from certcsi.pki.keys import KeySpec, PrivateKey, encode_private_key
from certcsi.volumes.driver import Issued, RequestPlan, Volume, VolumeWarning, parse_group_id
from certcsi.volumes.schedule import default_renewal_time

__all__ = ["DEFAULT_DURATION", "DRIVER_NAME", "FS_GROUP", "SpiffeDriver"]

DRIVER_NAME = "spiffe.csi.cert-manager.io"
ATTRIBUTE_PREFIX = "spiffe.csi.cert-manager.io/"
FS_GROUP = ATTRIBUTE_PREFIX + "fs-group"
# fs-group is all upstream knows in its namespace (csi-lib's FSGroupVolumeAttributeKey); workload-api is
# certcsi's (the SPIFFE Workload API socket in the volume).
_KNOWN = frozenset({FS_GROUP, WORKLOAD_API})
DEFAULT_DURATION = timedelta(hours=1)
_KEY = KeySpec("ECDSA", 256, "PKCS8")

CaBundle = Callable[[], bytes | None]


class SpiffeDriver:
    """Implements certcsi.volumes.driver.Driver for spiffe.csi.cert-manager.io volumes."""

    secret_attributes: frozenset[str] = frozenset()

    def __init__(
        self,
        *,
        issuer: RuntimeIssuer,
        name: str = DRIVER_NAME,
        trust_domain: str = "cluster.local",
        certificate_duration: timedelta = DEFAULT_DURATION,
        extra_annotations: Mapping[str, str] | None = None,
        use_own_service_account: bool = False,
        certificate_file: str = "tls.crt",
        key_file: str = "tls.key",
        ca_file: str = "ca.crt",
        ca_bundle: CaBundle | None = None,
        strict_attributes: bool = False,
        keys: KeyPool | None = None,
    ) -> None:
        """`ca_bundle` returns the current bundle bytes (None while none is loaded); None = no ca file.

        `strict_attributes`: an unknown spiffe.csi.cert-manager.io key fails the volume instead of a warning.
        `keys`: where fresh keys come from (the node's pool); None makes each one when asked.
        """
        if certificate_duration <= timedelta(0):
            raise ValueError(f"certificate duration must be positive, got {certificate_duration}")
        if len({certificate_file, key_file, ca_file}) != 3:
            raise ValueError(
                f"file names must differ: certificate {certificate_file!r}, key {key_file!r}, ca {ca_file!r}"
            )
        self.name = name
        self._issuer = issuer
        self._trust_domain = check_trust_domain(trust_domain)
        self._duration = certificate_duration
        # Sanitised here as well as by the flag parser: the identity annotation must never be overridden.
        self._extra = MappingProxyType(without_reserved(extra_annotations or {}))
        self._own_account = use_own_service_account
        self._certificate_file = certificate_file
        self._key_file = key_file
        self._ca_file = ca_file
        self._ca_bundle = ca_bundle
        self._strict = strict_attributes
        self._keys = keys if keys is not None else KeyPool(size=0)

    @property
    def trust_domain(self) -> str:
        return self._trust_domain

    @property
    def ca_file(self) -> str | None:
        """The CA file name when a bundle source is configured (the bundle rewriter needs it), else None."""
        return self._ca_file if self._ca_bundle is not None else None

    def recognises(self, attributes: Mapping[str, str]) -> bool:
        """Never: a SPIFFE volume needs no attribute at all, and any it has, another driver's volume may carry
        too (as a CertificateRequest annotation). Without a record, a SPIFFE volume is left alone."""
        return False

    def validate(self, volume: Volume) -> tuple[VolumeWarning, ...]:
        unknown = [key for key in volume.attributes if key.startswith(ATTRIBUTE_PREFIX) and key not in _KNOWN]
        if unknown and self._strict:
            raise unknown_attribute_error(unknown[0], _KNOWN)
        _fs_group(volume)
        workload_api_enabled(volume.attributes, default=False)
        token_identity(volume)
        return tuple(unknown_attribute_warning(key, _KNOWN) for key in unknown)

    async def generate_key(self, volume: Volume, previous: PrivateKey | None) -> PrivateKey:
        # Never reused: a new SVID always gets a new key.
        return await self._keys.take(_KEY)

    def build_request(self, volume: Volume, key: PrivateKey) -> RequestPlan:
        identity = token_identity(volume)
        uri = identity.spiffe_id(self._trust_domain)
        issuer_ref = self._issuer.require()
        return RequestPlan(
            # Empty subject, so pki.csr marks the single URI SAN critical; no KU/EKU in the CSR (as upstream).
            csr_pem=build_csr(key, CsrSpec(uris=(uri,))),
            issuer_ref=issuer_ref,
            duration=self._duration,
            is_ca=False,
            usages=USAGES,
            annotations={**self._extra, IDENTITY_ANNOTATION: uri},
            token=None if self._own_account else identity.token,
        )

    def files(self, volume: Volume, key: PrivateKey, issued: Issued) -> Mapping[str, bytes]:
        files = {
            self._certificate_file: issued.certificate_pem,
            self._key_file: encode_private_key(key, "PKCS8"),
        }
        bundle = self._ca_bundle() if self._ca_bundle is not None else None
        if bundle is not None:
            files[self._ca_file] = bundle
        return files

    def fs_group(self, volume: Volume) -> int | None:
        group = _fs_group(volume)
        return volume.mount_group if group is None else group

    def next_issuance(self, volume: Volume, issued: Issued) -> datetime:
        return default_renewal_time(issued.not_before, issued.not_after)

    def forget(self, volume_id: str) -> None:
        pass  # nothing is kept per volume


def _fs_group(volume: Volume) -> int | None:
    text = volume.attributes.get(FS_GROUP)
    if text is None:
        return None
    try:
        return parse_group_id(text)
    except ValueError as e:
        raise InvalidVolumeAttribute(FS_GROUP, str(e)) from None
