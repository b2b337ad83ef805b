"""`certcsi sandbox files`: what a pod's CSI volumes hold, since the sandbox has no `kubectl exec` into a pod.

For each volume: where the pod mounts it, whether it is mounted (a read-only bind of a tmpfs when the
driver did its job) and, file by file, mode, owner and group, size, and what it is: a certificate
(subject, SANs, issuer, validity), a CA bundle, a private key (its type only, never its bytes), a
PKCS#12 keystore. A volume that is not mounted says why: the pod's last FailedMount event.
"""

from __future__ import annotations

import grp
import pwd
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from certcsi.inspecting import Certificate
from certcsi.kube import Transport
from certcsi.sandbox.kubelet.paths import target_path
from certcsi.sandbox.locating import NotFound, SandboxNode
from certcsi.volumes.mount import parse_mountinfo

Obj = dict[str, Any]


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class FileView:
    name: str
    mode: int
    owner: str
    group: str
    size: int
    what: str


@dataclass(frozen=True)
class VolumeView:
    name: str
    driver: str
    mount_paths: tuple[str, ...]
    target: Path
    mount: str | None  # "bind mount of a tmpfs", or None when nothing is mounted there
    read_only: bool  # as the pod's containers mount it (volumeMounts[].readOnly, or the CSI volume's readOnly)
    files: tuple[FileView, ...]
    not_mounted_because: str | None = None


