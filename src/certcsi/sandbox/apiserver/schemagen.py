"""Generates `sandbox/data/builtin-openapi.json`: the OpenAPI v3 schemas of the built-in types the sandbox
serves, taken from the `kubernetes-validate` package (a dev dependency; Kubernetes 1.36's published schemas).

    python -m certcsi.sandbox.apiserver.schemagen [--out PATH]

Only the definitions the served types reach are kept (about 250 of 770, 0.4 MB instead of the package's
108 MB), so the sandbox needs no schema package at run time. kubernetes-validate stores JSON Schema
(`type: [x, "null"]`, `$defs`, an `enum` it adds to apiVersion/kind); this turns it back into the
OpenAPI v3 form kube-apiserver publishes. A unit test regenerates the file and fails when it is stale.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
from typing import Any

KUBERNETES_VERSION = "v1.36.0"
_DEFS_PREFIX = "#/$defs/"
REF_PREFIX = "#/components/schemas/"
OUTPUT = Path(__file__).resolve().parent.parent / "data" / "builtin-openapi.json"

_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
# The top-level definitions the sandbox serves, each with its list type; everything they reference follows.
ROOTS: tuple[str, ...] = (
    "io.k8s.api.core.v1.Namespace",
    "io.k8s.api.core.v1.Pod",
    "io.k8s.api.core.v1.ServiceAccount",
    "io.k8s.api.core.v1.ConfigMap",
    "io.k8s.api.core.v1.Secret",
    "io.k8s.api.core.v1.Event",
    "io.k8s.api.core.v1.Service",
    "io.k8s.api.core.v1.Node",
    "io.k8s.api.coordination.v1.Lease",
    "io.k8s.api.storage.v1.CSIDriver",
    "io.k8s.api.rbac.v1.Role",
    "io.k8s.api.rbac.v1.RoleBinding",
    "io.k8s.api.rbac.v1.ClusterRole",
    "io.k8s.api.rbac.v1.ClusterRoleBinding",
    "io.k8s.api.apps.v1.DaemonSet",
    "io.k8s.api.apps.v1.Deployment",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
)
EXTRA_ROOTS: tuple[str, ...] = (
    "io.k8s.api.authentication.v1.TokenRequest",
    "io.k8s.api.authentication.v1.SelfSubjectReview",
    "io.k8s.api.authorization.v1.SelfSubjectAccessReview",
    "io.k8s.api.authorization.v1.SelfSubjectRulesReview",
    "io.k8s.api.authorization.v1.SubjectAccessReview",
    "io.k8s.api.authorization.v1.LocalSubjectAccessReview",
    f"{_META}.Status",
    f"{_META}.DeleteOptions",
    f"{_META}.WatchEvent",
    f"{_META}.Patch",
    f"{_META}.APIResourceList",
)


# Defaults kube-apiserver publishes on list-map key fields, which kubernetes-validate's copy drops; server-side
# apply needs them to match an applied item that leaves the key out (a port without its protocol).
KEY_DEFAULTS: dict[str, dict[str, Any]] = {
    "io.k8s.api.core.v1.ContainerPort": {"protocol": "TCP"},
    "io.k8s.api.core.v1.ServicePort": {"protocol": "TCP"},
}


def _source_definitions() -> dict[str, Any]:
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("kubernetes-validate is not installed (pip install -e '.[dev]')")
    base = Path(next(iter(spec.submodule_search_locations)))
    path = base / "kubernetes-json-schema" / f"{KUBERNETES_VERSION}-local" / "_definitions.json"
    definitions: dict[str, Any] = json.loads(path.read_text())["$defs"]
    return definitions


def _closure(definitions: dict[str, Any], roots: list[str]) -> list[str]:
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending.extend(_references(definitions[name]))
    return sorted(seen)


def _references(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX):
            found.append(ref.removeprefix(_DEFS_PREFIX))
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for sub in value.values():
                    found.extend(_references(sub))
            elif key != "$ref":
                found.extend(_references(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_references(item))
    return found


def _openapi(node: Any, *, field: str = "") -> Any:
    """One JSON Schema node back in OpenAPI v3 form."""
    if isinstance(node, list):
        return [_openapi(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, list):
            kinds = [kind for kind in value if kind != "null"]
            if kinds:
                out["type"] = kinds[0]
        elif key == "enum" and field in ("apiVersion", "kind"):
            continue  # added by kubernetes-validate; kube-apiserver publishes none
        elif key == "$ref" and isinstance(value, str):
            out[key] = REF_PREFIX + value.removeprefix(_DEFS_PREFIX)
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: _openapi(sub, field=name) for name, sub in value.items()}
        else:
            out[key] = _openapi(value)
    return out


def generate() -> str:
    """The data file's text: one definition per line, sorted, so a change reads well in a diff."""
    definitions = _source_definitions()
    names = _closure(definitions, [*ROOTS, *(f"{root}List" for root in ROOTS), *EXTRA_ROOTS])
    converted = {name: _openapi(definitions[name]) for name in names}
    for name, defaults in KEY_DEFAULTS.items():
        for field, value in defaults.items():
            converted[name]["properties"][field]["default"] = value
    lines = [f"{json.dumps(name)}: {json.dumps(converted[name], sort_keys=True)}" for name in names]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args()
    args.out.write_text(generate(), encoding="utf-8")


if __name__ == "__main__":
    main()
