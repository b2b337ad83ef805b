"""Builders shared by both charts: metadata and labels, image references, RBAC, pod placement."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from certcsi.install.values import CERTCSI_VERSION, Values

Obj = dict[str, Any]
CERT_MANAGER = "cert-manager.io"
MANAGED_BY = "certcsi"


@dataclass(frozen=True)
class Release:
    """Who the objects belong to: base name, Helm-style instance, namespace and extra labels."""

    name: str
    instance: str
    namespace: str
    common_labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, values: Values, chart_name: str) -> Release:
        return cls(
            name=values.text("nameOverride") or chart_name,
            instance=values.text("release.name"),
            namespace=values.text("release.namespace"),
            common_labels=values.mapping("commonLabels"),
        )

    def selector(self, component: str) -> dict[str, str]:
        """The labels a workload selects its pods by (immutable once applied, so never user-extended)."""
        return {
            "app.kubernetes.io/name": self.name,
            "app.kubernetes.io/instance": self.instance,
            "app.kubernetes.io/component": component,
        }

    def labels(self, component: str | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        labels = {**self.common_labels, **(extra or {})}
        labels.update(
            {
                "app.kubernetes.io/name": self.name,
                "app.kubernetes.io/instance": self.instance,
                "app.kubernetes.io/version": CERTCSI_VERSION,
                "app.kubernetes.io/managed-by": MANAGED_BY,
            }
        )
        if component:
            labels["app.kubernetes.io/component"] = component
        return labels

    def metadata(
        self,
        name: str,
        *,
        component: str | None = None,
        namespaced: bool = True,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        namespace: str | None = None,
    ) -> Obj:
        meta: Obj = {"name": name}
        if namespaced:
            meta["namespace"] = namespace or self.namespace
        meta["labels"] = self.labels(component, labels)
        if annotations:
            meta["annotations"] = dict(annotations)
        return meta


def image_ref(*, registry: str | None, repository: str, tag: str | None, digest: str | None) -> str:
    """Upstream's image rule: registry prefixed when set; a digest wins over the tag; no tag → our version."""
    base = f"{registry}/{repository}" if registry else repository
    return f"{base}@{digest}" if digest else f"{base}:{tag or CERTCSI_VERSION}"


def image_of(values: Values, prefix: str) -> tuple[str, str]:
    """Image reference and pull policy of an upstream-style image block at `prefix`."""
    ref = image_ref(
        registry=values.optional_text(f"{prefix}.registry"),
        repository=values.text(f"{prefix}.repository"),
        tag=values.optional_text(f"{prefix}.tag"),
        digest=values.optional_text(f"{prefix}.digest"),
    )
    return ref, values.text(f"{prefix}.pullPolicy")


def verbosity(level: int) -> list[str]:
    """certcsi's `-v` counts: log level N is `-v` given N times (upstream's `--log-level=N`)."""
    return ["-" + "v" * level] if level > 0 else []


def rule(group: str, resources: Sequence[str], verbs: Sequence[str], names: Sequence[str] = ()) -> Obj:
    found: Obj = {"apiGroups": [group], "resources": list(resources), "verbs": list(verbs)}
    if names:
        found["resourceNames"] = list(names)
    return found


def openshift_scc_rules(values: Values) -> list[Obj]:
    """`use` of the named SecurityContextConstraints, only when explicitly enabled ("detect" cannot be)."""
    if values.get("openshift.securityContextConstraint.enabled") is not True:
        return []
    name = values.text("openshift.securityContextConstraint.name")
    return [rule("security.openshift.io", ["securitycontextconstraints"], ["use"], [name])]


def service_account(release: Release, name: str, component: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": release.metadata(name, component=component)}


def rbac(
    release: Release,
    *,
    name: str,
    account: str,
    component: str,
    cluster_rules: Sequence[Obj],
    namespace_rules: Sequence[Obj] = (),
) -> list[Obj]:
    """A ClusterRole and / or Role named `name`, each bound to the ServiceAccount `account`; none if empty."""
    subject = {"kind": "ServiceAccount", "name": account, "namespace": release.namespace}
    objects: list[Obj] = []
    for kind, rules, namespaced in (("ClusterRole", cluster_rules, False), ("Role", namespace_rules, True)):
        if not rules:
            continue
        meta = release.metadata(name, component=component, namespaced=namespaced)
        objects.append({"apiVersion": _RBAC, "kind": kind, "metadata": meta, "rules": list(rules)})
        objects.append(
            {
                "apiVersion": _RBAC,
                "kind": f"{kind}Binding",
                "metadata": dict(meta),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
                "subjects": [subject],
            }
        )
    return objects


_RBAC = "rbac.authorization.k8s.io/v1"


def placement(values: Values) -> Obj:
    """Pod-level scheduling keys both charts share; empty values are left out, as Helm's `with` does."""
    spec: Obj = {}
    for key in ("priorityClassName", "nodeSelector", "affinity", "tolerations", "imagePullSecrets"):
        value = values.get(key)
        if value:
            spec[key] = copy.deepcopy(value)
    return spec


def with_optional(container: Obj, **fields: Any) -> Obj:
    """`container` plus each field that is not empty (an empty securityContext or resources is omitted)."""
    container.update({key: value for key, value in fields.items() if value})
    return container
