"""The volume-context keys kubelet sets on NodePublishVolume (inline ephemeral volumes, podInfoOnMount,
tokenRequests), and the one way to make a volume context safe to log."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from certcsi.redact import REDACTED

KUBELET_GROUP = "csi.storage.k8s.io"
EPHEMERAL = "csi.storage.k8s.io/ephemeral"
POD_NAME = "csi.storage.k8s.io/pod.name"
POD_NAMESPACE = "csi.storage.k8s.io/pod.namespace"
POD_UID = "csi.storage.k8s.io/pod.uid"
SERVICE_ACCOUNT_NAME = "csi.storage.k8s.io/serviceAccount.name"
# The pod's tokens for the CSIDriver's tokenRequests (JSON): a secret, never logged or written to disk.
SERVICE_ACCOUNT_TOKENS = "csi.storage.k8s.io/serviceAccount.tokens"


def redact_context(ctx: Mapping[str, str], secret_keys: Collection[str]) -> dict[str, str]:
    """A copy of a volume context safe to log: the tokens and every key in `secret_keys` blanked."""
    secret = {SERVICE_ACCOUNT_TOKENS, *secret_keys}
    return {key: REDACTED if key in secret else value for key, value in ctx.items()}


__all__ = [
    "EPHEMERAL",
    "KUBELET_GROUP",
    "POD_NAME",
    "POD_NAMESPACE",
    "POD_UID",
    "SERVICE_ACCOUNT_NAME",
    "SERVICE_ACCOUNT_TOKENS",
    "redact_context",
]
