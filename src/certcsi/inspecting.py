"""`certcsi inspect`: every volume on this node, read straight from the data root (no API, no driver).

For each `<data-root>/inmemfs/<volume-id>/`:
- metadata.json (csi-lib's): the pod (namespace, name, uid from the volume context), the target
  path, and the next renewal (`nextIssuanceTime`);
- status.json (certcsi's, see `certcsi.volumes.status`): last error, consecutive failures,
  the request and issuer of the current certificate, and the file name the driver wrote it under;
- the certificate itself, parsed from `data/<file>`: identity, SANs, validity;
- the driver: from certcsi's `driver.json`, else kubelet's `vol_data.json` beside the target
  (both drivers may share one data root), else guessed from the volume context.

The certificate's file name comes from status.json when certcsi wrote the volume (exact, whatever
the driver's flags). Without it (a volume written by the Go driver, or before its first
certificate) it is the volume's `csi.cert-manager.io/certificate-file` attribute, else `tls.crt`,
which is also the default of csi-driver-spiffe's `--file-name-certificate`: a SPIFFE driver run
with another name shows "no certificate file" for such volumes until their next issuance.

Each volume has a state: `Issued`; `Pending` while its first certificate is awaited (the request
is named once it exists); `Failing` when its first issuance keeps failing (the last error and how
many attempts failed, kept across kubelet's retries); `Renewal failing` when it has a certificate
but its renewal fails. A volume whose publish failed is gone from the node until kubelet retries it.

Nothing here writes, and nothing raises past `run()`: a missing or unreadable data root is one
clear message and exit code 1; an unreadable volume is a row with its problem, and exit code 1.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from cryptography import x509

from certcsi.pki.certs import parse_pem_chain
from certcsi.timestamps import rfc3339_nano
from certcsi.volumes.owning import kubelet_driver, recorded_owner
from certcsi.volumes.status import VolumeStatus, read_status
from certcsi.volumes.store import DATA_DIR, INMEMFS, METADATA_FILE, Metadata

__all__ = ["Certificate", "DataRootError", "VolumeReport", "render_json", "render_table", "run", "scan"]

CSI_DRIVER_PREFIX = "csi.cert-manager.io/"
SPIFFE_PREFIX = "spiffe.csi.cert-manager.io/"
DEFAULT_CERTIFICATE_FILE = "tls.crt"
POD_PREFIX = "csi.storage.k8s.io/pod."


class DataRootError(Exception):
    """The data root as a whole cannot be read; the message says what to check."""


@dataclass(frozen=True)
class Certificate:
    """What `inspect` shows of a leaf certificate."""

    subject: str
    common_name: str | None
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    uris: tuple[str, ...]
    emails: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    serial: str

    @property
    def identity(self) -> str:
        """The SPIFFE ID when there is one, else the common name, else the first SAN."""
        spiffe = next((uri for uri in self.uris if uri.startswith("spiffe://")), None)
        candidates = [spiffe, self.common_name, *self.dns_names, *self.ip_addresses, *self.uris, *self.emails]
        return next((c for c in candidates if c), "")

    @classmethod
    def of(cls, cert: x509.Certificate) -> Certificate:
        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            sans = x509.SubjectAlternativeName([])
        names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return cls(
            subject=cert.subject.rfc4514_string(),
            common_name=str(names[0].value) if names else None,
            dns_names=tuple(sans.get_values_for_type(x509.DNSName)),
            ip_addresses=tuple(str(ip) for ip in sans.get_values_for_type(x509.IPAddress)),
            uris=tuple(sans.get_values_for_type(x509.UniformResourceIdentifier)),
            emails=tuple(sans.get_values_for_type(x509.RFC822Name)),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            serial=f"{cert.serial_number:x}",
        )


@dataclass(frozen=True)
class VolumeReport:
    volume_id: str
    namespace: str = ""
    pod: str = ""
    pod_uid: str = ""
    driver: str = ""
    target_path: str = ""
    certificate_file: str = ""
    certificate: Certificate | None = None
    next_renewal: datetime | None = None
    status: VolumeStatus | None = None
    problems: tuple[str, ...] = ()

    @property
    def last_error(self) -> str | None:
        return self.status.last_error if self.status is not None else None

    @property
    def state(self) -> str:
        if self.problems:
            return "Unreadable"
        if self.certificate is not None:
            return "Renewal failing" if self.last_error else "Issued"
        return "Failing" if self.last_error else "Pending"

    def to_dict(self) -> dict[str, Any]:
        cert = self.certificate
        status = self.status or VolumeStatus()
        return {
            "volumeID": self.volume_id,
            "namespace": self.namespace,
            "pod": self.pod,
            "podUID": self.pod_uid,
            "driver": self.driver,
            "targetPath": self.target_path,
            "state": self.state,
            "certificateFile": self.certificate_file,
            "identity": cert.identity if cert else None,
            "subject": cert.subject if cert else None,
            "dnsNames": list(cert.dns_names) if cert else [],
            "ipAddresses": list(cert.ip_addresses) if cert else [],
            "uris": list(cert.uris) if cert else [],
            "emails": list(cert.emails) if cert else [],
            "serial": cert.serial if cert else None,
            "notBefore": _time(cert.not_before) if cert else None,
            "notAfter": _time(cert.not_after) if cert else None,
            "nextRenewal": _time(self.next_renewal),
            "request": status.request_name,
            "issuer": None if status.issuer is None else vars(status.issuer),
            "lastError": status.last_error,
            "lastErrorTime": _time(status.last_error_time),
            "failures": status.failures,
            "problems": list(self.problems),
        }


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339_nano(moment)


# -- reading ------------------------------------------------------------------------------------------


def scan(data_root: Path) -> list[VolumeReport]:
    """Every entry of `<data_root>/inmemfs`, sorted by volume id; DataRootError when that cannot be listed."""
    root = Path(data_root)
    volumes_dir = root / INMEMFS
    if not root.exists():
        raise DataRootError(f"data root {root} does not exist (set --data-root to the driver's --data-root)")
    if not root.is_dir():
        raise DataRootError(f"data root {root} is not a directory")
    if not volumes_dir.is_dir():
        raise DataRootError(
            f"{volumes_dir} is missing or not a directory: {root} is not a certcsi data root, "
            "or the driver has never started on this node"
        )
    try:
        names = sorted(os.listdir(volumes_dir))
    except PermissionError:
        raise DataRootError(f"permission denied listing {volumes_dir} (run as root on the node)") from None
    except OSError as err:
        raise DataRootError(f"cannot list {volumes_dir}: {err.strerror or err}") from None
    # Hidden names are the store's temp files, cleaned at the driver's next start.
    return [_volume(volumes_dir / name) for name in names if not name.startswith(".")]


def _volume(path: Path) -> VolumeReport:
    name = path.name
    if path.is_symlink() or not path.is_dir():
        return VolumeReport(volume_id=name, problems=("not a volume directory",))
    try:
        meta = Metadata.from_json((path / METADATA_FILE).read_bytes())
    except FileNotFoundError:
        return VolumeReport(volume_id=name, problems=("no metadata.json (its driver removes this directory at start)",))
    except PermissionError:
        return VolumeReport(volume_id=name, problems=("permission denied reading metadata.json",))
    except (OSError, ValueError) as err:
        return VolumeReport(volume_id=name, problems=(f"unreadable metadata.json: {err}",))
    problems: list[str] = []
    status: VolumeStatus | None = None
    try:
        status = read_status(path)
    except (OSError, ValueError) as err:
        problems.append(f"unreadable status.json: {err}")
    context = meta.volume_context
    cert_file = (status.certificate_file if status else None) or context.get(
        f"{CSI_DRIVER_PREFIX}certificate-file", DEFAULT_CERTIFICATE_FILE
    )
    certificate = _certificate(
        path / DATA_DIR / cert_file, expected=meta.next_issuance_time is not None, problems=problems
    )
    return VolumeReport(
        volume_id=meta.volume_id,
        namespace=context.get(f"{POD_PREFIX}namespace", ""),
        pod=context.get(f"{POD_PREFIX}name", ""),
        pod_uid=context.get(f"{POD_PREFIX}uid", ""),
        driver=_driver_of(path, meta),
        target_path=meta.target_path,
        certificate_file=cert_file,
        certificate=certificate,
        next_renewal=meta.next_issuance_time,
        status=status,
        problems=tuple(problems),
    )


def _certificate(path: Path, *, expected: bool, problems: list[str]) -> Certificate | None:
    """The leaf in `path`; a missing file is a problem only once the volume has been issued."""
    try:
        return Certificate.of(parse_pem_chain(path.read_bytes())[0])
    except FileNotFoundError:
        if expected:
            problems.append(f"no certificate file {path.name}")
    except PermissionError:
        problems.append(f"permission denied reading {path.name}")
    except (OSError, ValueError) as err:
        problems.append(f"unreadable certificate {path.name}: {err}")
    return None


def _driver_of(path: Path, meta: Metadata) -> str:
    """The driver's own record (certcsi's driver.json, kubelet's vol_data.json), else a guess from the context."""
    recorded = recorded_owner(path) or kubelet_driver(meta.target_path, meta.volume_id)
    if recorded is not None:
        return recorded
    keys = list(meta.volume_context)
    if any(k.startswith(SPIFFE_PREFIX) for k in keys):
        return "spiffe.csi.cert-manager.io"
    if any(k.startswith(CSI_DRIVER_PREFIX) for k in keys):
        return "csi.cert-manager.io"
    # csi.cert-manager.io volumes always name an issuer; a volume without driver attributes is SPIFFE's.
    return "spiffe.csi.cert-manager.io"


