"""The types one store serves right now: the built-ins plus every established CRD's versions.

`revision` moves whenever a CRD comes or goes, so discovery and OpenAPI documents know to rebuild.
"""

from __future__ import annotations

from collections.abc import Iterable

from certcsi.sandbox.apiserver import customresources
from certcsi.sandbox.apiserver.objects import Obj
from certcsi.sandbox.apiserver.resources import BUILTIN, ResourceType


class Catalog:
    def __init__(self, builtin: Iterable[ResourceType] = BUILTIN) -> None:
        self._builtin = tuple(builtin)
        self._custom: dict[str, list[ResourceType]] = {}  # CRD name -> its served versions
        self.revision = 0
        self._index()

    def _index(self) -> None:
        self._served: dict[tuple[str, str, str], ResourceType] = {}
        self._by_key: dict[str, ResourceType] = {}
        for rt in self._builtin:
            self._add(rt, preferred=True)
        for types in self._custom.values():
            for rt in types:
                self._add(rt, preferred=rt.custom is not None and rt.version == rt.custom.storage_version)
        self.revision += 1

    def _add(self, rt: ResourceType, *, preferred: bool) -> None:
        self._served[(rt.group, rt.version, rt.plural)] = rt
        if preferred or rt.key not in self._by_key:
            self._by_key[rt.key] = rt

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The type served at /apis/<group>/<version>/<plural>, if any."""
        return self._served.get((group, version, plural))

    def by_key(self, key: str) -> ResourceType | None:
        """The storage version of `<group>/<plural>`."""
        return self._by_key.get(key)

    def served(self) -> list[ResourceType]:
        return list(self._served.values())

    def install(self, crd: Obj) -> None:
        """Serve (or re-serve, after an update) what an established CRD defines."""
        name = str(crd["metadata"]["name"])
        self._custom[name] = customresources.types_from(crd)
        self._index()

    def remove(self, crd_name: str) -> list[ResourceType]:
        """Stop serving a CRD's types; returns what was served."""
        types = self._custom.pop(crd_name, [])
        if types:
            self._index()
        return types
