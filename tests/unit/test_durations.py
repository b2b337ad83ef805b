"""Go duration strings: parse like time.ParseDuration, format like Duration.String()."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certcsi.durations import format_go_duration, parse_go_duration

US = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", timedelta(0)),
        ("+0", timedelta(0)),
        ("-0", timedelta(0)),
        ("0s", timedelta(0)),
        ("5s", timedelta(seconds=5)),
        ("1h30m", timedelta(minutes=90)),
        ("2160h", timedelta(days=90)),
        ("720h", timedelta(days=30)),
        ("-1.5h", timedelta(minutes=-90)),
        ("+1.5h", timedelta(minutes=90)),
        (".5s", timedelta(milliseconds=500)),
        ("1.s", timedelta(seconds=1)),
        ("1.0s", timedelta(seconds=1)),
        ("100ms", timedelta(milliseconds=100)),
        ("1us", US),
        ("1\u00b5s", US),  # micro sign
        ("1\u03bcs", US),  # Greek mu
        ("1000ns", US),
        ("1h1m1s1ms1us", timedelta(hours=1, minutes=1, seconds=1, milliseconds=1, microseconds=1)),
        ("3h3h", timedelta(hours=6)),
        ("1m0.5s", timedelta(minutes=1, milliseconds=500)),
        # Go's float64 fraction arithmetic, vector from Go's own tests: 49m48s372539827ns.
        ("0.830103483285477580700h", timedelta(minutes=49, seconds=48, microseconds=372539)),
        ("0.100000000000000000000h", timedelta(minutes=6)),
        ("9223372036854775807ns", timedelta(microseconds=9223372036854775)),
        ("-9223372036854775808ns", timedelta(microseconds=-9223372036854775)),
    ],
)
def test_parse_valid(text: str, expected: timedelta) -> None:
    assert parse_go_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1ns", timedelta(0)),
        ("1999ns", US),
        ("-1999ns", -US),  # toward zero, not floor
    ],
)
def test_parse_truncates_below_a_microsecond_toward_zero(text: str, expected: timedelta) -> None:
    assert parse_go_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("h", 'time: invalid duration "h"'),
        ("-", 'time: invalid duration "-"'),
        ("+", 'time: invalid duration "+"'),
        (".", 'time: invalid duration "."'),
        (".s", 'time: invalid duration ".s"'),
        ("-.s", 'time: invalid duration "-.s"'),
        (" 1s", 'time: invalid duration " 1s"'),
        ("1s ", 'time: unknown unit "s " in duration "1s "'),
        ("1", 'time: missing unit in duration "1"'),
        ("1h2", 'time: missing unit in duration "1h2"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("1H", 'time: unknown unit "H" in duration "1H"'),
        ("1\u00b5x", 'time: unknown unit "\\xc2\\xb5x" in duration "1\\xc2\\xb5x"'),
        ('1"s', 'time: unknown unit "\\"s" in duration "1\\"s"'),
        ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
        ("3000000h", 'time: invalid duration "3000000h"'),
        ("99999999999999999999s", 'time: invalid duration "99999999999999999999s"'),
    ],
)
def test_parse_invalid_matches_go_message(text: str, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_go_duration(text)
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(0), "0s"),
        (US, "1\u00b5s"),
        (timedelta(microseconds=1100), "1.1ms"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(seconds=2.2), "2.2s"),
        (timedelta(minutes=3, seconds=3), "3m3s"),
        (timedelta(minutes=4, seconds=5, milliseconds=1), "4m5.001s"),
        (timedelta(hours=5, minutes=6, seconds=7, milliseconds=1), "5h6m7.001s"),
        (timedelta(minutes=8, microseconds=1), "8m0.000001s"),
        (timedelta(hours=1), "1h0m0s"),
        (timedelta(days=1), "24h0m0s"),
        (timedelta(days=90), "2160h0m0s"),
        (timedelta(minutes=-90), "-1h30m0s"),
        (-US, "-1\u00b5s"),
        (timedelta(seconds=-1.5), "-1.5s"),
    ],
)
def test_format(td: timedelta, text: str) -> None:
    assert format_go_duration(td) == text


# Go's Duration is an int64 of nanoseconds: about ±292 years.
_GO_RANGE_US = 9223372036854775


@given(st.integers(min_value=-_GO_RANGE_US, max_value=_GO_RANGE_US))
def test_format_then_parse_round_trips(micros: int) -> None:
    td = timedelta(microseconds=micros)
    assert parse_go_duration(format_go_duration(td)) == td
