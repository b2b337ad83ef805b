"""A volume's X.509-SVID and trust bundle, read from what the driver published in it.

The files are read through one open `..data` directory, so the certificate, key and CA file are
always of one write (never a new certificate with an old key). The trust bundle is, in order:
1. the volume's CA file, when `--source-ca-bundle` is configured (the operator's trust anchors);
2. else `status.ca` of the CertificateRequest that issued the certificate, kept beside the volume's
   metadata (`issuer-ca.pem`, never in the pod's directory) so that a restarted driver still has it;
3. else a self-signed certificate closing the issued chain (an issuer that puts its root there).
With none of these the bundle is unknown: the SPIFFE spec makes it mandatory, so the API answers
with an error saying what to configure rather than sending an SVID nobody could verify.
"""

from __future__ import annotations

import errno
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from certcsi.pki.certs import parse_pem_chain
from certcsi.pki.keys import load_private_key
from certcsi.volumes.store import DATA_LINK, write_atomically

__all__ = [
    "ISSUER_CA_FILE",
    "Credentials",
    "FileNames",
    "Svid",
    "forget_issuer_ca",
    "keep_issuer_ca",
    "read_credentials",
]

log = logging.getLogger(__name__)

# In the volume's own directory (beside metadata.json, 0600, not bind-mounted into the pod).
ISSUER_CA_FILE = "issuer-ca.pem"
NO_BUNDLE = (
    "no trust bundle is known for this volume: the issuer returned no CA (status.ca) and the chain ends "
    "in no self-signed certificate; set --source-ca-bundle on the driver"
)


@dataclass(frozen=True)
class FileNames:
    """The driver's file names (`--file-name-certificate`, `-key`, `-ca`)."""

    certificate: str = "tls.crt"
    key: str = "tls.key"
    ca: str = "ca.crt"


@dataclass(frozen=True)
class Svid:
    """One X.509-SVID as the Workload API sends it: DER chain (leaf first) and PKCS#8 DER key."""

    spiffe_id: str
    chain: bytes
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class Credentials:
    """What a volume holds now. `svid` None: no identity issued yet; `bundle` None: no anchors known."""

    svid: Svid | None = None
    bundle: bytes | None = None
    # Why `svid` or `bundle` is missing, for the status message a client gets.
    problem: str | None = None


def keep_issuer_ca(volume_dir: Path, ca_pem: bytes) -> None:
    """Remember `status.ca` of the issuance just written (an empty one forgets the previous)."""
    if not ca_pem.strip():
        forget_issuer_ca(volume_dir)
        return
    write_atomically(volume_dir, ISSUER_CA_FILE, ca_pem)


def forget_issuer_ca(volume_dir: Path) -> None:
    (volume_dir / ISSUER_CA_FILE).unlink(missing_ok=True)


def read_credentials(*, data_dir: Path, volume_dir: Path, files: FileNames) -> Credentials:
    """The volume's SVID and bundle now; never raises for a missing or unreadable file (see `problem`)."""
    try:
        snapshot = _read_snapshot(data_dir, files)
    except FileNotFoundError:
        return Credentials(problem="no identity has been issued for this volume yet")
    except OSError as err:
        return Credentials(problem=f"the volume's files cannot be read: {os.strerror(err.errno or errno.EIO)}")
    certificate, key, ca = snapshot
    try:
        chain = parse_pem_chain(certificate)
        svid = Svid(spiffe_id=_spiffe_id(chain[0]), chain=b"".join(_der(c) for c in chain), key=_key_der(key))
    except ValueError as err:
        log.warning(
            "the volume's certificate is not an X.509-SVID", extra={"data_dir": str(data_dir), "error": str(err)}
        )
        return Credentials(problem=f"the volume's certificate is not an X.509-SVID: {err}")
    bundle = _bundle(ca, volume_dir=volume_dir, chain=chain)
    return Credentials(svid=svid, bundle=bundle, problem=None if bundle is not None else NO_BUNDLE)


def _read_snapshot(data_dir: Path, files: FileNames) -> tuple[bytes, bytes, bytes | None]:
    directory = os.open(data_dir / DATA_LINK, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        certificate = _read_at(directory, files.certificate)
        key = _read_at(directory, files.key)
        try:
            ca: bytes | None = _read_at(directory, files.ca)
        except FileNotFoundError:
            ca = None
        return certificate, key, ca
    finally:
        os.close(directory)


def _read_at(directory: int, name: str) -> bytes:
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=directory)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _spiffe_id(leaf: x509.Certificate) -> str:
    """The leaf's one `spiffe://` URI SAN (the X509-SVID spec allows exactly one)."""
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise ValueError("the leaf has no URI SAN") from None
    uris = [uri for uri in san.get_values_for_type(x509.UniformResourceIdentifier) if uri.startswith("spiffe://")]
    if len(uris) != 1:
        raise ValueError(f"the leaf must carry exactly one spiffe:// URI SAN, found {len(uris)}")
    return uris[0]


def _key_der(pem: bytes) -> bytes:
    try:
        key = load_private_key(pem)
    except ValueError:
        # The loader's message could quote key material: say only what failed.
        raise ValueError("the private key file does not hold a PEM private key") from None
    return key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())


def _bundle(ca: bytes | None, *, volume_dir: Path, chain: list[x509.Certificate]) -> bytes | None:
    for source in (ca, _read_optional(volume_dir / ISSUER_CA_FILE)):
        if source is None:
            continue
        try:
            return b"".join(_der(c) for c in parse_pem_chain(source))
        except ValueError as err:
            log.warning("ignoring a trust bundle that is not PEM certificates", extra={"error": str(err)})
    top = chain[-1]
    if len(chain) > 1 and top.subject == top.issuer:
        return _der(top)
    return None


def _read_optional(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
