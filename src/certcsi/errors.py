"""The domain errors of certcsi, each saying whose move it is and which gRPC code it becomes.

    CertcsiError
    ├── InvalidVolume          the pod spec is wrong: fix the manifest      → INVALID_ARGUMENT
    │   └── InvalidVolumeAttribute   one attribute breaks a named rule      → INVALID_ARGUMENT
    ├── IncompatiblePublish    same volume, same target, different request  → ALREADY_EXISTS
    ├── UnusableTarget         a file, link, mount or files at the target   → FAILED_PRECONDITION
    ├── StorageExhausted       the volume tmpfs is full                     → RESOURCE_EXHAUSTED
    ├── NotReady               the driver itself cannot serve yet           → FAILED_PRECONDITION
    ├── IssuanceError          cert-manager did not give a certificate      → INTERNAL (kubelet retries)
    │   ├── IssuanceDenied         an approver denied the request
    │   ├── IssuanceFailed         the issuer marked the request Failed
    │   ├── IssuanceTimeout        nothing terminal within the budget
    │   └── IssuerUnavailable      no issuer is configured or reachable
    └── KubernetesError        the API server refused or was unreachable    → UNAVAILABLE / PERMISSION_DENIED /
                                                                               INVALID_ARGUMENT (400, 422)

Messages never contain a private key, a token or a password: callers build them from field
names and rules, never from the rejected value when that value is a secret. A rejected value is
shown through `quoted`, which cuts a long one short.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import grpc

# Characters of a rejected value an error shows: enough to find it in a manifest. A whole 70 kB
# value in an error once made gRPC drop the reply (its status must fit in the response trailers).
ECHO_LIMIT = 64
# A volume attribute's key shows whole up to the longest valid annotation key (253 + "/" + 63).
KEY_ECHO_LIMIT = 317
# A rejected list shows this many items.
ECHO_ITEMS = 5
TRUNCATED = "…"


def quoted(value: str, *, limit: int = ECHO_LIMIT, dump: Callable[[str], str] = repr) -> str:
    """`value` as an error shows what it rejected: `dump(value)` (repr by default), cut after `limit` characters.

    `'aaaaaaaa'… (70000 characters)` for a long one; the length says how much was left out.
    """
    if len(value) <= limit:
        return dump(value)
    return f"{dump(value[:limit])}{TRUNCATED} ({len(value)} characters)"


def quoted_items(values: Sequence[str], *, dump: Callable[[str], str] = repr, most: int = ECHO_ITEMS) -> str:
    """Rejected list items as an error shows them: the first `most`, each `quoted`, then how many more."""
    shown = ", ".join(quoted(value, dump=dump) for value in values[:most])
    rest = len(values) - most
    return f"{shown} and {rest} more" if rest > 0 else shown


class CertcsiError(Exception):
    """Base of every error certcsi raises on purpose."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL


class InvalidVolume(CertcsiError):
    """The volume request itself is wrong (missing CSI field, not ephemeral, not read-only)."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class InvalidVolumeAttribute(InvalidVolume):
    """One volume attribute breaks a rule; the message names the attribute and the rule."""

    def __init__(self, attribute: str, rule: str) -> None:
        # An unknown key is chosen by the pod's author and may be as long as a value.
        super().__init__(f"volume attribute {quoted(attribute, limit=KEY_ECHO_LIMIT)}: {rule}")
        self.attribute = attribute
        self.rule = rule


class IncompatiblePublish(CertcsiError):
    """The volume is already published at this target with different arguments."""

    grpc_code = grpc.StatusCode.ALREADY_EXISTS


class UnusableTarget(CertcsiError):
    """The target path is a file, a symlink, a non-empty directory or another mount: certcsi neither
    mounts over it nor removes it; whoever put it there (or the node's operator) must."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class StorageExhausted(CertcsiError):
    """The volume tmpfs has no room left (its size limit); freed by unpublishes, or raised by the operator.

    RESOURCE_EXHAUSTED is one of the codes kubelet retries without giving the volume up.
    """

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class NotReady(CertcsiError):
    """The driver cannot serve yet (tmpfs not mounted, state not loaded)."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION


class IssuanceError(CertcsiError):
    """cert-manager did not return a certificate; kubelet will retry the publish."""

    grpc_code = grpc.StatusCode.INTERNAL


class IssuanceDenied(IssuanceError):
    """An approver denied the CertificateRequest: the request itself must change."""


class IssuanceFailed(IssuanceError):
    """The issuer marked the CertificateRequest Failed."""


class IssuanceTimeout(IssuanceError):
    """The CertificateRequest reached no terminal state within the budget."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED


class IssuerUnavailable(IssuanceError):
    """No issuer is configured (SPIFFE runtime configuration absent) or it cannot be used."""

    grpc_code = grpc.StatusCode.UNAVAILABLE


class KubernetesError(CertcsiError):
    """The Kubernetes API refused a call or could not be reached."""

    grpc_code = grpc.StatusCode.UNAVAILABLE

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        if status == 403:
            self.grpc_code = grpc.StatusCode.PERMISSION_DENIED
        elif status in (400, 422):
            # The API server rejected what the volume asked for (e.g. an issuer kind cert-manager's
            # schema refuses): retrying the same request cannot help, the manifest must change.
            self.grpc_code = grpc.StatusCode.INVALID_ARGUMENT