def _span(delta_seconds: float) -> str:
    seconds = int(abs(delta_seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _certificate_summary(certs: Sequence[x509.Certificate], now: datetime) -> str:
    leaf = Certificate.of(certs[0])
    sans = [f"DNS:{n}" for n in leaf.dns_names] + [f"IP:{n}" for n in leaf.ip_addresses]
    sans += [f"URI:{n}" for n in leaf.uris] + [f"email:{n}" for n in leaf.emails]
    left = (leaf.not_after - now).total_seconds()
    validity = f"valid {leaf.not_before:%Y-%m-%d %H:%M:%S} to {leaf.not_after:%Y-%m-%d %H:%M:%S} UTC " + (
        f"({_span(left)} left)" if left > 0 else f"(EXPIRED {_span(left)} ago)"
    )
    issuer = certs[0].issuer.rfc4514_string() or "(empty)"
    parts = [
        f"certificate: subject {leaf.subject or '(empty)'}",
        f"SANs {', '.join(sans) or '(none)'}",
        f"issuer {issuer}",
        validity,
    ]
    if len(certs) > 1:
        parts.append(f"+{len(certs) - 1} more in the chain")
    return "; ".join(parts)


def _key_summary(data: bytes) -> str:
    if b"ENCRYPTED PRIVATE KEY" in data:
        return "private key (encrypted)"
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        return "private key (unreadable)"
    if isinstance(key, rsa.RSAPrivateKey):
        return f"private key: RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        names = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return f"private key: ECDSA {names.get(key.curve.name, key.curve.name)}"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "private key: Ed25519"
    return f"private key: {type(key).__name__}"


def what_is(name: str, data: bytes, now: datetime) -> str:
    """What a volume file holds, in one line; never any secret byte of it."""
    if b"PRIVATE KEY-----" in data:
        return _key_summary(data)
    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError:
            return "PEM that does not parse as certificates"
        if name.startswith("ca") and len(certs) >= 1 and all(_is_ca(c) for c in certs):
            subjects = "; ".join(c.subject.rfc4514_string() for c in certs)
            return f"CA bundle, {len(certs)} certificate{'s' if len(certs) > 1 else ''}: {subjects}"
        return _certificate_summary(certs, now)
    if name.endswith((".p12", ".pfx")):
        return "PKCS#12 keystore (password-protected)"
    if name.endswith((".jks",)):
        return "Java keystore"
    return "data"


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _name(table: Any, number: int) -> str:
    try:
        return str(table(number)[0])
    except KeyError:
        return str(number)


def list_files(directory: Path, now: datetime) -> tuple[FileView, ...]:
    """The files a pod sees in `directory` (the data swap's hidden `..` entries left out)."""
    views = []
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".."):
            continue
        info = entry.stat()
        data = entry.read_bytes() if stat.S_ISREG(info.st_mode) else b""
        views.append(
            FileView(
                name=entry.name,
                mode=stat.S_IMODE(info.st_mode),
                owner=_name(pwd.getpwuid, info.st_uid),
                group=_name(grp.getgrgid, info.st_gid),
                size=info.st_size,
                what=what_is(entry.name, data, now) if stat.S_ISREG(info.st_mode) else "directory",
            )
        )
    return tuple(views)


def _mount_of(node: SandboxNode, target: Path) -> str | None:
    try:
        entries = parse_mountinfo(Path(f"/proc/{node.pid}/mountinfo").read_text())
    except OSError:
        entries = parse_mountinfo(Path("/proc/self/mountinfo").read_text())
    found = [m for m in entries if m.mount_point == str(target)]
    if not found:
        return None
    top = found[-1]
    return f"bind mount of a {top.fs_type}"


async def _last_failed_mount(transport: Transport, pod: Obj) -> str | None:
    meta = _d(pod.get("metadata"))
    selector = f"involvedObject.uid={meta.get('uid')},reason=FailedMount"
    listing = await transport.request(
        "GET",
        f"/api/v1/namespaces/{quote(str(meta.get('namespace')), safe='')}/events",
        query=[("fieldSelector", selector)],
    )
    events = sorted(listing.get("items") or [], key=lambda e: str(_d(e).get("lastTimestamp") or ""))
    return str(events[-1].get("message")) if events else None


async def pod_volumes(
    transport: Transport, pod: Obj, node: SandboxNode, *, volume: str | None = None, now: datetime | None = None
) -> list[VolumeView]:
    """The pod's CSI volumes (or the one named), each with its files."""
    moment = now or datetime.now(UTC)
    meta, spec = _d(pod.get("metadata")), _d(pod.get("spec"))
    csi = [_d(v) for v in spec.get("volumes") or [] if "csi" in _d(v)]
    if volume is not None:
        names = [str(v.get("name")) for v in spec.get("volumes") or []]
        if volume not in names:
            raise NotFound(
                f'pod {meta.get("namespace")}/{meta.get("name")} has no volume "{volume}" ({", ".join(names)})'
            )
        csi = [v for v in csi if v.get("name") == volume]
        if not csi:
            raise NotFound(f'volume "{volume}" is not a CSI volume: `sandbox files` shows CSI volumes')
    kubelet_root = node.host.kubelet_root
    views = []
    for entry in csi:
        name = str(entry.get("name"))
        target = target_path(kubelet_root, str(meta.get("uid")), name)
        mounts = [
            _d(m)
            for c in spec.get("containers") or []
            for m in _d(c).get("volumeMounts") or []
            if _d(m).get("name") == name
        ]
        mount_paths = tuple(str(m.get("mountPath")) for m in mounts)
        read_only = bool(mounts) and all(m.get("readOnly") is True for m in mounts)
        mounted = _mount_of(node, target)
        readable = node.local(target)
        files = list_files(readable, moment) if mounted is not None and readable.is_dir() else ()
        why = None if mounted is not None else await _last_failed_mount(transport, pod)
        views.append(
            VolumeView(
                name=name,
                driver=str(_d(entry.get("csi")).get("driver") or ""),
                mount_paths=mount_paths,
                target=target,
                mount=mounted,
                read_only=read_only,
                files=files,
                not_mounted_because=why,
            )
        )
    return views


def render(pod: Obj, views: Sequence[VolumeView]) -> str:
    meta = _d(pod.get("metadata"))
    lines = []
    for view in views:
        at = ", ".join(view.mount_paths) or "(no container mounts it)"
        lines.append(f"Pod {meta.get('namespace')}/{meta.get('name')}, volume {view.name} ({view.driver}) at {at}")
        lines.append(f"  node path: {view.target}")
        if view.mount is None:
            lines.append(
                "  not mounted"
                + (f": last FailedMount: {view.not_mounted_because}" if view.not_mounted_because else " (yet)")
            )
            continue
        access = "read-only" if view.read_only else "read-write (volumeMounts without readOnly: true)"
        lines.append(f"  mount:     {view.mount}; the pod's containers mount it {access}")
        width = max((len(f.name) for f in view.files), default=0)
        for item in view.files:
            lines.append(
                f"  {item.name:<{width}}  {item.mode:04o}  {item.owner}:{item.group}  {item.size:>5} bytes  {item.what}"
            )
    return "\n".join(lines)
