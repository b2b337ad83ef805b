"""Which issuer SPIFFE requests go to: the runtime ConfigMap's when valid, else the flags'.

`RuntimeIssuer` holds the choice. Its methods never await, so on one event loop every read sees a
whole update: no lock is needed. The ConfigMap watch (elsewhere) feeds it; the driver reads
`current()` at each issuance, so a change applies at every volume's next issuance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from certcsi.errors import IssuerUnavailable, quoted
from certcsi.kube.names import issuer_ref_problem
from certcsi.volumes.driver import IssuerRef

__all__ = ["CONFIGMAP_KEYS", "FLAGS", "IssuerConfig", "RuntimeIssuer", "check_issuer_ref"]

ISSUER_NAME_KEY = "issuer-name"
ISSUER_KIND_KEY = "issuer-kind"
ISSUER_GROUP_KEY = "issuer-group"
CONFIGMAP_KEYS: tuple[str, ...] = (ISSUER_NAME_KEY, ISSUER_KIND_KEY, ISSUER_GROUP_KEY)
FLAGS = {"name": "--issuer-name", "kind": "--issuer-kind", "group": "--issuer-group"}
_KEYS = {"name": f"key {ISSUER_NAME_KEY}", "kind": f"key {ISSUER_KIND_KEY}", "group": f"key {ISSUER_GROUP_KEY}"}


def check_issuer_ref(ref: IssuerRef, *, sources: Mapping[str, str]) -> None:
    """ValueError naming where the bad part came from (`sources`: name/kind/group to a flag or key).

    A request to an issuer that cannot exist would only wait out the issue timeout of every pod.
    """
    problem = issuer_ref_problem(name=ref.name, kind=ref.kind, group=ref.group)
    if problem is not None:
        field, rule = problem
        raise ValueError(f"{sources[field]}: {rule}, got {quoted(getattr(ref, field))}")


@dataclass(frozen=True)
class IssuerConfig:
    """The issuer named by the runtime ConfigMap."""

    name: str
    kind: str
    group: str

    @classmethod
    def from_configmap(cls, data: Mapping[str, object] | None) -> IssuerConfig:
        """From a ConfigMap's `data`; ValueError naming every missing or empty key, or the invalid one.

        Values are trimmed: `kubectl create configmap --from-file` keeps a file's trailing newline.
        """
        values = {key: (data or {}).get(key) for key in CONFIGMAP_KEYS}
        trimmed = {key: value.strip() for key, value in values.items() if isinstance(value, str)}
        missing = [key for key in CONFIGMAP_KEYS if not trimmed.get(key)]
        if missing:
            raise ValueError(
                f"runtime issuer ConfigMap: missing or empty key(s) {', '.join(missing)} "
                f"(all of {', '.join(CONFIGMAP_KEYS)} are required)"
            )
        config = cls(name=trimmed[ISSUER_NAME_KEY], kind=trimmed[ISSUER_KIND_KEY], group=trimmed[ISSUER_GROUP_KEY])
        try:
            check_issuer_ref(config.issuer_ref, sources=_KEYS)
        except ValueError as e:
            raise ValueError(f"runtime issuer ConfigMap: {e}") from None
        return config

    @property
    def issuer_ref(self) -> IssuerRef:
        return IssuerRef(name=self.name, kind=self.kind, group=self.group)


class RuntimeIssuer:
    """The active issuer: the runtime ConfigMap's, falling back to the flags' (which may be None)."""

    def __init__(self, flag_issuer: IssuerRef | None, *, configmap: tuple[str, str] | None = None) -> None:
        """`configmap` is (namespace, name) of the watched ConfigMap, for messages only."""
        self._flag_issuer = flag_issuer
        self._configmap = configmap
        self._runtime: IssuerRef | None = None

    def current(self) -> IssuerRef | None:
        return self._runtime if self._runtime is not None else self._flag_issuer

    @property
    def source(self) -> Literal["runtime", "flags"] | None:
        """Where `current()` comes from, for logs and `inspect`."""
        if self._runtime is not None:
            return "runtime"
        return "flags" if self._flag_issuer is not None else None

    def require(self) -> IssuerRef:
        """`current()`, or IssuerUnavailable saying how to configure one (the pod waits meanwhile)."""
        issuer = self.current()
        if issuer is not None:
            return issuer
        how = "set --issuer-name"
        if self._configmap is not None:
            namespace, name = self._configmap
            how += f" or create the runtime ConfigMap {namespace}/{name} with {', '.join(CONFIGMAP_KEYS)}"
        raise IssuerUnavailable(f"no issuer is configured: {how}")

    def set_from_configmap(self, data: Mapping[str, object] | None) -> str | None:
        """Adopt the ConfigMap's issuer; on invalid data keep the previous one and return why."""
        try:
            config = IssuerConfig.from_configmap(data)
        except ValueError as e:
            return str(e)
        self._runtime = config.issuer_ref
        return None

    def clear(self) -> None:
        """The ConfigMap is gone: fall back to the flags' issuer (or none)."""
        self._runtime = None
