"""Reading what a pod sees in its certificate volume: one consistent file set, a verified key pair."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certcsi.pki.certs import parse_pem_chain
from certcsi.sandbox.demo import openssl_verify
from certcsi.volumes.store import DATA_LINK


def read_snapshot(target: Path, names: tuple[str, ...] = ("tls.crt", "tls.key", "ca.crt")) -> dict[str, bytes]:
    """The files of ONE write: `..data` opened once, every name read relative to it (as a careful reader)."""
    fd = os.open(target / DATA_LINK, os.O_RDONLY | os.O_DIRECTORY)
    try:
        files: dict[str, bytes] = {}
        for name in names:
            file_fd = os.open(name, os.O_RDONLY, dir_fd=fd)
            with os.fdopen(file_fd, "rb") as f:
                files[name] = f.read()
        return files
    finally:
        os.close(fd)


def key_matches_certificate(key_pem: bytes, cert_pem: bytes) -> bool:
    key = serialization.load_pem_private_key(key_pem, password=None, unsafe_skip_rsa_key_validation=True)
    leaf = x509.load_pem_x509_certificate(cert_pem)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(serialization.Encoding.DER, spki) == leaf.public_key().public_bytes(
        serialization.Encoding.DER, spki
    )


def leaf_serial(cert_pem: bytes) -> int:
    return parse_pem_chain(cert_pem)[0].serial_number


@dataclass(frozen=True)
class CheckedPair:
    serial: int
    verify_output: str


def check_pair(target: Path, *, attempts: int = 5) -> CheckedPair:
    """`openssl verify` of the pod's certificate and the key-matches-cert check, on one consistent write.

    The snapshot directory behind `..data` is read by path; a renewal may swap and delete it meanwhile,
    in which case the check is repeated on the new one.
    """
    for _ in range(attempts):
        snapshot = Path(os.path.realpath(target / DATA_LINK))
        try:
            cert, key = (snapshot / "tls.crt").read_bytes(), (snapshot / "tls.key").read_bytes()
            output = openssl_verify(snapshot / "ca.crt", snapshot / "tls.crt")
            if not snapshot.is_dir():
                continue
        except FileNotFoundError:
            continue
        assert output.endswith(": OK"), f"openssl verify {target}: {output}"
        assert key_matches_certificate(key, cert), f"{target}: tls.key does not match tls.crt"
        return CheckedPair(serial=leaf_serial(cert), verify_output=output)
    raise AssertionError(f"{target}: the file set kept changing under {attempts} checks")
