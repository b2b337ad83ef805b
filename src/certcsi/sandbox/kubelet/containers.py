"""A pod's containers as the sandbox node sees them: which it can run, with what command line and environment.

The node runs no images. It recognises a few and stands in for them:
- certcsi's image (and upstream's csi-driver, csi-driver-spiffe and approver images, which certcsi
  replaces): run as a local process of this Python's `certcsi`, with the container's args;
- csi-node-driver-registrar: emulated by the kubelet itself (it registers the driver's socket);
- anything else (busybox, the livenessprobe sidecar...): a placeholder that is "running" with no process.

Command lines and environments are built as kubelet builds them: `command` replaces the image's
entrypoint and `args` its cmd, `$(VAR)` expands from the container's own environment, fieldRefs
resolve against the pod, and the kubernetes service variables point at the API server.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certcsi.sandbox.kubelet.planning import as_dict


class Kind(enum.Enum):
    PROCESS = "process"
    REGISTRAR = "registrar"
    PLACEHOLDER = "placeholder"


@dataclass(frozen=True)
class Image:
    """What the node knows of an image: its entrypoint, cmd and environment (from its Dockerfile)."""

    kind: Kind
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


_CERTCSI_ENV = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
IMAGES: Mapping[str, Image] = {
    "certcsi": Image(Kind.PROCESS, ("certcsi",), ("--help",), _CERTCSI_ENV),
    # Upstream's images, each replaced by the certcsi command of the same component.
    "cert-manager-csi-driver": Image(Kind.PROCESS, ("certcsi", "driver"), (), _CERTCSI_ENV),
    "cert-manager-csi-driver-spiffe": Image(Kind.PROCESS, ("certcsi", "spiffe-driver"), (), _CERTCSI_ENV),
    "cert-manager-csi-driver-spiffe-approver": Image(Kind.PROCESS, ("certcsi", "approver"), (), _CERTCSI_ENV),
    "csi-node-driver-registrar": Image(Kind.REGISTRAR),
}
PLACEHOLDER = Image(Kind.PLACEHOLDER)
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def image_name(image: str) -> str:
    """`quay.io/jetstack/cert-manager-csi-driver:v0.16.0@sha256:...` -> `cert-manager-csi-driver`."""
    last = image.rsplit("/", 1)[-1]
    return last.split("@", 1)[0].split(":", 1)[0]


def image_of(container: Mapping[str, Any]) -> Image:
    return IMAGES.get(image_name(str(container.get("image") or "")), PLACEHOLDER)


def expand(text: str, env: Mapping[str, str]) -> str:
    """kubelet's `$(VAR)` expansion: a defined VAR is replaced, `$$` is `$`, anything else stays as written."""
    out: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith("$$", index):
            out.append("$")
            index += 2
            continue
        end = text.find(")", index + 2) if text.startswith("$(", index) else -1
        if end != -1 and text[index + 2 : end] in env:
            out.append(env[text[index + 2 : end]])
            index = end + 1
            continue
        out.append(text[index])
        index += 1
    return "".join(out)


class ConfigError(Exception):
    """The container cannot be created as specified (kubelet's CreateContainerConfigError); says why."""


def field_value(pod: Mapping[str, Any], path: str) -> str:
    """A downward-API fieldRef of the pod, as kubelet resolves it."""
    meta, spec, status = (as_dict(pod.get(key)) for key in ("metadata", "spec", "status"))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
        "status.hostIPs": ",".join(str(as_dict(i).get("ip", "")) for i in status.get("hostIPs") or []),
        "status.podIPs": ",".join(str(as_dict(i).get("ip", "")) for i in status.get("podIPs") or []),
    }
    if path in simple:
        return str(simple[path] or "")
    for prefix, source in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return str(as_dict(meta.get(source)).get(path[len(prefix) + 2 : -2], ""))
        if path == prefix:
            return "\n".join(f'{k}="{v}"' for k, v in sorted(as_dict(meta.get(source)).items()))
    raise ConfigError(f'unsupported fieldRef fieldPath "{path}"')


