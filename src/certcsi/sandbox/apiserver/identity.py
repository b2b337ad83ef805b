"""What authentication and authorization share: the caller (`UserInfo`, Kubernetes' user.Info) and the
read-only view of stored objects both consult (`ObjectReader`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

SA_USER_PREFIX = "system:serviceaccount:"
ANONYMOUS = "system:anonymous"
UNAUTHENTICATED = "system:unauthenticated"
AUTHENTICATED = "system:authenticated"


def _frozen_extra(extra: Mapping[str, Sequence[str]]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({key: tuple(values) for key, values in extra.items()})


@dataclass(frozen=True)
class UserInfo:
    """An authenticated caller, as `user.Info` in Kubernetes."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    # Excluded from the hash only because a mapping is unhashable; equality still compares it.
    extra: Mapping[str, Sequence[str]] = field(default_factory=lambda: _frozen_extra({}), hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", tuple(self.groups))
        object.__setattr__(self, "extra", _frozen_extra(self.extra))


ADMIN = UserInfo("kubernetes-admin", groups=("system:masters", AUTHENTICATED))
# kube-apiserver with anonymous auth on: a request without credentials is this user.
ANONYMOUS_USER = UserInfo(ANONYMOUS, groups=(UNAUTHENTICATED,))


def service_account_username(namespace: str, name: str) -> str:
    return f"{SA_USER_PREFIX}{namespace}:{name}"


class ObjectReader(Protocol):
    """Read access to stored objects; `resource` is `<group>/<plural>`, core group empty."""

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None: ...

    def list(self, resource: str, namespace: str | None) -> list[dict[str, Any]]: ...


@runtime_checkable
class CountsChanges(Protocol):
    """A reader that can tell whether objects of some types changed: what lets a reader's user cache."""

    def changes(self, *resources: str) -> int:
        """A number that grows with every write or removal of an object of these types."""
        ...
