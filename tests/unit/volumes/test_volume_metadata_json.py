"""metadata.json is byte-for-byte what csi-lib writes, and reads back what either writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from certcsi.timestamps import parse_rfc3339, rfc3339_nano
from certcsi.volumes.store import Metadata

GOLDEN = (
    '{"volumeID":"vol-id","targetPath":"/target-path","nextIssuanceTime":"1970-01-03T00:00:00Z",'
    '"volumeContext":{"csi.cert-manager.io/issuer-name":"ca-issuer"}}'
)


def test_golden_upstream_string() -> None:
    meta = Metadata(
        volume_id="vol-id",
        target_path="/target-path",
        next_issuance_time=datetime(1970, 1, 3, tzinfo=UTC),
        volume_context={"csi.cert-manager.io/issuer-name": "ca-issuer"},
    )
    assert meta.to_json() == GOLDEN


def test_golden_parses_back_to_the_same_value() -> None:
    meta = Metadata.from_json(GOLDEN)
    assert meta.volume_id == "vol-id"
    assert meta.next_issuance_time == datetime(1970, 1, 3, tzinfo=UTC)
    assert meta.to_json() == GOLDEN


def test_empty_fields_are_omitted() -> None:
    assert Metadata(volume_id="v", target_path="/t").to_json() == '{"volumeID":"v","targetPath":"/t"}'


def test_volume_mount_group_comes_last() -> None:
    meta = Metadata(volume_id="v", target_path="/t", volume_context={"a": "b"}, volume_mount_group="2000")
    assert meta.to_json() == '{"volumeID":"v","targetPath":"/t","volumeContext":{"a":"b"},"volumeMountGroup":"2000"}'


def test_context_keys_sorted_like_go_maps() -> None:
    meta = Metadata(volume_id="v", target_path="/t", volume_context={"b": "2", "a": "1", "c": "3"})
    assert meta.to_json().endswith('"volumeContext":{"a":"1","b":"2","c":"3"}}')


def test_html_characters_escaped_like_go_and_unicode_kept_raw() -> None:
    meta = Metadata(volume_id="v", target_path="/t", volume_context={"k": "<a&b>\u2028é"})
    assert meta.to_json().endswith('"k":"\\u003ca\\u0026b\\u003e\\u2028é"}}')
    assert Metadata.from_json(meta.to_json()).volume_context["k"] == "<a&b>\u2028é"


def test_fractional_seconds_like_go_rfc3339nano() -> None:
    t = datetime(2024, 5, 1, 10, 0, 0, 120000, tzinfo=UTC)
    assert rfc3339_nano(t) == "2024-05-01T10:00:00.12Z"


def test_non_utc_time_written_in_utc() -> None:
    t = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339_nano(t) == "2024-05-01T10:00:00Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1970-01-03T00:00:00Z", datetime(1970, 1, 3, tzinfo=UTC)),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00.123456789Z", datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-01T10:00:00-00:30", datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),
    ],
)
def test_parse_rfc3339(text: str, expected: datetime) -> None:
    assert parse_rfc3339(text) == expected


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="next_issuance_time"):
        Metadata(volume_id="v", target_path="/t", next_issuance_time=datetime(2024, 1, 1))


def test_volume_context_is_frozen_copy() -> None:
    ctx = {"a": "1"}
    meta = Metadata(volume_id="v", target_path="/t", volume_context=ctx)
    ctx["a"] = "changed"
    assert meta.volume_context["a"] == "1"
    with pytest.raises(TypeError):
        meta.volume_context["a"] = "x"  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[]", "JSON object"),
        ('{"targetPath":"/t"}', "volumeID"),
        ('{"volumeID":"v","targetPath":3}', "targetPath"),
        ('{"volumeID":"v","nextIssuanceTime":"yesterday"}', "RFC 3339"),
        ('{"volumeID":"v","nextIssuanceTime":5}', "nextIssuanceTime"),
        ('{"volumeID":"v","volumeContext":{"a":1}}', "volumeContext"),
        ('{"volumeID":"v","volumeMountGroup":2000}', "volumeMountGroup"),
    ],
)
def test_malformed_metadata_names_the_key(text: str, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        Metadata.from_json(text)


def test_torn_file_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Metadata.from_json(GOLDEN[:40])
