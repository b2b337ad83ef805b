"""Starts one container's process for the sandbox node: its own mount namespace, its mounts, then exec.

    python -m certcsi.sandbox.launching '<LaunchSpec as JSON>'      (environment = the container's)

The container's root is a directory (`root`), its working directory as `/` is a container's: a
relative path in the args (`unix://plugin/csi.sock`, `--data-root=csi-data-dir`) lands under it.
Each volume mount is bound at `<root>/<mountPath>` with its propagation (Bidirectional mounts stay
peers of the node's shared directory, so the driver's tmpfs and bind mounts reach the kubelet).
Paths a process reads by their absolute name (the service-account token at
/var/run/secrets/kubernetes.io/serviceaccount, what in-cluster configuration reads) are also
mounted at that absolute path, over a tmpfs on /run that only this process sees. Nothing here
outlives the process: its mount namespace goes with it. Root only; the kubelet never starts this
in the machine's own mount namespace.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from certcsi.sandbox import syscalls

# Absolute container paths that are mounted at that very path as well as under the container's root.
ABSOLUTE_PREFIXES = ("/var/run/secrets/", "/run/secrets/")
BIDIRECTIONAL = "Bidirectional"
HOST_TO_CONTAINER = "HostToContainer"


@dataclass(frozen=True)
class Mount:
    """One volumeMount, resolved: `source` is a directory (or file) of the node, `target` the mountPath."""

    source: str
    target: str
    read_only: bool = False
    propagation: str = "None"


@dataclass(frozen=True)
class LaunchSpec:
    root: str
    argv: list[str]
    mounts: list[Mount] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LaunchSpec:
        raw: dict[str, Any] = json.loads(text)
        return cls(
            root=str(raw["root"]),
            argv=[str(arg) for arg in raw["argv"]],
            mounts=[Mount(**entry) for entry in raw.get("mounts") or []],
        )


def under_root(root: str, container_path: str) -> Path:
    """Where `container_path` lives under the container's root directory."""
    return Path(root) / container_path.lstrip("/")


def absolute_mount(target: str) -> bool:
    return any(target.startswith(prefix) or target + "/" == prefix for prefix in ABSOLUTE_PREFIXES)


def _mount_point(path: Path, *, is_file: bool) -> None:
    if is_file:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    else:
        path.mkdir(parents=True, exist_ok=True)


def _bind(mount: Mount, target: Path) -> None:
    _mount_point(target, is_file=Path(mount.source).is_file())
    syscalls.bind(mount.source, target, read_only=mount.read_only)
    if mount.propagation == HOST_TO_CONTAINER:
        syscalls.set_propagation(target, syscalls.MS_SLAVE, recursive=True)
    elif mount.propagation != BIDIRECTIONAL:
        syscalls.set_propagation(target, syscalls.MS_PRIVATE, recursive=True)


def prepare(spec: LaunchSpec) -> None:
    """In a fresh mount namespace: the root made a private mount, the volume mounts under it."""
    syscalls.unshare_mounts()
    root = Path(spec.root)
    root.mkdir(parents=True, exist_ok=True)
    # Mounts under the root never propagate back to the kubelet (only Bidirectional sources do).
    syscalls.bind(root, root)
    syscalls.set_propagation(root, syscalls.MS_PRIVATE, recursive=False)
    absolute = [mount for mount in spec.mounts if absolute_mount(mount.target)]
    for mount in spec.mounts:
        _bind(mount, under_root(spec.root, mount.target))
    if absolute:
        run = Path("/var/run").resolve()
        # The tmpfs must not propagate to whatever mount holds /run (the machine's, if it is shared).
        syscalls.set_propagation(syscalls.holding_mount(run)[0], syscalls.MS_PRIVATE, recursive=False)
        syscalls.mount("tmpfs", run, "tmpfs", syscalls.MS_NOSUID | syscalls.MS_NODEV, "mode=755")
        for mount in absolute:
            target = Path(mount.target)
            _bind(mount, run / target.relative_to("/var/run" if target.is_relative_to("/var/run") else "/run"))


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        sys.exit("usage: python -m certcsi.sandbox.launching '<LaunchSpec JSON>'")
    spec = LaunchSpec.from_json(argv[1])
    try:
        prepare(spec)
    except OSError as err:
        sys.exit(f"sandbox container: cannot set up its mounts: {err}")
    os.chdir(spec.root)
    try:
        os.execvpe(spec.argv[0], spec.argv, dict(os.environ))
    except OSError as err:
        sys.exit(f"sandbox container: cannot start {spec.argv[0]}: {err.strerror}")


if __name__ == "__main__":
    main(sys.argv)
