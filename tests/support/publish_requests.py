"""Kubelet-shaped publish requests for engine tests that run without gRPC (shared by several test dirs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_POD_UID = "6f1c0f6e-0000-4000-8000-000000000001"


@dataclass(frozen=True)
class Req:
    """The fields of a NodePublishVolume call the engine reads (volumes.manager.PublishArgs)."""

    volume_id: str
    target_path: str
    volume_context: Mapping[str, str]
    readonly: bool = True
    secrets: Mapping[str, str] = field(default_factory=dict)
    volume_mount_group: str = ""


def volume_context(*, pod_uid: str = DEFAULT_POD_UID, issuer_kind: str | None = None, **attrs: str) -> dict[str, str]:
    """A csi.cert-manager.io volume context as kubelet sends it; `attrs` use `_` for `-` in attribute names."""
    ctx = {
        "csi.storage.k8s.io/ephemeral": "true",
        "csi.storage.k8s.io/pod.name": "app-0",
        "csi.storage.k8s.io/pod.namespace": "team",
        "csi.storage.k8s.io/pod.uid": pod_uid,
        "csi.storage.k8s.io/serviceAccount.name": "default",
        "csi.cert-manager.io/issuer-name": "ca",
        "csi.cert-manager.io/dns-names": "${POD_NAME}.${POD_NAMESPACE}.svc",
        "csi.cert-manager.io/duration": "1h",
        "csi.cert-manager.io/key-algorithm": "ECDSA",
    }
    if issuer_kind is not None:
        ctx["csi.cert-manager.io/issuer-kind"] = issuer_kind
    ctx.update({f"csi.cert-manager.io/{k.replace('_', '-')}": v for k, v in attrs.items()})
    return ctx
