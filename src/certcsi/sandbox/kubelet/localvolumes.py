"""A pod's volumes other than CSI ones, set up as kubelet's in-tree plugins set them up.

    hostPath    a directory (or file) of the node's filesystem (hostpaths.HostFilesystem), checked against `type`
    emptyDir    pods/<uid>/volumes/kubernetes.io~empty-dir/<name>
    configMap   its keys as files          (kubernetes.io~configmap)
    secret      its keys as files, tmpfs   (kubernetes.io~secret)
    projected   serviceAccountToken (pod-bound, refreshed at 80% of its life), configMap, secret and
                downwardAPI sources in one directory, tmpfs (kubernetes.io~projected): the
                `kube-api-access-*` volume admission adds to every pod lives here

Secret material only ever lands on a tmpfs when the kubelet runs as root; without root, volumes
that hold secrets are refused rather than written to disk. A failure is `MountFailure` with the
text kubelet's event shows after `MountVolume.SetUp failed for volume "<name>" : `.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import shutil
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from certcsi.errors import KubernetesError
from certcsi.kube._transport import get_or_none
from certcsi.sandbox import syscalls
from certcsi.sandbox.kubelet.api import KubeletApi
from certcsi.sandbox.kubelet.containers import field_value
from certcsi.sandbox.kubelet.hostpaths import HostFilesystem
from certcsi.sandbox.kubelet.mounting import MountFailure
from certcsi.sandbox.kubelet.planning import PodRef, TokenSpec, as_dict

DEFAULT_MODE = 0o644
# kubelet's token manager renews a token once 80% of its lifetime has passed.
TOKEN_REFRESH_FRACTION = 0.8
_PLUGIN_DIRS = {
    "emptyDir": "kubernetes.io~empty-dir",
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "projected": "kubernetes.io~projected",
}
_SENSITIVE = ("secret", "projected")


@dataclass(frozen=True)
class Prepared:
    """A set-up volume: where it lives on the node, and when (if ever) its contents must be refreshed."""

    path: Path
    refresh_at: datetime | None = None


def volume_kind(volume: Mapping[str, Any]) -> str | None:
    for kind in ("hostPath", *_PLUGIN_DIRS):
        if kind in volume:
            return kind
    return None


def _host_type_problem(path: Path, host_path: str, kind: str) -> str | None:
    """hostPath `type` checks, worded as kubelet's checkType words them."""
    checks: dict[str, tuple[Callable[[os.stat_result], bool], str]] = {
        "Directory": (lambda s: stat.S_ISDIR(s.st_mode), "is not a directory"),
        "File": (lambda s: stat.S_ISREG(s.st_mode), "is not a file"),
        "Socket": (lambda s: stat.S_ISSOCK(s.st_mode), "is not a socket file"),
        "CharDevice": (lambda s: stat.S_ISCHR(s.st_mode), "is not a character device"),
        "BlockDevice": (lambda s: stat.S_ISBLK(s.st_mode), "is not a block device"),
    }
    if kind not in checks:
        return None
    check, problem = checks[kind]
    try:
        info = path.stat()
    except OSError:
        return f"hostPath type check failed: {host_path} {problem}"
    return None if check(info) else f"hostPath type check failed: {host_path} {problem}"


def _write_files(directory: Path, files: Mapping[str, bytes], mode: int) -> None:
    for relative, content in files.items():
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_bytes(content)
        temporary.chmod(mode)
        os.replace(temporary, target)


def _items(data: Mapping[str, bytes], items: Any, what: str) -> dict[str, bytes]:
    """The keys as files, or only the listed ones at their paths."""
    if not items:
        return dict(data)
    chosen: dict[str, bytes] = {}
    for raw in items:
        item = as_dict(raw)
        key = str(item.get("key") or "")
        if key not in data:
            raise MountFailure(f"configuration error: {what} has no key {key!r}", final=True)
        chosen[str(item.get("path") or key)] = data[key]
    return chosen


