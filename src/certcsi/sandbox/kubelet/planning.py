"""What kubelet sends in NodePublishVolume for a CSI inline volume, as pure functions of API objects.

    InlineVolume.parse(pod.spec.volumes[i])      the volume as the pod asks for it
    DriverSpec.parse(CSIDriver | None)           what the cluster says about the driver
    check_lifecycle(...)                         Ephemeral must be listed, else kubelet refuses
    volume_context(...)                          volumeAttributes + pod info (+ tokens)
    publish_request(...)                         the request itself

Later keys win over earlier ones, as in kubelet's mergeMap: pod info overrides a volume attribute
of the same name, and the token JSON overrides both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from certcsi.csi._gen import csi_pb2
from certcsi.csi.volume_context import EPHEMERAL as EPHEMERAL_KEY
from certcsi.csi.volume_context import (
    POD_NAME,
    POD_NAMESPACE,
    POD_UID,
    SERVICE_ACCOUNT_NAME,
    SERVICE_ACCOUNT_TOKENS,
)
from certcsi.sandbox.kubelet.calling import NodeCapabilities

EPHEMERAL = "Ephemeral"
PERSISTENT = "Persistent"
DEFAULT_SERVICE_ACCOUNT = "default"
# log() in kubelet's CSI plugin prefixes its own messages with the plugin name.
PLUGIN_PREFIX = "kubernetes.io/csi: "


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (API objects are read defensively)."""
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class PodRef:
    """The parts of a Pod that reach the driver."""

    namespace: str
    name: str
    uid: str
    service_account: str
    fs_group: int | None

    @classmethod
    def parse(cls, pod: Mapping[str, Any]) -> PodRef:
        meta, spec = as_dict(pod.get("metadata")), as_dict(pod.get("spec"))
        fs_group = as_dict(spec.get("securityContext")).get("fsGroup")
        return cls(
            namespace=str(meta.get("namespace") or "default"),
            name=str(meta.get("name") or ""),
            uid=str(meta.get("uid") or ""),
            service_account=str(spec.get("serviceAccountName") or DEFAULT_SERVICE_ACCOUNT),
            fs_group=fs_group if isinstance(fs_group, int) and not isinstance(fs_group, bool) else None,
        )


@dataclass(frozen=True)
class InlineVolume:
    """One `spec.volumes[]` entry with a `csi` source."""

    name: str
    driver: str
    read_only: bool = False
    fs_type: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    secret_ref: str | None = None

    @classmethod
    def parse(cls, volume: Mapping[str, Any]) -> InlineVolume | None:
        """The inline CSI volume, or None for any other kind of volume."""
        source = volume.get("csi")
        if not isinstance(source, dict):
            return None
        secret = as_dict(source.get("nodePublishSecretRef")).get("name")
        return cls(
            name=str(volume.get("name") or ""),
            driver=str(source.get("driver") or ""),
            read_only=source.get("readOnly") is True,
            fs_type=str(source.get("fsType") or ""),
            attributes={str(k): str(v) for k, v in as_dict(source.get("volumeAttributes")).items()},
            secret_ref=str(secret) if secret else None,
        )


def inline_volumes(pod: Mapping[str, Any]) -> list[InlineVolume]:
    volumes = as_dict(pod.get("spec")).get("volumes") or []
    parsed = (InlineVolume.parse(v) for v in volumes if isinstance(v, dict))
    return [v for v in parsed if v is not None]


@dataclass(frozen=True)
class TokenSpec:
    """One `spec.tokenRequests[]` entry; an empty audience means the API server's own."""

    audience: str
    expiration_seconds: int | None = None


