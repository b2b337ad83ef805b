"""Where a volume's trust bundle comes from: the CA file, else status.ca kept beside the metadata, else a
self-signed top of the chain; with none, the SVID is not sent and the answer says what to configure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError
from spiffe.utils.certificate_utils import parse_der_certificates
from workload_support import CA_CERT, CA_PEM, issue_files, spiffe_id

from certcsi.drivers.spiffe.workload.reading import (
    ISSUER_CA_FILE,
    Credentials,
    FileNames,
    keep_issuer_ca,
    read_credentials,
)
from certcsi.drivers.spiffe.workload.serving import svid_response
from certcsi.pki.certs import certificate_pem
from certcsi.pki.signing import create_ca
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.owning import Owner
from certcsi.volumes.store import Metadata, Store

SPIFFE_OWNER = Owner("spiffe.csi.cert-manager.io")

OPERATOR_CA = create_ca(common_name="operator")[1]


def _volume(tmp_path: Path, files: dict[str, bytes]) -> Store:
    store = Store(data_root=tmp_path / "root", mounter=FakeMounter(), owner=SPIFFE_OWNER)
    store.open()
    store.write_metadata(Metadata(volume_id="vol", target_path="/t"))
    store.write_files("vol", files, fs_group=None)
    return store


def _credentials(store: Store) -> Credentials:
    return read_credentials(data_dir=store.data_dir("vol"), volume_dir=store.volume_dir("vol"), files=FileNames())


def _read(store: Store) -> bytes | None:
    credentials = _credentials(store)
    assert credentials.svid is not None and credentials.svid.spiffe_id == spiffe_id("vol")
    return credentials.bundle


def test_the_ca_file_wins(tmp_path: Path) -> None:
    store = _volume(tmp_path, issue_files(spiffe_id("vol"), ca=certificate_pem(OPERATOR_CA)).files)
    keep_issuer_ca(store.volume_dir("vol"), CA_PEM)
    assert parse_der_certificates(_read(store) or b"") == [OPERATOR_CA]


def test_status_ca_is_kept_outside_the_pods_directory(tmp_path: Path) -> None:
    store = _volume(tmp_path, issue_files(spiffe_id("vol")).files)
    keep_issuer_ca(store.volume_dir("vol"), CA_PEM)
    assert parse_der_certificates(_read(store) or b"") == [CA_CERT]
    kept = store.volume_dir("vol") / ISSUER_CA_FILE
    assert oct(os.stat(kept).st_mode & 0o777) == "0o600"
    assert ISSUER_CA_FILE not in os.listdir(store.data_dir("vol"))
    # A later issuance without status.ca forgets it: an old CA must not pass for the new one's.
    keep_issuer_ca(store.volume_dir("vol"), b"")
    assert not kept.exists()
    assert _read(store) is None


def test_a_self_signed_top_of_the_chain_is_the_last_resort(tmp_path: Path) -> None:
    files = issue_files(spiffe_id("vol")).files
    files["tls.crt"] += CA_PEM
    store = _volume(tmp_path, files)
    assert parse_der_certificates(_read(store) or b"") == [CA_CERT]


def test_no_bundle_means_no_svid_is_sent_and_the_flag_is_named(tmp_path: Path) -> None:
    store = _volume(tmp_path, issue_files(spiffe_id("vol")).files)
    credentials = _credentials(store)
    assert credentials.svid is not None and credentials.bundle is None
    with pytest.raises(GRPCError) as raised:
        svid_response(credentials)
    assert raised.value.status is Status.UNAVAILABLE
    assert "--source-ca-bundle" in (raised.value.message or "")


def test_a_volume_without_files_has_no_identity(tmp_path: Path) -> None:
    store = Store(data_root=tmp_path / "root", mounter=FakeMounter(), owner=SPIFFE_OWNER)
    store.open()
    store.write_metadata(Metadata(volume_id="vol", target_path="/t"))
    credentials = _credentials(store)
    assert credentials.svid is None and credentials.bundle is None
    with pytest.raises(GRPCError) as raised:
        svid_response(credentials)
    assert raised.value.status is Status.PERMISSION_DENIED


def test_a_certificate_without_a_spiffe_id_is_no_svid(tmp_path: Path) -> None:
    store = _volume(tmp_path, issue_files("https://example.org/not-spiffe").files)
    credentials = _credentials(store)
    assert credentials.svid is None
    assert "exactly one spiffe:// URI SAN" in (credentials.problem or "")
