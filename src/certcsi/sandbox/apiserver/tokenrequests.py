"""The `serviceaccounts/<name>/token` subresource: a TokenRequest in, the minted token out, with
kube-apiserver's answers to a bad one (422 for the duration, 409 for a stale bound pod uid)."""

from __future__ import annotations

from typing import Any, Final

from certcsi.sandbox.apiserver.authn import BoundObjectConflict, TokenAuthority
from certcsi.sandbox.apiserver.decoding import json_kind
from certcsi.sandbox.apiserver.errors import ApiError, bad_request, invalid_kind
from certcsi.sandbox.apiserver.objects import Obj
from certcsi.timestamps import rfc3339

API_VERSION: Final = "authentication.k8s.io/v1"
DEFAULT_SECONDS: Final = 3600


def _audiences(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise bad_request("spec.audiences: must be a list of strings")
    return value or None


def _bound_pod(ref: Any) -> tuple[str, str] | None:
    """(name, uid) of the pod a TokenRequest binds to; only pods are supported."""
    if ref is None:
        return None
    if not isinstance(ref, dict):
        raise bad_request("spec.boundObjectRef: must be an object")
    kind, name, uid = ref.get("kind"), ref.get("name"), ref.get("uid") or ""
    if kind != "Pod":
        raise bad_request(f"spec.boundObjectRef.kind: only a Pod can be bound, not {kind!r}")
    if not isinstance(name, str) or not name or not isinstance(uid, str):
        raise bad_request("spec.boundObjectRef.name: Required value")
    return name, uid


def _seconds(spec: Obj) -> int:
    seconds = spec.get("expirationSeconds")
    if seconds is None:
        return DEFAULT_SECONDS
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise bad_request(
            'TokenRequest in version "v1" cannot be handled as a TokenRequest: json: cannot unmarshal '
            f"{json_kind(seconds)} into Go struct field TokenRequestSpec.spec.expirationSeconds of type int64"
        )
    return seconds




def answer(authority: TokenAuthority, body: Obj, *, namespace: str, account: str) -> Obj:
    """The TokenRequest answered with its token, for service account `account` in `namespace`."""
    spec = body.get("spec") or {}
    if not isinstance(spec, dict):
        raise bad_request("spec: must be an object")
    meta = body.get("metadata")
    name = str(meta.get("name", "")) if isinstance(meta, dict) else ""
    audiences = _audiences(spec.get("audiences"))
    seconds = _seconds(spec)
    ref = spec.get("boundObjectRef")
    bound = _bound_pod(ref)
    try:
        token, expires = authority.mint(
            namespace=namespace,
            service_account=account,
            audiences=audiences,
            expiration_seconds=seconds,
            bound_pod=bound,
        )
    except BoundObjectConflict as exc:
        pod = bound[0] if bound else ""
        detail = str(exc).removeprefix("spec.boundObjectRef.uid: ")
        raise ApiError(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on Pod "{pod}": {detail}',
            details={"name": pod, "kind": "Pod"},
        ) from None
    except LookupError as exc:
        raise ApiError(404, "NotFound", str(exc)) from None
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        if field == "spec.expirationSeconds":
            cause = ("FieldValueInvalid", field, f"Invalid value: {seconds}: {message}")
            raise invalid_kind("authentication.k8s.io", "TokenRequest", name, [cause]) from None
        raise bad_request(str(exc)) from None
    return {
        "kind": "TokenRequest",
        "apiVersion": API_VERSION,
        "metadata": {"name": account, "namespace": namespace, "creationTimestamp": None},
        "spec": {
            "audiences": list(audiences or authority.api_audiences),
            "expirationSeconds": seconds,
            "boundObjectRef": ref,
        },
        "status": {"token": token, "expirationTimestamp": rfc3339(expires)},
    }
