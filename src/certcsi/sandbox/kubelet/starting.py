"""Turning a pod's container spec into something the node runs (see containers.py and running.py).

`ContainerFactory.build` resolves what kubelet resolves before creating a container: the image's
defaults, the command line and environment, the volume mounts (each volume's directory on the
node), and, for the registrar sidecar, the driver's socket and the path it registers. A container
that cannot be created waits with kubelet's reason (CreateContainerConfigError, CreateContainerError)
and a `Failed` event saying why.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from certcsi.errors import KubernetesError
from certcsi.kube._transport import get_or_none
from certcsi.sandbox.kubelet import containers
from certcsi.sandbox.kubelet.api import KubeletApi
from certcsi.sandbox.kubelet.containers import ConfigError, Kind
from certcsi.sandbox.kubelet.hostpaths import HostFilesystem
from certcsi.sandbox.kubelet.localvolumes import object_data
from certcsi.sandbox.kubelet.planning import as_dict
from certcsi.sandbox.kubelet.probing import Probe
from certcsi.sandbox.kubelet.running import (
    Container,
    ContainerContext,
    ContainerState,
    DriverRegistrar,
    Placeholder,
    Process,
    ProcessSpec,
    Registrar,
)
from certcsi.sandbox.launching import Mount

log = logging.getLogger(__name__)

LOG_DIR = "/var/log/pods"


def on_node(container_path: str, mounts: Any, volumes: Mapping[str, Path]) -> Path | None:
    """Where `container_path` of a container is on the node, through its volume mounts (None: not in one)."""
    best: tuple[int, Path] | None = None
    for raw in mounts or []:
        mount = as_dict(raw)
        point = str(mount.get("mountPath") or "").rstrip("/") or "/"
        source = volumes.get(str(mount.get("name") or ""))
        inside = container_path == point or container_path.startswith(point.rstrip("/") + "/")
        if source is None or not inside or (best is not None and len(point) <= best[0]):
            continue
        rest = container_path[len(point) :].lstrip("/")
        base = source / str(mount.get("subPath") or "")
        best = (len(point), base / rest if rest else base)
    return best[1] if best else None


def container_dir_name(pod_uid: str, index: int) -> str:
    """Short: a relative `unix://plugin/csi.sock` under it must stay within the 107 bytes of a socket path."""
    return f"{pod_uid[:8]}.{index}"


def flag_value(args: list[str], name: str) -> str | None:
    """`--name=value` or `--name value` (Go's flag grammar, one or two dashes)."""
    for index, arg in enumerate(args):
        for dashes in ("--", "-"):
            if arg.startswith(f"{dashes}{name}="):
                return arg.split("=", 1)[1]
            if arg == f"{dashes}{name}" and index + 1 < len(args):
                return args[index + 1]
    return None


@dataclass(frozen=True)
class ContainerFactory:
    """Builds the containers of the pods of one node."""

    api: KubeletApi
    host: HostFilesystem
    containers_dir: Path
    api_host: str
    api_port: int
    launch_problem: str | None
    register: DriverRegistrar

    async def build(
        self,
        *,
        pod: Mapping[str, Any],
        spec: Mapping[str, Any],
        state: ContainerState,
        context: ContainerContext,
        volumes: Mapping[str, Path],
        pod_ip: str,
    ) -> Container | None:
        image = containers.image_of(spec)
        if image.kind is Kind.PLACEHOLDER:
            return Placeholder(state, context)
        try:
            if image.kind is Kind.REGISTRAR:
                return self._registrar(spec, state, context, volumes)
            if self.launch_problem is not None:
                raise _CreateError(self.launch_problem)
            process = await self._process_spec(pod, spec, image, volumes)
            return Process(state, context, replace(process, readiness=Probe.parse(spec, pod_ip=pod_ip)))
        except ConfigError as err:
            reason, message = "CreateContainerConfigError", str(err)
        except _CreateError as err:
            reason, message = "CreateContainerError", str(err)
        state.wait(reason, message)
        context.event("Warning", "Failed", f"Error: {message}")
        context.changed()
        return None

    def _registrar(
        self, spec: Mapping[str, Any], state: ContainerState, context: ContainerContext, volumes: Mapping[str, Path]
    ) -> Container:
        args = [str(a) for a in spec.get("args") or []]
        address = flag_value(args, "csi-address") or "/run/csi/socket"
        registration = flag_value(args, "kubelet-registration-path")
        socket = on_node(address, spec.get("volumeMounts"), volumes)
        if socket is None or not registration:
            raise ConfigError(f"--csi-address {address} is in no volume mount, or --kubelet-registration-path is unset")
        endpoint = "unix://" + str(self.host.path(registration))
        return Registrar(state, context, socket=socket, registration_endpoint=endpoint, register=self.register)

    async def _fetch(self, kind: str, namespace: str, name: str) -> Mapping[str, str] | None:
        plural = "configmaps" if kind == "ConfigMap" else "secrets"
        try:
            obj = await get_or_none(self.api.transport, f"/api/v1/namespaces/{namespace}/{plural}/{name}")
        except KubernetesError as err:
            raise ConfigError(f"cannot read {kind.lower()} {namespace}/{name}: {err}") from None
        if obj is None:
            return None
        return {key: value.decode(errors="replace") for key, value in object_data(obj, kind).items()}

    async def _process_spec(
        self, pod: Mapping[str, Any], spec: Mapping[str, Any], image: containers.Image, volumes: Mapping[str, Path]
    ) -> ProcessSpec:
        meta = as_dict(pod.get("metadata"))
        pod_spec = as_dict(pod.get("spec"))
        host_network = pod_spec.get("hostNetwork") is True
        base = {
            "PATH": os.path.dirname(sys.executable) + ":" + containers.PATH,
            "HOSTNAME": str(pod_spec.get("nodeName") if host_network else meta.get("name")),
            **image.env,
            **containers.kubernetes_service_env(self.api_host, self.api_port),
        }
        env = await containers.environment(pod, spec, base=base, fetch=self._fetch)
        argv = containers.local_argv(containers.command_line(spec, image, env))
        mounts: list[Mount] = []
        for raw in spec.get("volumeMounts") or []:
            entry = as_dict(raw)
            source = volumes.get(str(entry.get("name") or ""))
            if source is None:
                raise ConfigError(f'volume "{entry.get("name")}" of the mount {entry.get("mountPath")} was not set up')
            mounts.append(
                Mount(
                    source=str(source / str(entry.get("subPath") or "")).rstrip("/"),
                    target=str(entry.get("mountPath") or ""),
                    read_only=entry.get("readOnly") is True,
                    propagation=str(entry.get("mountPropagation") or "None"),
                )
            )
        name, namespace, uid = meta.get("name"), meta.get("namespace"), meta.get("uid")
        return ProcessSpec(
            argv=argv,
            env=env,
            root=self.containers_dir
            / container_dir_name(
                str(uid), [as_dict(c).get("name") for c in pod_spec.get("containers") or []].index(spec.get("name"))
            ),
            mounts=mounts,
            log_dir=self.host.path(LOG_DIR) / f"{namespace}_{name}_{uid}" / str(spec.get("name")),
        )


class _CreateError(Exception):
    """The runtime cannot create this container at all (CreateContainerError)."""
