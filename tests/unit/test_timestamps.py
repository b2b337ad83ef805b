"""RFC 3339 as metav1.Time, metav1.MicroTime and Go's RFC3339Nano write it; naive datetimes refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from certcsi.timestamps import parse_rfc3339, rfc3339, rfc3339_micro, rfc3339_nano

MOMENT = datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=timezone(timedelta(hours=2)))


def test_each_form_in_utc() -> None:
    assert rfc3339(MOMENT) == "2026-01-02T01:04:05Z"
    assert rfc3339_micro(MOMENT) == "2026-01-02T01:04:05.120000Z"
    assert rfc3339_nano(MOMENT) == "2026-01-02T01:04:05.12Z"
    assert rfc3339_nano(MOMENT.replace(microsecond=0)) == "2026-01-02T01:04:05Z"


def test_go_zero_time_keeps_its_four_digit_year() -> None:
    zero = datetime(1, 1, 1, tzinfo=UTC)
    assert rfc3339(zero) == "0001-01-01T00:00:00Z"
    assert rfc3339_nano(zero) == "0001-01-01T00:00:00Z"


def test_every_form_reads_back() -> None:
    assert parse_rfc3339(rfc3339(MOMENT)) == MOMENT.replace(microsecond=0)
    assert parse_rfc3339(rfc3339_micro(MOMENT)) == MOMENT
    assert parse_rfc3339(rfc3339_nano(MOMENT)) == MOMENT


@pytest.mark.parametrize("form", [rfc3339, rfc3339_micro, rfc3339_nano])
def test_a_naive_datetime_is_refused(form: object) -> None:
    assert callable(form)
    with pytest.raises(ValueError, match="timezone-aware"):
        form(datetime(2026, 1, 2))
