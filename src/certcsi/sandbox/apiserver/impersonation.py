"""`Impersonate-*` headers (`kubectl --as`, `--as-group`): act as another user when RBAC lets the caller
`impersonate` that user (or service account), each group, the uid and each extra value; 403 otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from multidict import CIMultiDictProxy

from certcsi.sandbox.apiserver.errors import ApiError
from certcsi.sandbox.apiserver.identity import (
    ANONYMOUS,
    AUTHENTICATED,
    SA_USER_PREFIX,
    UNAUTHENTICATED,
    UserInfo,
)
from certcsi.sandbox.apiserver.rbac import RequestAttributes

USER = "Impersonate-User"
GROUP = "Impersonate-Group"
UID = "Impersonate-Uid"
EXTRA_PREFIX = "Impersonate-Extra-"
_PREFIX = "impersonate-"
_PREFIX_LENGTH = len(_PREFIX)

# (caller, attributes) -> None when allowed; raises the 403 when not.
Check = Callable[[UserInfo, RequestAttributes], None]


def _requests(username: str, groups: list[str], uid: str, extra: dict[str, list[str]]) -> list[RequestAttributes]:
    found: list[RequestAttributes] = []
    if username.startswith(SA_USER_PREFIX) and username.count(":") == 3:
        namespace, name = username.removeprefix(SA_USER_PREFIX).split(":")
        found.append(RequestAttributes("impersonate", "", "serviceaccounts", namespace=namespace, name=name))
    elif username:
        found.append(RequestAttributes("impersonate", "", "users", name=username))
    found.extend(RequestAttributes("impersonate", "", "groups", name=group) for group in groups)
    if uid:
        found.append(RequestAttributes("impersonate", "authentication.k8s.io", "uids", name=uid))
    for key, values in extra.items():
        found.extend(
            RequestAttributes("impersonate", "authentication.k8s.io", "userextras", subresource=key, name=value)
            for value in values
        )
    return found


def _without_user(groups: list[str], extra: dict[str, list[str]], uid: str) -> ApiError:
    # kube-apiserver prints the requests as Go structs in this internal error.
    parts = [
        f"{{Kind:Group Namespace: Name:{g} UID: APIVersion:authentication.k8s.io/v1 ResourceVersion: FieldPath:}}"
        for g in groups
    ]
    if extra or uid:
        parts.append(
            "{Kind:UserExtra Namespace: Name: UID: APIVersion:authentication.k8s.io/v1 ResourceVersion: FieldPath:}"
        )
    message = f"requested [{' '.join(parts)}] without impersonating a user"
    return ApiError(
        500, "InternalError", f"Internal error occurred: {message}", details={"causes": [{"message": message}]}
    )


def impersonate(caller: UserInfo, headers: CIMultiDictProxy[str], check: Check) -> UserInfo:
    """The user to act as: the caller itself without the headers, else the impersonated user."""
    if not any(name[:_PREFIX_LENGTH].lower() == _PREFIX for name in headers):
        return caller  # nearly every request: one look at each header name
    username = headers.get(USER, "")
    groups = list(headers.getall(GROUP, ()))
    uid = headers.get(UID, "")
    extra: dict[str, list[str]] = {}
    for name, value in headers.items():
        if name.lower().startswith(EXTRA_PREFIX.lower()):
            extra.setdefault(unquote(name[len(EXTRA_PREFIX) :]).lower(), []).append(value)
    if not username:
        if groups or extra or uid:
            raise _without_user(groups, extra, uid)
        return caller
    for attrs in _requests(username, groups, uid, extra):
        check(caller, attrs)
    if username.startswith(SA_USER_PREFIX) and username.count(":") == 3 and not groups:
        namespace = username.removeprefix(SA_USER_PREFIX).split(":")[0]
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    marker = UNAUTHENTICATED if username == ANONYMOUS else AUTHENTICATED
    if AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
        groups.append(marker)
    return UserInfo(username, uid=uid, groups=tuple(groups), extra=extra)
