"""The sandbox node's own filesystem: a directory standing in for the node's `/`.

A hostPath `/var/lib/kubelet/pods` of a pod is `<root>/var/lib/kubelet/pods` here, and the kubelet's
root directory is `/var/lib/kubelet` of that filesystem, so the install manifests' host paths
(kubelet root, plugin and registration directories, csi-data-dir) work unchanged and all land
under one directory that the sandbox can make a shared mount and remove afterwards.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

KUBELET_ROOT = "/var/lib/kubelet"


@dataclass(frozen=True)
class HostFilesystem:
    root: Path

    def path(self, host_path: str) -> Path:
        """Where the node's absolute `host_path` lives; `..` never climbs out of the root."""
        normal = posixpath.normpath("/" + host_path).lstrip("/")
        return self.root / normal if normal else self.root

    def host_path(self, path: Path) -> str:
        """The node's name for a path under the root (the inverse of `path`)."""
        return "/" + path.relative_to(self.root).as_posix()

    @property
    def kubelet_root(self) -> Path:
        return self.path(KUBELET_ROOT)