def _int_or_none(entry: Mapping[str, Any]) -> int | None:
    value = entry.get("expirationSeconds")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class DriverSpec:
    """A CSIDriver object's spec as kubelet reads it; `exists=False` when there is no object."""

    name: str
    exists: bool = True
    pod_info_on_mount: bool = False
    token_requests: tuple[TokenSpec, ...] = ()
    requires_republish: bool = False
    # kube-apiserver defaults an absent list to [Persistent].
    lifecycle_modes: tuple[str, ...] = (PERSISTENT,)
    tokens_in_secrets: bool = False

    @classmethod
    def parse(cls, name: str, obj: Mapping[str, Any] | None) -> DriverSpec:
        if obj is None:
            return cls(name=name, exists=False, lifecycle_modes=())
        spec = as_dict(obj.get("spec"))
        tokens = tuple(
            TokenSpec(audience=str(entry.get("audience") or ""), expiration_seconds=_int_or_none(entry))
            for entry in spec.get("tokenRequests") or []
            if isinstance(entry, dict)
        )
        modes = spec.get("volumeLifecycleModes")
        return cls(
            name=name,
            pod_info_on_mount=spec.get("podInfoOnMount") is True,
            token_requests=tokens,
            requires_republish=spec.get("requiresRepublish") is True,
            lifecycle_modes=tuple(str(m) for m in modes) if isinstance(modes, list) and modes else (PERSISTENT,),
            tokens_in_secrets=spec.get("serviceAccountTokenInSecrets") is True,
        )


def lifecycle_problem(driver: DriverSpec) -> str | None:
    """kubelet's supportsVolumeLifecycleMode for an inline volume, worded as its event shows it."""
    if not driver.exists:
        reason = f'volume mode "{EPHEMERAL}" not supported by driver {driver.name} (no CSIDriver object)'
    elif EPHEMERAL not in driver.lifecycle_modes:
        listed = " ".join(f'"{mode}"' for mode in driver.lifecycle_modes)
        reason = f'volume mode "{EPHEMERAL}" not supported by driver {driver.name} (only supports [{listed}])'
    else:
        return None
    return f"{PLUGIN_PREFIX}mounter.SetupAt failed to check volume lifecycle mode: {reason}"


def pod_info(pod: PodRef) -> dict[str, str]:
    return {
        POD_NAME: pod.name,
        POD_NAMESPACE: pod.namespace,
        POD_UID: pod.uid,
        SERVICE_ACCOUNT_NAME: pod.service_account,
        EPHEMERAL_KEY: "true",
    }


def volume_context(*, volume: InlineVolume, pod: PodRef, driver: DriverSpec, tokens_json: str | None) -> dict[str, str]:
    context = dict(volume.attributes)
    if driver.pod_info_on_mount:
        context.update(pod_info(pod))
    if tokens_json is not None and not driver.tokens_in_secrets:
        context[SERVICE_ACCOUNT_TOKENS] = tokens_json
    return context


def publish_secrets(*, secret_data: Mapping[str, str], driver: DriverSpec, tokens_json: str | None) -> dict[str, str]:
    """`secrets`: the nodePublishSecretRef's data, plus the tokens when the driver asks for them there."""
    secrets = dict(secret_data)
    if tokens_json is not None and driver.tokens_in_secrets:
        secrets[SERVICE_ACCOUNT_TOKENS] = tokens_json
    return secrets


def volume_capability(*, volume: InlineVolume, pod: PodRef, capabilities: NodeCapabilities) -> csi_pb2.VolumeCapability:
    """`mount` with the volume's fsType; ReadWriteOnce as CSI sees it; fsGroup only when the driver applies it."""
    mode = csi_pb2.VolumeCapability.AccessMode
    mount = csi_pb2.VolumeCapability.MountVolume(fs_type=volume.fs_type)
    if capabilities.volume_mount_group and pod.fs_group is not None:
        mount.volume_mount_group = str(pod.fs_group)
    return csi_pb2.VolumeCapability(
        mount=mount,
        access_mode=mode(
            mode=mode.SINGLE_NODE_MULTI_WRITER if capabilities.single_node_multi_writer else mode.SINGLE_NODE_WRITER
        ),
    )


def publish_request(
    *,
    volume_id: str,
    target_path: str,
    volume: InlineVolume,
    pod: PodRef,
    driver: DriverSpec,
    capabilities: NodeCapabilities,
    tokens_json: str | None,
    secret_data: Mapping[str, str],
) -> csi_pb2.NodePublishVolumeRequest:
    return csi_pb2.NodePublishVolumeRequest(
        volume_id=volume_id,
        target_path=target_path,
        volume_capability=volume_capability(volume=volume, pod=pod, capabilities=capabilities),
        readonly=volume.read_only,
        volume_context=volume_context(volume=volume, pod=pod, driver=driver, tokens_json=tokens_json),
        secrets=publish_secrets(secret_data=secret_data, driver=driver, tokens_json=tokens_json),
    )
