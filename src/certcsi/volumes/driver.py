"""The small protocol a concrete driver implements; the engine never imports a driver.

A driver turns a volume into a request plan and an issued certificate into files. The engine owns
everything else: locking, storage, mounting, issuance, renewal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from certcsi.csi.volume_context import POD_NAME, POD_NAMESPACE, POD_UID
from certcsi.errors import quoted
from certcsi.pki.keys import PrivateKey

# 2^32 - 2: chown(2) reads (gid_t)-1 = 4294967295 as "leave the group alone", so that value would
# silently leave the files in root's group where the pod cannot read them.
MAX_GROUP_ID = 4294967294


def parse_group_id(text: str, *, minimum: int = 1) -> int:
    """A group id for the volume's files; ValueError stating the rule (and the bad value) otherwise."""
    rule = f"must be an integer from {minimum} to {MAX_GROUP_ID}"
    digits = text.removeprefix("+")  # Go's ParseInt, which csi-lib uses, takes a "+" sign
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"{rule}, got {quoted(text)}")
    value = int(digits)
    if not minimum <= value <= MAX_GROUP_ID:
        raise ValueError(f"{rule}, got {quoted(text)}")
    return value


@dataclass(frozen=True)
class Volume:
    """One CSI ephemeral volume as the engine knows it.

    `attributes` is the volume context with every secret removed (no token, no password). Secrets
    travel in `secrets`: the driver's secret attributes (a PKCS#12 password) are also kept in
    metadata.json on the tmpfs, where csi-lib reads them on renewal; the token only in memory.

    `pod_ip` is set by the engine, never by the pod spec, and never stored: the pod's address (for
    `${POD_IP}`) when a pod-ip readiness gate guarantees one, else None. Before the pod has an
    address the engine validates with a documentation address of the gate's family.
    """

    volume_id: str
    target_path: str
    attributes: Mapping[str, str]
    mount_group: int | None = None
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    pod_ip: str | None = None

    @property
    def pod_namespace(self) -> str:
        return self.attributes.get(POD_NAMESPACE, "")

    @property
    def pod_name(self) -> str:
        return self.attributes.get(POD_NAME, "")

    @property
    def pod_uid(self) -> str:
        return self.attributes.get(POD_UID, "")


@dataclass(frozen=True)
class VolumeWarning:
    """Something in a volume the driver accepts but its author should fix (e.g. an attribute it ignores).

    Shown to the pod's owner as a Warning Event: the message names keys and rules, never a value.
    """

    reason: str  # CamelCase, the Event's reason
    message: str


@dataclass(frozen=True)
class IssuerRef:
    name: str
    kind: str = "Issuer"
    group: str = "cert-manager.io"


@dataclass(frozen=True)
class RequestPlan:
    """What to ask cert-manager for: the body of one CertificateRequest, minus engine-owned metadata."""

    csr_pem: bytes
    issuer_ref: IssuerRef
    duration: timedelta | None
    is_ca: bool
    usages: tuple[str, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    # Bearer token to create the request with (the pod's own service account); None = driver's identity.
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Issued:
    """A signed certificate as cert-manager returned it."""

    certificate_pem: bytes  # leaf followed by its chain
    ca_pem: bytes  # status.ca, may be empty
    not_before: datetime
    not_after: datetime
    request_name: str


class Driver(Protocol):
    """csi-lib's callbacks: validate, key, request, files, renewal time."""

    name: str
    # Volume-context keys whose values are secrets: never in a log line, an error or an event; kept in
    # metadata.json (on the tmpfs, as csi-lib keeps them) so that a restarted driver can renew. The
    # engine always treats csi.storage.k8s.io/serviceAccount.tokens as secret too, and never writes it.
    secret_attributes: frozenset[str]

    def recognises(self, attributes: Mapping[str, str]) -> bool:
        """True when a volume context is certainly this driver's, with no other record to tell.

        Asked at start for a volume in a shared data root that has neither certcsi's driver record
        nor kubelet's vol_data.json: True only for what no other driver's volume can carry.
        """

    def validate(self, volume: Volume) -> Sequence[VolumeWarning]:
        """Raise InvalidVolume / InvalidVolumeAttribute naming the attribute and the rule; else the warnings."""

    async def generate_key(self, volume: Volume, previous: PrivateKey | None) -> PrivateKey:
        """A fresh key, or `previous` when the volume asks to reuse it; never blocks the loop for long."""

    def build_request(self, volume: Volume, key: PrivateKey) -> RequestPlan:
        """The CertificateRequest to create for this volume, CSR signed by `key`."""

    def files(self, volume: Volume, key: PrivateKey, issued: Issued) -> Mapping[str, bytes]:
        """The complete file set to publish (file name -> bytes), written atomically by the engine."""

    def fs_group(self, volume: Volume) -> int | None:
        """The group that must be able to read the files (driver attribute, else volume_mount_group)."""

    def next_issuance(self, volume: Volume, issued: Issued) -> datetime:
        """When to renew, before jitter (the engine adds documented jitter)."""

    def forget(self, volume_id: str) -> None:
        """The volume is gone (unpublished, or its first publish failed): drop whatever is kept for it."""
