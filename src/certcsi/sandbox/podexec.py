"""`certcsi sandbox exec`: run a command in a running container of the sandbox node, as `kubectl exec` would.

Only containers the node runs as processes (certcsi's) can be entered: the command runs in their
mount namespace (so the container's mounts, `/var/run/secrets/...` included, are where it expects
them), in their working directory (the container's root: `--data-root csi-data-dir` means the
same as in the container) and with their environment. Root only, like the node that runs them.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from certcsi.sandbox.locating import NotFound

Obj = dict[str, Any]
CONTAINER_ID_PREFIX = "sandbox://"


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def container_pid(pod: Obj, container: str | None) -> tuple[str, int]:
    """(container name, pid) of a running process container of the pod; `None` picks the default container."""
    meta, spec, status = _d(pod.get("metadata")), _d(pod.get("spec")), _d(pod.get("status"))
    names = [str(_d(c).get("name")) for c in spec.get("containers") or []]
    who = f"pod {meta.get('namespace')}/{meta.get('name')}"
    if container is None:
        annotated = _d(meta.get("annotations")).get("kubectl.kubernetes.io/default-container")
        container = str(annotated) if annotated in names else (names[0] if names else "")
    if container not in names:
        raise NotFound(f"container {container} is not valid for {who}: choose one of: [{' '.join(names)}]")
    state = next((_d(s) for s in status.get("containerStatuses") or [] if _d(s).get("name") == container), {})
    container_id = str(state.get("containerID") or "")
    if "running" not in _d(state.get("state")):
        raise NotFound(f"container {container} of {who} is not running")
    if not container_id.startswith(CONTAINER_ID_PREFIX):
        image = next((_d(c).get("image") for c in spec.get("containers") or [] if _d(c).get("name") == container), "")
        raise NotFound(
            f"container {container} of {who} runs no process in the sandbox (image {image} is not run): only "
            "certcsi's containers can be entered; `certcsi sandbox files` shows what a pod's volumes hold"
        )
    return container, int(container_id.removeprefix(CONTAINER_ID_PREFIX))


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {key: value for key, _, value in pairs}


def exec_argv(pid: int, command: Sequence[str]) -> list[str]:
    """nsenter into the process's mount namespace and working directory, then `command`."""
    nsenter = shutil.which("nsenter")
    if nsenter is None:
        raise NotFound("nsenter (util-linux) is not installed: `sandbox exec` needs it")
    return [nsenter, f"--target={pid}", "--mount", "--wd", "--", *command]
