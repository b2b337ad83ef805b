"""CustomResourceDefinitions: their defaults, validation and status as kube-apiserver sets them, the
resource types a CRD serves, and the CRDs every sandbox installs (cert-manager's, from sandbox/data).
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Iterator
from typing import Any

import yaml

from certcsi.kube.names import DNS1123_LABEL, DNS1123_SUBDOMAIN
from certcsi.sandbox.apiserver.crdschema import Cause, StructuralSchema, go_value
from certcsi.sandbox.apiserver.objects import Obj, copy_obj
from certcsi.sandbox.apiserver.resources import CustomInfo, ResourceType

_PACKAGED = ("certificaterequests.crd.yaml", "issuers.crd.yaml", "clusterissuers.crd.yaml")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL = re.compile(f"^{DNS1123_LABEL}$")
_DNS1123_SUBDOMAIN = re.compile(f"^{DNS1123_SUBDOMAIN}$")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_SCOPES = ("Cluster", "Namespaced")
_COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")
_LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_RULE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character"
)
_KIND_RULE = "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?"
_ONE_STORAGE = "must have exactly one version marked as storage version"


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _versions(crd: Obj) -> list[Obj]:
    return [v for v in _dict(crd.get("spec")).get("versions") or () if isinstance(v, dict)]


def default(crd: Obj) -> None:
    """SetDefaults for apiextensions.k8s.io/v1 CustomResourceDefinition, in place."""
    spec = crd.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})


def validate(crd: Obj, old: Obj | None) -> list[Cause]:
    """ValidateCustomResourceDefinition(Update): the rules a user meets applying a CRD."""
    return list(_validate(crd, old))


def _validate(crd: Obj, old: Obj | None) -> Iterator[Cause]:
    spec = _dict(crd.get("spec"))
    names = _dict(spec.get("names"))
    group, plural = spec.get("group"), names.get("plural")
    name = _dict(crd.get("metadata")).get("name", "")
    if isinstance(group, str) and isinstance(plural, str) and name != f"{plural}.{group}":
        yield Cause(
            "FieldValueInvalid",
            "metadata.name",
            f'Invalid value: {go_value(name)}: must be spec.names.plural+"."+spec.group',
        )
    if not group:
        yield Cause("FieldValueRequired", "spec.group", "Required value")
    elif not isinstance(group, str) or "." not in group or not _DNS1123_SUBDOMAIN.match(group):
        yield Cause(
            "FieldValueInvalid",
            "spec.group",
            f"Invalid value: {go_value(group)}: should be a domain with at least one dot",
        )
    yield from _validate_names(names)
    scope = spec.get("scope")
    if not scope:
        yield Cause("FieldValueRequired", "spec.scope", "Required value")
    elif scope not in _SCOPES:
        yield Cause(
            "FieldValueNotSupported",
            "spec.scope",
            f'Unsupported value: {go_value(scope)}: supported values: "Cluster", "Namespaced"',
        )
    yield from _validate_versions(_versions(crd), spec.get("versions"))
    if old is not None:
        old_spec = _dict(old.get("spec"))
        for key in ("scope", "group"):
            if old_spec.get(key) != spec.get(key):
                yield Cause(
                    "FieldValueInvalid", f"spec.{key}", f"Invalid value: {go_value(spec.get(key))}: field is immutable"
                )


def _validate_names(names: Obj) -> Iterator[Cause]:
    plural, kind = names.get("plural"), names.get("kind")
    if not plural:
        yield Cause("FieldValueRequired", "spec.names.plural", "Required value")
    elif not isinstance(plural, str) or not _DNS1035.match(plural):
        yield Cause(
            "FieldValueInvalid",
            "spec.names.plural",
            f"Invalid value: {go_value(plural)}: {_LABEL_RULE}",
        )
    if not kind:
        yield Cause("FieldValueRequired", "spec.names.kind", "Required value")
    elif not isinstance(kind, str) or not _KIND.match(kind):
        yield Cause(
            "FieldValueInvalid",
            "spec.names.kind",
            f"Invalid value: {go_value(kind)}: {_KIND_RULE}",
        )
    for i, short in enumerate(names.get("shortNames") or ()):
        if not isinstance(short, str) or not _DNS1123_LABEL.match(short):
            yield Cause(
                "FieldValueInvalid",
                f"spec.names.shortNames[{i}]",
                f"Invalid value: {go_value(short)}: {_LABEL_RULE}",
            )


def _validate_versions(versions: list[Obj], raw: Any) -> Iterator[Cause]:
    if not raw:
        yield Cause(
            "FieldValueInvalid",
            "spec.versions",
            f'Invalid value: "null": {_ONE_STORAGE}',
        )
        return
    if sum(1 for v in versions if v.get("storage") is True) != 1:
        yield Cause(
            "FieldValueInvalid",
            "spec.versions",
            f"Invalid value: {go_value([v.get('name') for v in versions])}: {_ONE_STORAGE}",
        )
    seen: set[str] = set()
    for i, version in enumerate(versions):
        path = f"spec.versions[{i}]"
        vname = version.get("name")
        if not isinstance(vname, str) or not _DNS1035.match(vname):
            yield Cause(
                "FieldValueInvalid",
                f"{path}.name",
                f"Invalid value: {go_value(vname)}: {_DNS1035_RULE}",
            )
        elif vname in seen:
            yield Cause("FieldValueInvalid", f"{path}.name", f"Invalid value: {go_value(vname)}: must appear only once")
        seen.add(str(vname))
        schema = _dict(_dict(version.get("schema")).get("openAPIV3Schema"))
        if not schema:
            yield Cause("FieldValueRequired", f"{path}.schema.openAPIV3Schema", "Required value: schemas are required")
        elif schema.get("type") != "object":
            yield Cause(
                "FieldValueRequired",
                f"{path}.schema.openAPIV3Schema.type",
                "Required value: must not be empty at the root",
            )
        for j, column in enumerate(_dict(c) for c in version.get("additionalPrinterColumns") or ()):
            cpath = f"{path}.additionalPrinterColumns[{j}]"
            if not column.get("name"):
                yield Cause("FieldValueRequired", f"{cpath}.name", "Required value")
            if column.get("type") not in _COLUMN_TYPES:
                yield Cause(
                    "FieldValueNotSupported",
                    f"{cpath}.type",
                    f"Unsupported value: {go_value(column.get('type'))}: supported values: "
                    + ", ".join(f'"{t}"' for t in _COLUMN_TYPES),
                )
            if not column.get("jsonPath"):
                yield Cause("FieldValueRequired", f"{cpath}.jsonPath", "Required value")


def status_for(crd: Obj, stamp: str) -> Obj:
    """The status the CRD controllers write once the names are accepted: Established, storedVersions."""
    spec = _dict(crd.get("spec"))
    stored = [v.get("name") for v in _versions(crd) if v.get("storage") is True]
    previous = _dict(crd.get("status")).get("storedVersions") or []
    return {
        "acceptedNames": copy_obj(_dict(spec.get("names"))),
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "lastTransitionTime": stamp,
                "reason": "NoConflicts",
                "message": "no conflicts found",
            },
            {
                "type": "Established",
                "status": "True",
                "lastTransitionTime": stamp,
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
            },
        ],
        "storedVersions": list(dict.fromkeys([*previous, *stored])),
    }


def _columns(version: Obj) -> tuple[dict[str, Any], ...]:
    columns = [c for c in version.get("additionalPrinterColumns") or () if isinstance(c, dict)]
    if columns:
        return tuple(columns)
    return (
        {
            "name": "Age",
            "type": "date",
            "jsonPath": ".metadata.creationTimestamp",
            "description": "CreationTimestamp is the server time when this object was created.",
        },
    )


def types_from(crd: Obj) -> list[ResourceType]:
    """One ResourceType per served version of a (valid) CRD."""
    spec = _dict(crd.get("spec"))
    names = _dict(spec.get("names"))
    versions = _versions(crd)
    served = tuple(str(v["name"]) for v in versions if v.get("served") is not False)
    storage = next((str(v["name"]) for v in versions if v.get("storage") is True), served[0] if served else "")
    out = []
    for version in versions:
        if version.get("served") is False:
            continue
        subresources = frozenset(_dict(version.get("subresources")))
        schema = _dict(_dict(version.get("schema")).get("openAPIV3Schema"))
        info = CustomInfo(
            crd_name=str(_dict(crd.get("metadata")).get("name", "")),
            schema=StructuralSchema(schema),
            columns=_columns(version),
            storage_version=storage,
            served_versions=served,
        )
        out.append(
            ResourceType(
                group=str(spec.get("group")),
                version=str(version["name"]),
                plural=str(names.get("plural")),
                kind=str(names.get("kind")),
                namespaced=spec.get("scope") == "Namespaced",
                subresources=subresources & {"status", "scale"},
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                crd=True,
                custom=info,
            )
        )
    return out


@functools.cache
def _packaged_texts() -> tuple[str, ...]:
    data = importlib.resources.files("certcsi.sandbox").joinpath("data")
    return tuple(data.joinpath(name).read_text(encoding="utf-8") for name in _PACKAGED)


def packaged() -> list[Obj]:
    """The CRDs every sandbox serves from the start (cert-manager's), as fresh objects."""
    found = []
    for text in _packaged_texts():
        for doc in yaml.safe_load_all(text):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                found.append(doc)
    return found