class LocalVolumes:
    """Sets up and tears down one node's non-CSI pod volumes."""

    def __init__(
        self,
        *,
        api: KubeletApi,
        kubelet_root: Path,
        host: HostFilesystem | None,
        now: Callable[[], datetime],
        tmpfs: bool,
    ) -> None:
        self._api = api
        self._root = kubelet_root
        self._host = host
        self._now = now
        self._tmpfs = tmpfs

    def volume_dir(self, pod_uid: str, kind: str, name: str) -> Path:
        return self._root / "pods" / pod_uid / "volumes" / _PLUGIN_DIRS[kind] / name

    async def set_up(self, pod: Mapping[str, Any], volume: Mapping[str, Any]) -> Prepared:
        kind = volume_kind(volume)
        name = str(volume.get("name") or "")
        ref = PodRef.parse(pod)
        if kind == "hostPath":
            return self._host_path(as_dict(volume["hostPath"]))
        if kind is None:
            raise MountFailure("the sandbox node does not support this kind of volume", final=True)
        directory = self.volume_dir(ref.uid, kind, name)
        source = as_dict(volume[kind])
        if kind == "emptyDir":
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o777)
            return Prepared(directory)
        if kind in _SENSITIVE and not self._tmpfs:
            raise MountFailure(
                f"{kind} volumes hold secrets, which the sandbox node writes only to a tmpfs (run it as root)",
                final=True,
            )
        files, refresh = await self._contents(pod, ref, kind, source)
        self._materialise(directory, sensitive=kind in _SENSITIVE)
        _write_files(directory, files, _mode(source.get("defaultMode")))
        return Prepared(directory, refresh)

    def _host_path(self, source: Mapping[str, Any]) -> Prepared:
        if self._host is None:
            raise MountFailure("hostPath volumes need the node's filesystem (sandbox up gives it one)", final=True)
        host_path = str(source.get("path") or "")
        path = self._host.path(host_path)
        kind = str(source.get("type") or "")
        if kind == "DirectoryOrCreate":
            path.mkdir(mode=0o755, parents=True, exist_ok=True)
        elif kind == "FileOrCreate" and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o644)
        elif (problem := _host_type_problem(path, host_path, kind)) is not None:
            raise MountFailure(problem, final=True)
        return Prepared(path)

    def _materialise(self, directory: Path, *, sensitive: bool) -> None:
        if directory.is_dir():
            return
        directory.mkdir(parents=True, mode=0o750)
        if sensitive:
            syscalls.mount("tmpfs", directory, "tmpfs", syscalls.MS_NOSUID | syscalls.MS_NODEV, "mode=755")

    async def _contents(
        self, pod: Mapping[str, Any], ref: PodRef, kind: str, source: Mapping[str, Any]
    ) -> tuple[dict[str, bytes], datetime | None]:
        if kind == "configMap":
            return await self._object_files("ConfigMap", ref.namespace, source), None
        if kind == "secret":
            return await self._object_files("Secret", ref.namespace, {**source, "name": source.get("secretName")}), None
        files: dict[str, bytes] = {}
        refresh: datetime | None = None
        for raw_entry in source.get("sources") or []:
            entry = as_dict(raw_entry)
            if "serviceAccountToken" in entry:
                path, token, due = await self._token(ref, as_dict(entry["serviceAccountToken"]))
                files[path] = token
                refresh = due if refresh is None else min(refresh, due)
            elif "configMap" in entry:
                files.update(await self._object_files("ConfigMap", ref.namespace, as_dict(entry["configMap"])))
            elif "secret" in entry:
                files.update(await self._object_files("Secret", ref.namespace, as_dict(entry["secret"])))
            elif "downwardAPI" in entry:
                for raw_item in as_dict(entry["downwardAPI"]).get("items") or []:
                    item = as_dict(raw_item)
                    field_path = str(as_dict(item.get("fieldRef")).get("fieldPath") or "")
                    files[str(item.get("path") or "")] = field_value(pod, field_path).encode()
        return files, refresh

    async def _token(self, ref: PodRef, source: Mapping[str, Any]) -> tuple[str, bytes, datetime]:
        seconds = source.get("expirationSeconds")
        spec = TokenSpec(
            audience=str(source.get("audience") or ""),
            expiration_seconds=seconds if isinstance(seconds, int) and not isinstance(seconds, bool) else 3600,
        )
        try:
            minted = await self._api.mint_token(ref, spec)
        except KubernetesError as err:
            raise MountFailure(f"failed to fetch token: {err}", final=False) from None
        lifetime = timedelta(seconds=spec.expiration_seconds or 3600)
        due = self._now() + lifetime * TOKEN_REFRESH_FRACTION
        return str(source.get("path") or "token"), minted["token"].encode(), due

    async def _object_files(self, kind: str, namespace: str, source: Mapping[str, Any]) -> dict[str, bytes]:
        name = str(source.get("name") or "")
        plural = "configmaps" if kind == "ConfigMap" else "secrets"
        try:
            obj = await get_or_none(self._api.transport, f"/api/v1/namespaces/{namespace}/{plural}/{name}")
        except KubernetesError as err:
            raise MountFailure(f"couldn't get {kind.lower()} {namespace}/{name}: {err}", final=False) from None
        if obj is None:
            if source.get("optional") is True:
                return {}
            raise MountFailure(f'{kind.lower()} "{name}" not found', final=False)
        data = object_data(obj, kind)
        return _items(data, source.get("items"), f"{kind.lower()} {namespace}/{name}")

    def tear_down(self, pod_uid: str) -> None:
        """Unmount the pod's tmpfs volumes (their files go with them); the pod directory is removed after."""
        for kind in _SENSITIVE:
            plugin_dir = self._root / "pods" / pod_uid / "volumes" / _PLUGIN_DIRS[kind]
            if not plugin_dir.is_dir():
                continue
            for directory in plugin_dir.iterdir():
                if os.path.ismount(directory):
                    syscalls.unmount(directory, lazy=True)
                with contextlib.suppress(OSError):
                    shutil.rmtree(directory)


def object_data(obj: Mapping[str, Any], kind: str) -> dict[str, bytes]:
    """A ConfigMap's data and binaryData, or a Secret's data, as bytes by key."""
    data: dict[str, bytes] = {}
    if kind == "ConfigMap":
        data.update({str(k): str(v).encode() for k, v in as_dict(obj.get("data")).items()})
        binary = as_dict(obj.get("binaryData"))
    else:
        binary = as_dict(obj.get("data"))
    for key, value in binary.items():
        try:
            data[str(key)] = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            continue
    return data


def _mode(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o777 else DEFAULT_MODE
