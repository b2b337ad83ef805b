"""Status conditions as cert-manager keeps them: one per type, `lastTransitionTime` moves only when
`status` does. Constants name the condition types, reasons and messages cert-manager writes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Obj = dict[str, Any]

APPROVED = "Approved"
DENIED = "Denied"
READY = "Ready"
INVALID_REQUEST = "InvalidRequest"

# Ready reasons on a CertificateRequest.
PENDING = "Pending"
ISSUED = "Issued"
FAILED = "Failed"
DENIED_REASON = "Denied"

APPROVER_REASON = "cert-manager.io"
APPROVED_MESSAGE = "Certificate request has been approved by cert-manager.io"
ISSUED_MESSAGE = "Certificate fetched from issuer successfully"
DENIED_MESSAGE = "The CertificateRequest was denied by an approval controller"

TRUE = "True"
FALSE = "False"


def conditions_of(obj: Mapping[str, Any]) -> list[Obj]:
    status = obj.get("status")
    if not isinstance(status, Mapping):
        return []
    conditions = status.get("conditions")
    return [c for c in conditions if isinstance(c, dict)] if isinstance(conditions, list) else []


def find(conditions: list[Obj], type_: str) -> Obj | None:
    for condition in conditions:
        if condition.get("type") == type_:
            return condition
    return None


def is_true(obj: Mapping[str, Any], type_: str) -> bool:
    condition = find(conditions_of(obj), type_)
    return condition is not None and condition.get("status") == TRUE


def ready_reason(obj: Mapping[str, Any]) -> str | None:
    condition = find(conditions_of(obj), READY)
    return None if condition is None else condition.get("reason")


def set_condition(
    status: Obj,
    *,
    type_: str,
    status_value: str,
    reason: str,
    message: str,
    now: str,
    observed_generation: int | None = None,
) -> None:
    """Add or replace the `type_` condition in `status`; the transition time survives an unchanged status."""
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        conditions = status["conditions"] = []
    new: Obj = {"type": type_, "status": status_value, "reason": reason, "message": message}
    if observed_generation is not None:
        new["observedGeneration"] = observed_generation
    for i, existing in enumerate(conditions):
        if isinstance(existing, dict) and existing.get("type") == type_:
            same = existing.get("status") == status_value and existing.get("lastTransitionTime")
            new["lastTransitionTime"] = existing["lastTransitionTime"] if same else now
            conditions[i] = new
            return
    new["lastTransitionTime"] = now
    conditions.append(new)
