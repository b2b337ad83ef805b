"""status.json: round trip, atomic replacement, and errors that name the key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from certcsi.volumes.driver import IssuerRef
from certcsi.volumes.status import STATUS_FILE, VolumeStatus, read_status, write_status

FULL = VolumeStatus(
    request_name="req-1",
    issuer=IssuerRef(name="ca", kind="ClusterIssuer", group="cert-manager.io"),
    certificate_file="cert.pem",
    not_before=datetime(2026, 1, 1, tzinfo=UTC),
    not_after=datetime(2026, 1, 2, 12, 30, tzinfo=UTC),
    last_error="the approver said no",
    last_error_time=datetime(2026, 1, 1, 6, tzinfo=UTC),
    failures=3,
)


def test_round_trip(tmp_path: Path) -> None:
    write_status(tmp_path, FULL)
    assert read_status(tmp_path) == FULL
    assert [p.name for p in tmp_path.iterdir()] == [STATUS_FILE]  # no temp file left behind


def test_empty_status_is_an_empty_object() -> None:
    assert VolumeStatus().to_json() == "{}"
    assert VolumeStatus.from_json("{}") == VolumeStatus()


def test_missing_file_is_none(tmp_path: Path) -> None:
    assert read_status(tmp_path) is None


def test_a_token_in_an_error_is_scrubbed_before_it_is_written() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    text = VolumeStatus(last_error=f"forbidden for bearer {token}").to_json()
    assert token not in text and "eyJ" not in text


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("[]", "must be a JSON object"),
        ('{"failures": -1}', "failures"),
        ('{"failures": true}', "failures"),
        ('{"notAfter": "yesterday"}', "notAfter"),
        ('{"issuer": {"name": "x"}}', "issuer"),
        ('{"lastError": 7}', "lastError"),
    ],
)
def test_bad_content_names_the_key(raw: str, names: str) -> None:
    with pytest.raises(ValueError, match=names):
        VolumeStatus.from_json(raw)


def test_unreadable_bytes_are_a_value_error(tmp_path: Path) -> None:
    (tmp_path / STATUS_FILE).write_bytes(b"\xff\xfe{")
    with pytest.raises(ValueError):
        read_status(tmp_path)
