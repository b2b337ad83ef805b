"""PATCH bodies as kube-apiserver applies them: JSON merge patch (RFC 7386) and JSON patch (RFC 6902)
here; strategic merge patch (strategicpatch.py) and server-side apply (applying.py) by their modules.

The media type picks the patch kind; one the server does not take is 415 UnsupportedMediaType.
Custom resources take no strategic merge patch, as on a real cluster. A body that is not the shape
its kind needs is 400 BadRequest; a JSON patch that cannot apply (missing path, failed `test`) is
422 Invalid with kube-apiserver's generic text and the reason as its cause.
"""

from __future__ import annotations

from typing import Any, Final

import jsonpatch
import jsonpointer

from certcsi.sandbox.apiserver.errors import ApiError, bad_request

MERGE: Final = "application/merge-patch+json"
JSON_PATCH: Final = "application/json-patch+json"
STRATEGIC: Final = "application/strategic-merge-patch+json"
APPLY: Final = "application/apply-patch+yaml"

_BUILTIN_KINDS = (JSON_PATCH, MERGE, STRATEGIC, APPLY)
_CUSTOM_KINDS = (JSON_PATCH, MERGE, APPLY)


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header: no parameters, lower case."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def unsupported_media_type(accepted: tuple[str, ...]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: " + ", ".join(accepted),
    )


def patch_kind(content_type: str | None, *, strategic: bool) -> str:
    """The patch kind a PATCH request's Content-Type names; 415 for any other."""
    kind = media_type(content_type)
    accepted = _BUILTIN_KINDS if strategic else _CUSTOM_KINDS
    if kind not in accepted:
        raise unsupported_media_type(accepted)
    return kind


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null deletes, anything else replaces.

    Reuses (and may change) `target` and `patch`; callers pass values they own.
    """
    if not isinstance(patch, dict):
        return patch
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _json_patch(target: dict[str, Any], patch: Any) -> Any:
    if not isinstance(patch, list) or not all(isinstance(op, dict) for op in patch):
        raise bad_request("json: cannot unmarshal the patch: a JSON patch must be an array of operation objects")
    try:
        return jsonpatch.JsonPatch(patch).apply(target, in_place=True)
    except jsonpatch.JsonPatchTestFailed:
        raise _rejected("test failed") from None
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise _rejected(str(exc)) from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        # jsonpatch trusts well-formed operations; a malformed one fails inside it.
        raise _rejected("the patch has a malformed operation") from None


def _rejected(reason: str) -> ApiError:
    """kube-apiserver's answer to a JSON patch that cannot apply (NewGenericServerResponse, 422)."""
    return ApiError(
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
        details={"causes": [{"reason": "UnexpectedServerResponse", "message": reason}]},
    )


def apply_patch(kind: str, target: dict[str, Any], patch: Any) -> dict[str, Any]:
    """`target` (a copy the caller owns) with the decoded `patch` of `kind` applied."""
    if kind == JSON_PATCH:
        result = _json_patch(target, patch)
    else:
        if not isinstance(patch, dict):
            raise bad_request("the patch must be a JSON object to merge into the object")
        result = merge_patch(target, patch)
    if not isinstance(result, dict):
        raise bad_request("the patched object is not a JSON object")
    return result
