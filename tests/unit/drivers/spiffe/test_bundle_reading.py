"""Reading --source-ca-bundle: errors name the flag and the path; a bad re-read keeps the last good bundle."""

from __future__ import annotations

from pathlib import Path

import pytest
from bundle_support import BUNDLE_A, BUNDLE_B

from certcsi.drivers.spiffe.bundle import CaBundle, read_bundle


def test_a_missing_file_names_the_flag_and_the_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^--source-ca-bundle .*/absent\.crt: cannot read: No such file"):
        read_bundle(tmp_path / "absent.crt")


def test_a_file_without_certificates_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ca.crt"
    path.write_bytes(b"not a certificate\n")
    with pytest.raises(ValueError, match=r"^--source-ca-bundle .*ca\.crt: must hold PEM certificates"):
        read_bundle(path)


def test_load_then_current(tmp_path: Path) -> None:
    path = tmp_path / "ca.crt"
    path.write_bytes(BUNDLE_A + BUNDLE_B)
    bundle = CaBundle(path)
    assert bundle.current() is None
    assert bundle.load() == BUNDLE_A + BUNDLE_B
    assert bundle.current() == BUNDLE_A + BUNDLE_B


def test_refresh_reports_only_a_change_of_bytes(tmp_path: Path) -> None:
    path = tmp_path / "ca.crt"
    path.write_bytes(BUNDLE_A)
    bundle = CaBundle(path)
    bundle.load()
    assert bundle.refresh() is False
    path.write_bytes(BUNDLE_B)
    assert bundle.refresh() is True
    assert bundle.current() == BUNDLE_B


@pytest.mark.parametrize(
    "broken",
    [b"", BUNDLE_B[: len(BUNDLE_B) // 2], None],
    ids=["truncated-to-empty", "half-written", "deleted"],
)
def test_a_half_written_or_missing_file_keeps_the_previous_bundle(tmp_path: Path, broken: bytes | None) -> None:
    path = tmp_path / "ca.crt"
    path.write_bytes(BUNDLE_A)
    bundle = CaBundle(path)
    bundle.load()
    if broken is None:
        path.unlink()
    else:
        path.write_bytes(broken)
    assert bundle.refresh() is False
    assert bundle.current() == BUNDLE_A
