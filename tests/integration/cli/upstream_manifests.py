"""Upstream's rendered manifests (tests/fixtures/upstream) read as kubelet reads a pod template.

The fixtures are upstream's charts (csi-driver v0.16.0, csi-driver-spiffe v0.15.0) rendered by Helm at
their default values, verbatim: Apache-2.0 data of cert-manager's projects.

    objects = load("csi-driver-spiffe")
    for run in certcsi_containers(objects, node="node-1"):
        run.argv            # ["spiffe-driver", "--log-level=1", ...]: the container's args, $(VAR) expanded
        run.env             # its environment, fieldRefs resolved as kubelet resolves them
        run.service_account, run.namespace, run.mounts

The image's command becomes the certcsi subcommand of the same component; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from certcsi.sandbox.kubelet.containers import expand

Obj = dict[str, Any]

UPSTREAM = Path(__file__).resolve().parents[2] / "fixtures" / "upstream"
RENDERED = {
    "csi-driver": UPSTREAM / "csi-driver-v0.16.0.rendered.yaml",
    "csi-driver-spiffe": UPSTREAM / "csi-driver-spiffe-v0.15.0.rendered.yaml",
}
# The image each upstream component ships in, and the certcsi command that replaces it.
COMMANDS = {
    "cert-manager-csi-driver": "driver",
    "cert-manager-csi-driver-spiffe": "spiffe-driver",
    "cert-manager-csi-driver-spiffe-approver": "approver",
}
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "CSIDriver")


def load(chart: str) -> list[Obj]:
    with RENDERED[chart].open(encoding="utf-8") as source:
        return [doc for doc in yaml.safe_load_all(source) if doc]


@dataclass(frozen=True)
class ContainerRun:
    """One certcsi container of a workload, as kubelet would start it."""

    workload: str
    container: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    service_account: str
    namespace: str
    mounts: tuple[str, ...]

    @property
    def command(self) -> str:
        return self.argv[0]

    def flag(self, name: str) -> str | None:
        """The value of `--name=value` in the args (upstream's charts always write them so)."""
        prefix = f"--{name}="
        return next((arg[len(prefix) :] for arg in self.argv if arg.startswith(prefix)), None)


def _field(path: str, *, node: str, namespace: str, pod: str) -> str:
    return {"spec.nodeName": node, "metadata.namespace": namespace, "metadata.name": pod}[path]


def _environment(container: Mapping[str, Any], *, node: str, namespace: str, pod: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for entry in container.get("env") or []:
        source = entry.get("valueFrom")
        if source is None:
            env[entry["name"]] = expand(str(entry.get("value", "")), env)
        else:
            env[entry["name"]] = _field(source["fieldRef"]["fieldPath"], node=node, namespace=namespace, pod=pod)
    return env


def workloads(objects: Iterable[Obj]) -> Iterator[Obj]:
    yield from (o for o in objects if o["kind"] in ("DaemonSet", "Deployment"))


def certcsi_containers(objects: Iterable[Obj], *, node: str) -> list[ContainerRun]:
    """Every container of the manifests whose image certcsi replaces, with its args and environment."""
    runs = []
    for workload in workloads(objects):
        namespace = workload["metadata"]["namespace"]
        pod_spec = workload["spec"]["template"]["spec"]
        pod = f"{workload['metadata']['name']}-0"
        for container in pod_spec["containers"]:
            image = container["image"].rsplit("/", 1)[-1].split(":", 1)[0]
            if image not in COMMANDS:
                continue  # kubelet's sidecars (node-driver-registrar, livenessprobe) stay upstream's
            env = _environment(container, node=node, namespace=namespace, pod=pod)
            args = tuple(expand(str(arg), env) for arg in container.get("args") or [])
            runs.append(
                ContainerRun(
                    workload=workload["metadata"]["name"],
                    container=container["name"],
                    argv=(COMMANDS[image], *args),
                    env=env,
                    service_account=pod_spec["serviceAccountName"],
                    namespace=namespace,
                    mounts=tuple(m["mountPath"] for m in container.get("volumeMounts") or []),
                )
            )
    return runs
