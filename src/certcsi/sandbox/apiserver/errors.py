"""API errors as kube-apiserver returns them: a `Status` object with `reason` and `code`."""

from __future__ import annotations

from typing import Any

from certcsi.sandbox.apiserver.resources import ResourceType


class ApiError(Exception):
    """An error the API answers with; `status()` is the body sent to the client."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(rt: ResourceType, name: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": rt.plural}
    if rt.group:
        details["group"] = rt.group
    details.update(extra)
    return details


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.qualified()} "{name}" not found', details=_details(rt, name))


def already_exists(rt: ResourceType, name: str, *, deleting: bool = False) -> ApiError:
    prefix = "object is being deleted: " if deleting else ""
    return ApiError(
        409, "AlreadyExists", f'{prefix}{rt.qualified()} "{name}" already exists', details=_details(rt, name)
    )


def conflict(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.qualified()} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        details=_details(rt, name),
    )


def invalid_kind(group: str, kind: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 Invalid for a group and kind (`errors.NewInvalid`); causes are (reason, field, message)."""
    parts = [f"{field}: {message}" for _, field, message in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    details["causes"] = [{"reason": r, "message": m, "field": f} for r, f, m in causes]
    return ApiError(
        422, "Invalid", f'{kind}{"." + group if group else ""} "{name}" is invalid: {summary}', details=details
    )


def invalid(rt: ResourceType, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 Invalid naming the kind, as type validation answers."""
    return invalid_kind(rt.group, rt.kind, name, causes)


def invalid_for_resource(rt: ResourceType, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 Invalid naming the resource (the generic registry's checks say `certificaterequests.cert-manager.io`)."""
    return invalid_kind(rt.group, rt.plural, name, causes)


def precondition_failed(rt: ResourceType, name: str, detail: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.qualified()} "{name}": Precondition failed: {detail}',
        details=_details(rt, name),
    )


def namespace_terminating(rt: ResourceType, name: str, namespace: str) -> ApiError:
    """NamespaceLifecycle admission: 403 naming the object, with a NamespaceTerminating cause."""
    return ApiError(
        403,
        "Forbidden",
        f'{rt.qualified()} "{name}" is forbidden: '
        f"unable to create new content in namespace {namespace} because it is being terminated",
        details=_details(
            rt,
            name,
            causes=[
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {namespace} is being terminated",
                    "field": "metadata.namespace",
                }
            ],
        ),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)
