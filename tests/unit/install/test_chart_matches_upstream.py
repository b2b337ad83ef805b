"""Rendered at upstream's values, our charts equal upstream's rendered manifests but for the listed differences.

Objects are compared field by field (containers, env entries and volumes by name). Every difference
must match an entry of ALLOWED, and every entry must still be needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import pytest
from helm_charts import CHARTS, UPSTREAM_SETS, Chart, key, render, upstream_objects, upstream_values_file

ABSENT = "<absent>"


@dataclass(frozen=True)
class Allowed:
    """Differences at `path` of objects `kind`/`name`, and why (patterns: `*` matches anything)."""

    kind: str
    name: str
    path: str
    reason: str

    def covers(self, kind: str, name: str, path: str) -> bool:
        literal = self.path.replace("[", "[[]")  # a path's [name] is not a character class
        return fnmatchcase(kind, self.kind) and fnmatchcase(name, self.name) and fnmatchcase(path, literal)


CERTCSI_CONTAINER = "spec.template.spec.containers[cert-manager-csi-driver*]"
ALLOWED = [
    Allowed("*", "*", "*labels.helm.sh/chart", "our chart's version (the label is informational, never selected on)"),
    Allowed("*", "*", "*labels.app.kubernetes.io/version", "certcsi's version (informational, never selected on)"),
    Allowed("DaemonSet", "*", f"{CERTCSI_CONTAINER}.image", "certcsi's image instead of upstream's Go image"),
    Allowed("Deployment", "*", f"{CERTCSI_CONTAINER}.image", "certcsi's image instead of upstream's Go image"),
    Allowed("DaemonSet", "*", f"{CERTCSI_CONTAINER}.command", "one image: `certcsi driver|spiffe-driver`"),
    Allowed("Deployment", "*", f"{CERTCSI_CONTAINER}.command", "one image: `certcsi approver`"),
    Allowed(
        "*",
        "*",
        "*.env[*].valueFrom.fieldRef.apiVersion",
        "the server-defaulted form (v1): fieldRef is atomic, so leaving it out makes a later "
        "`kubectl apply --server-side` conflict",
    ),
    *(
        Allowed(
            "CSIDriver",
            "*",
            f"spec.{field}",
            "the API server's default written out: the live object is the same as upstream's, and server-side "
            "apply finds nothing to conflict on",
        )
        for field in ("attachRequired", "fsGroupPolicy", "requiresRepublish", "seLinuxMount", "storageCapacity")
    ),
    Allowed(
        "CSIDriver",
        "spiffe.*",
        "spec.serviceAccountTokenInSecrets",
        "Kubernetes 1.35+: kubelet passes the pod's token in the request's secrets, not the volume context "
        "(certcsi reads both); rendered only for clusters that know the field",
    ),
    Allowed(
        "DaemonSet",
        "cert-manager-csi-driver-spiffe-driver",
        f"{CERTCSI_CONTAINER}.volumeMounts[csi-data-dir].mountPropagation",
        "Bidirectional, as csi-driver's: certcsi's tmpfs must stay visible on the host so a restarted driver "
        "resumes its volumes instead of issuing them again",
    ),
    Allowed(
        "ClusterRole",
        "*",
        "rules",
        "least privilege for certcsi's own calls (each verb proven needed and sufficient by "
        "tests/integration/install): Warning Events on Pods (events create/patch), requests created as "
        "the driver only when it creates them (not with the pod's token), pods only for readiness gates, "
        "Events on decided requests (create only: a decision is final), approval limited to the issuer's signer",
    ),
    Allowed("Role", "*-approver", "rules", "leader election limited to the one Lease by name (create cannot be)"),
    Allowed("Role", "cert-manager-csi-driver-spiffe", "rules", "an empty rule list ([]) where upstream has null"),
]


def _differences(theirs: Any, ours: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    if isinstance(theirs, dict) and isinstance(ours, dict):
        for field in sorted(set(theirs) | set(ours)):
            sub = f"{path}.{field}" if path else field
            yield from _differences(theirs.get(field, ABSENT), ours.get(field, ABSENT), sub)
    elif isinstance(theirs, list) and isinstance(ours, list) and _named(theirs + ours):
        by_name = {item["name"]: item for item in theirs}, {item["name"]: item for item in ours}
        for name in sorted(set(by_name[0]) | set(by_name[1])):
            yield from _differences(by_name[0].get(name, ABSENT), by_name[1].get(name, ABSENT), f"{path}[{name}]")
    elif theirs != ours:
        yield path, theirs, ours


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, dict) and "name" in item for item in items)


def _all_differences(chart: Chart) -> list[tuple[str, str, str]]:
    ours = {key(o): o for o in render(chart, values_files=[upstream_values_file(chart)], sets=UPSTREAM_SETS[chart])}
    theirs = {key(o): o for o in upstream_objects(chart)}
    assert sorted(ours) == sorted(theirs)
    return [
        (kind, name, path)
        for (kind, name) in sorted(ours)
        for path, _, _ in _differences(theirs[kind, name], ours[kind, name])
    ]


@pytest.mark.parametrize("chart", CHARTS)
def test_every_difference_from_upstream_is_listed_with_its_reason(chart: Chart) -> None:
    unlisted = [d for d in _all_differences(chart) if not any(a.covers(*d) for a in ALLOWED)]
    assert unlisted == []


def test_every_listed_difference_is_still_needed() -> None:
    found = [d for chart in CHARTS for d in _all_differences(chart)]
    assert [a for a in ALLOWED if not any(a.covers(*d) for d in found)] == []


def test_the_comparison_sees_a_difference() -> None:
    # The comparison must be able to fail: a changed selector is a difference no entry allows.
    ours = render("csi-driver", values_files=[upstream_values_file("csi-driver")])
    theirs = {key(o): o for o in upstream_objects("csi-driver")}
    daemonset = next(o for o in ours if o["kind"] == "DaemonSet")
    daemonset["spec"]["selector"]["matchLabels"]["app"] = "certcsi"
    found = list(_differences(theirs[key(daemonset)], daemonset))
    assert ("spec.selector.matchLabels.app", "cert-manager-csi-driver", "certcsi") in found
    assert not any(a.covers("DaemonSet", "cert-manager-csi-driver", "spec.selector.matchLabels.app") for a in ALLOWED)