# (kind of source, namespace, name) -> the object's data (decoded for Secrets), None when it does not exist.
DataSource = Callable[[str, str, str], Awaitable[Mapping[str, str] | None]]


async def _key_ref(ref: Mapping[str, Any], kind: str, namespace: str, fetch: DataSource) -> str | None:
    name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
    data = await fetch(kind, namespace, name)
    if data is None or key not in data:
        if ref.get("optional") is True:
            return None
        if data is None:
            raise ConfigError(f'{kind.lower()} "{name}" not found')
        raise ConfigError(f"couldn't find key {key} in {kind} {namespace}/{name}")
    return data[key]


async def environment(
    pod: Mapping[str, Any], container: Mapping[str, Any], *, base: Mapping[str, str], fetch: DataSource
) -> dict[str, str]:
    """The container's environment: `base` (image and kubelet variables), then envFrom, then env in order."""
    namespace = str(as_dict(pod.get("metadata")).get("namespace") or "default")
    env = dict(base)
    for raw_source in container.get("envFrom") or []:
        source = as_dict(raw_source)
        prefix = str(source.get("prefix") or "")
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = as_dict(source.get(key))
            if not ref:
                continue
            data = await fetch(kind, namespace, str(ref.get("name") or ""))
            if data is None:
                if ref.get("optional") is True:
                    continue
                raise ConfigError(f'{kind.lower()} "{ref.get("name")}" not found')
            env.update({prefix + k: v for k, v in data.items()})
    for raw_entry in container.get("env") or []:
        entry = as_dict(raw_entry)
        name = str(entry.get("name") or "")
        source = as_dict(entry.get("valueFrom"))
        if not source:
            env[name] = expand(str(entry.get("value") or ""), env)
        elif "fieldRef" in source:
            env[name] = field_value(pod, str(as_dict(source["fieldRef"]).get("fieldPath") or ""))
        elif "configMapKeyRef" in source or "secretKeyRef" in source:
            kind, ref = (
                ("ConfigMap", source["configMapKeyRef"])
                if "configMapKeyRef" in source
                else (
                    "Secret",
                    source["secretKeyRef"],
                )
            )
            value = await _key_ref(as_dict(ref), kind, namespace, fetch)
            if value is not None:
                env[name] = value
        elif "resourceFieldRef" in source:
            env[name] = "0"  # the sandbox sets no resource limits
    return env


def command_line(container: Mapping[str, Any], image: Image, env: Mapping[str, str]) -> list[str]:
    """`command` (else the image's entrypoint) + `args` (else, without a command, the image's cmd), expanded."""
    command = [str(c) for c in container.get("command") or []]
    args = [str(a) for a in container.get("args") or []]
    if not command:
        command = list(image.entrypoint)
        args = args or list(image.cmd)
    return [expand(part, env) for part in (*command, *args)]


def local_argv(argv: Sequence[str]) -> list[str]:
    """The command line the node runs for a certcsi container: `certcsi` is this interpreter's certcsi."""
    if not argv or Path(argv[0]).name != "certcsi":
        shown = argv[0] if argv else "(none)"
        raise ConfigError(f'the sandbox node runs only certcsi in its containers, not "{shown}"')
    return [sys.executable, "-m", "certcsi", *argv[1:]]


def kubernetes_service_env(host: str, port: int) -> dict[str, str]:
    """What kubelet gives every container about the `kubernetes` Service (here, the API server itself)."""
    url = f"tcp://{host}:{port}"
    return {
        "KUBERNETES_SERVICE_HOST": host,
        "KUBERNETES_SERVICE_PORT": str(port),
        "KUBERNETES_SERVICE_PORT_HTTPS": str(port),
        "KUBERNETES_PORT": url,
        f"KUBERNETES_PORT_{port}_TCP": url,
        f"KUBERNETES_PORT_{port}_TCP_PROTO": "tcp",
        f"KUBERNETES_PORT_{port}_TCP_PORT": str(port),
        f"KUBERNETES_PORT_{port}_TCP_ADDR": host,
    }
