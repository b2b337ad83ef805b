"""One container of a rendered pod template as `podman run` arguments, the way kubelet and a CRI runtime run it.

Modelled, and refused with an error when a manifest needs more: env values and `fieldRef` (spec.nodeName,
metadata.name, metadata.namespace), kubelet's `$(VAR)` expansion of env, command and args; hostPath
volumes with their type checks and `mountPropagation`; the service-account token kubelet projects and the
KUBERNETES_SERVICE_* variables in-cluster clients read; securityContext (runAsUser, runAsGroup,
privileged, capabilities, readOnlyRootFilesystem, allowPrivilegeEscalation); hostNetwork: true; the grace period.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# mountPropagation -> the propagation of the bind mount (CRI: PROPAGATION_BIDIRECTIONAL is rshared, ...).
PROPAGATION = {"None": "rprivate", "HostToContainer": "rslave", "Bidirectional": "rshared"}


class Unsupported(ValueError):
    """The manifest asks for something this model of kubelet does not do."""


@dataclass(frozen=True)
class PodIdentity:
    """What kubelet knows about the pod and its node when it starts a container."""

    node_name: str
    pod_name: str
    namespace: str
    api_host: str  # KUBERNETES_SERVICE_HOST / _PORT, as kubelet sets them in every container
    api_port: int
    service_account: Path  # host directory holding token, ca.crt and namespace, mounted read-only


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubelet's expansion: `$(NAME)` becomes NAME's value when defined, `$$` is a literal `$`, all else stays."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$" or i + 1 == len(text):
            out.append(text[i])
            i += 1
        elif text[i + 1] == "$":
            out.append("$")
            i += 2
        elif text[i + 1] == "(" and (end := text.find(")", i + 2)) != -1:
            name = text[i + 2 : end]
            out.append(env[name] if name in env else text[i : end + 1])
            i = end + 1
        else:
            out.append("$")
            i += 1
    return "".join(out)


def _field(path: str, identity: PodIdentity) -> str:
    fields = {"spec.nodeName": identity.node_name, "metadata.name": identity.pod_name}
    fields["metadata.namespace"] = identity.namespace
    if path not in fields:
        raise Unsupported(f"env fieldRef.fieldPath {path!r}: only {sorted(fields)} are modelled")
    return fields[path]


def container_env(container: Mapping[str, Any], identity: PodIdentity) -> dict[str, str]:
    """The container's environment: kubelet's service variables, then `env` in order, each expanded against
    the variables before it."""
    env = {"KUBERNETES_SERVICE_HOST": identity.api_host, "KUBERNETES_SERVICE_PORT": str(identity.api_port)}
    for entry in container.get("env") or []:
        name = entry["name"]
        if "value" in entry:
            env[name] = expand(str(entry["value"]), env)
        elif "fieldRef" in (source := entry.get("valueFrom") or {}):
            env[name] = _field(source["fieldRef"]["fieldPath"], identity)
        else:
            raise Unsupported(f"env {name}: only value and valueFrom.fieldRef are modelled")
    return env


def _host_path(volume: Mapping[str, Any]) -> Path:
    """The volume's host directory, checked or created as its hostPath type says (kubelet fails the pod else)."""
    host_path = volume.get("hostPath")
    if host_path is None:
        raise Unsupported(f"volume {volume['name']}: only hostPath volumes are modelled")
    path, kind = Path(host_path["path"]), host_path.get("type", "")
    if kind == "DirectoryOrCreate":
        path.mkdir(mode=0o755, parents=True, exist_ok=True)
    elif kind == "Directory" and not path.is_dir():
        raise FileNotFoundError(f"volume {volume['name']}: hostPath type check failed: {path} is not a directory")
    elif kind not in {"", "Directory", "DirectoryOrCreate"}:
        raise Unsupported(f"volume {volume['name']}: hostPath type {kind!r} is not modelled")
    return path


def _mounts(pod: Mapping[str, Any], container: Mapping[str, Any], identity: PodIdentity) -> list[str]:
    volumes = {volume["name"]: volume for volume in pod.get("volumes") or []}
    args: list[str] = []
    for mount in container.get("volumeMounts") or []:
        propagation = mount.get("mountPropagation", "None")
        if propagation not in PROPAGATION:
            raise Unsupported(f"volumeMount {mount['name']}: mountPropagation {propagation!r}")
        options = [
            "type=bind",
            f"source={_host_path(volumes[mount['name']])}",
            f"destination={mount['mountPath']}",
            f"bind-propagation={PROPAGATION[propagation]}",
        ]
        if mount.get("readOnly"):
            options.append("readonly=true")
        args += ["--mount", ",".join(options)]
    if pod.get("automountServiceAccountToken", True):
        source = f"type=bind,source={identity.service_account},destination={SERVICE_ACCOUNT_DIR},readonly=true"
        args += ["--mount", source]
    return args


def _security(pod: Mapping[str, Any], container: Mapping[str, Any]) -> list[str]:
    context = {**(pod.get("securityContext") or {}), **(container.get("securityContext") or {})}
    args: list[str] = []
    if "runAsUser" in context:
        user = str(context["runAsUser"])
        args += ["--user", f"{user}:{context['runAsGroup']}" if "runAsGroup" in context else user]
    if context.get("privileged"):
        # As the CRI runtimes do: a privileged container gets every capability and no seccomp filter, so
        # capability drops and the RuntimeDefault profile do not apply.
        args.append("--privileged")
    else:
        capabilities = context.get("capabilities") or {}
        args += [f"--cap-drop={name}" for name in capabilities.get("drop") or []]
        args += [f"--cap-add={name}" for name in capabilities.get("add") or []]
        if context.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
    if context.get("readOnlyRootFilesystem"):
        # Kubernetes mounts no tmpfs on /tmp or /run for a read-only root; podman would by default.
        args += ["--read-only", "--read-only-tmpfs=false"]
    return args


def podman_run_args(
    *,
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    name: str,
    identity: PodIdentity,
) -> list[str]:
    """`podman run` arguments for `container` of `pod` (a pod template's spec)."""
    env = container_env(container, identity)
    command = list(container.get("command") or [])
    args = [expand(str(arg), env) for arg in container.get("args") or []]
    if not pod.get("hostNetwork"):
        raise Unsupported("hostNetwork: false needs a pod network; only the node's network is modelled")
    run = ["podman", "run", "--detach", "--name", name, "--pull=never", "--network", "host"]
    run += ["--stop-timeout", str(pod.get("terminationGracePeriodSeconds", 30))]
    run += _security(pod, container)
    run += _mounts(pod, container, identity)
    for key, value in env.items():
        run += ["--env", f"{key}={value}"]
    if command:
        run += ["--entrypoint", json.dumps([expand(part, env) for part in command])]
    return [*run, container["image"], *args]