# -- rendering ----------------------------------------------------------------------------------------


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _relative(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    seconds = int((moment - now).total_seconds())
    when = f"in {_span(seconds)}" if seconds >= 0 else f"{_span(-seconds)} ago"
    return f"{rfc3339_nano(moment.replace(microsecond=0))} ({when})"


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(reports: Sequence[VolumeReport], *, now: datetime) -> str:
    """One line per volume, for people; problems and errors clipped (use --json or --pod for all of it)."""
    header = ("POD", "VOLUME", "STATE", "IDENTITY", "NOT AFTER", "NEXT RENEWAL", "LAST ERROR")
    rows = [header]
    for r in reports:
        error = "; ".join(r.problems) or r.last_error or ""
        rows.append(
            (
                f"{r.namespace}/{r.pod}" if r.pod else "-",
                r.volume_id,
                r.state,
                r.certificate.identity if r.certificate else "-",
                _relative(r.certificate.not_after if r.certificate else None, now),
                _relative(r.next_renewal, now),
                _clip(error, 80) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def render_details(report: VolumeReport, *, now: datetime) -> str:
    """Everything about one volume, for `inspect --pod`."""
    cert = report.certificate
    status = report.status or VolumeStatus()
    issuer = status.issuer
    lines = [
        f"Volume:        {report.volume_id}",
        f"Pod:           {report.namespace}/{report.pod} (uid {report.pod_uid or '-'})",
        f"Driver:        {report.driver}",
        f"State:         {report.state}",
        f"Target:        {report.target_path}",
        f"File:          {report.certificate_file}",
        f"Identity:      {cert.identity if cert else '-'}",
        f"Subject:       {cert.subject if cert and cert.subject else '-'}",
        f"DNS names:     {', '.join(cert.dns_names) if cert and cert.dns_names else '-'}",
        f"IP addresses:  {', '.join(cert.ip_addresses) if cert and cert.ip_addresses else '-'}",
        f"URIs:          {', '.join(cert.uris) if cert and cert.uris else '-'}",
        f"Emails:        {', '.join(cert.emails) if cert and cert.emails else '-'}",
        f"Not before:    {_relative(cert.not_before if cert else None, now)}",
        f"Not after:     {_relative(cert.not_after if cert else None, now)}",
        f"Next renewal:  {_relative(report.next_renewal, now)}",
        f"Request:       {status.request_name or '-'}",
        f"Issuer:        {f'{issuer.kind} {issuer.name} ({issuer.group})' if issuer else '-'}",
        f"Failures:      {status.failures}",
        f"Last error:    {status.last_error or '-'}",
        f"Last error at: {_relative(status.last_error_time, now)}",
    ]
    lines += [f"Problem:       {problem}" for problem in report.problems]
    return "\n".join(lines)


def render_json(reports: Sequence[VolumeReport]) -> str:
    return json.dumps([r.to_dict() for r in reports], indent=2)


# -- the command --------------------------------------------------------------------------------------


def parse_pod(text: str) -> tuple[str, str]:
    """`NAMESPACE/NAME`; ValueError naming the rule."""
    namespace, sep, name = text.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise ValueError(f"want NAMESPACE/NAME, got {text!r}")
    return namespace, name


def run(
    *,
    data_root: Path,
    as_json: bool,
    pod: tuple[str, str] | None,
    out: TextIO,
    err: TextIO,
    now: datetime | None = None,
) -> int:
    """Print the report; the exit code: 0, or 1 when the root is unreadable, a volume has a problem,
    or `pod` has no volume here."""
    try:
        reports = scan(data_root)
    except DataRootError as problem:
        print(f"certcsi inspect: {problem}", file=err)
        return 1
    if pod is not None:
        reports = [r for r in reports if (r.namespace, r.pod) == pod]
    moment = now or datetime.now(UTC)
    if as_json:
        print(render_json(reports), file=out)
    elif pod is not None:
        print("\n\n".join(render_details(r, now=moment) for r in reports), file=out)
    elif reports:
        print(render_table(reports, now=moment), file=out)
    else:
        print(f"no volumes in {Path(data_root) / INMEMFS}", file=out)
    if pod is not None and not reports:
        print(f"certcsi inspect: no volume of pod {pod[0]}/{pod[1]} in {Path(data_root) / INMEMFS}", file=err)
        return 1
    return 1 if any(r.problems for r in reports) else 0
