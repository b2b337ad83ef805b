"""What the TokenAuthority tests share: a dict-backed ObjectReader, a settable clock, the names used."""

from __future__ import annotations

from typing import Any

from certcsi.sandbox.apiserver.authn import PODS, SERVICEACCOUNTS, TokenAuthority

NOW = 1_700_000_000.0
NS, SA, POD = "app", "runner", "web-0"


class Store:
    """A dict-backed ObjectReader; tests delete and recreate objects in it."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None, str], dict[str, Any]] = {}

    def put(self, resource: str, name: str, uid: str, **extra: Any) -> None:
        metadata = {"name": name, "namespace": NS, "uid": uid, **extra.pop("metadata", {})}
        self.objects[(resource, NS, name)] = {"metadata": metadata, **extra}

    def delete(self, resource: str, name: str) -> None:
        del self.objects[(resource, NS, name)]

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects.get((resource, namespace, name))

    def list(self, resource: str, namespace: str | None) -> list[dict[str, Any]]:
        return [o for (r, ns, _), o in self.objects.items() if r == resource and namespace in (None, ns)]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def token_store() -> Store:
    """A ServiceAccount and a pod running as it."""
    s = Store()
    s.put(SERVICEACCOUNTS, SA, "sa-uid-1")
    s.put(PODS, POD, "pod-uid-1", spec={"serviceAccountName": SA})
    return s


def mint(authority: TokenAuthority, *, bound: bool = False, **kw: Any) -> str:
    kw.setdefault("audiences", None)
    token, _ = authority.mint(namespace=NS, service_account=SA, bound_pod=(POD, "pod-uid-1") if bound else None, **kw)
    return token
