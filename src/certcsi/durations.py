"""Go `time.Duration` strings, as used by cert-manager (`spec.duration`) and by volume attributes.

`parse_go_duration` follows Go's `time.ParseDuration` byte for byte, including its error messages
and its int64 range; `format_go_duration` follows `Duration.String()`. Python's `timedelta` holds
microseconds, so a parsed value is truncated toward zero to the microsecond.
"""

from __future__ import annotations

from datetime import timedelta

_NANOSECOND = 1
_MICROSECOND = 1000 * _NANOSECOND
_MILLISECOND = 1000 * _MICROSECOND
_SECOND = 1000 * _MILLISECOND
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE

_UNITS: dict[str, int] = {
    "ns": _NANOSECOND,
    "us": _MICROSECOND,
    "\u00b5s": _MICROSECOND,  # micro sign, what Go prints
    "\u03bcs": _MICROSECOND,  # Greek small letter mu, also accepted by Go
    "ms": _MILLISECOND,
    "s": _SECOND,
    "m": _MINUTE,
    "h": _HOUR,
}

# Go accumulates into a uint64 and accepts up to 1<<63 only when the result is negated.
_LIMIT = 1 << 63


def _go_quote(text: str) -> str:
    """Quote like Go's time.quote: printable ASCII kept, other bytes as \\xNN."""
    out = ['"']
    for char in text:
        if char < " " or char >= "\x80":
            out.extend(f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogatepass"))
        else:
            if char in '"\\':
                out.append("\\")
            out.append(char)
    out.append('"')
    return "".join(out)


def _invalid(orig: str) -> ValueError:
    return ValueError(f"time: invalid duration {_go_quote(orig)}")


def _leading_int(text: str, orig: str) -> tuple[int, str]:
    value = 0
    i = 0
    while i < len(text) and "0" <= text[i] <= "9":
        value = value * 10 + ord(text[i]) - ord("0")
        if value > _LIMIT:
            raise _invalid(orig)
        i += 1
    return value, text[i:]


def _leading_fraction(text: str) -> tuple[int, float, str]:
    """Digits after the point; extra precision beyond int64 is dropped, as Go does."""
    value = 0
    scale = 1.0
    overflow = False
    i = 0
    while i < len(text) and "0" <= text[i] <= "9":
        if not overflow:
            candidate = value * 10 + ord(text[i]) - ord("0")
            if value > (_LIMIT - 1) // 10 or candidate > _LIMIT:
                overflow = True
            else:
                value = candidate
                scale *= 10
        i += 1
    return value, scale, text[i:]


def _parse_nanoseconds(orig: str) -> int:
    text = orig
    negative = False
    if text and text[0] in "+-":
        negative = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise _invalid(orig)
    total = 0
    while text:
        if not (text[0] == "." or "0" <= text[0] <= "9"):
            raise _invalid(orig)
        before = len(text)
        whole, text = _leading_int(text, orig)
        has_whole = len(text) != before
        frac, scale, has_frac = 0, 1.0, False
        if text.startswith("."):
            text = text[1:]
            before = len(text)
            frac, scale, text = _leading_fraction(text)
            has_frac = len(text) != before
        if not has_whole and not has_frac:
            raise _invalid(orig)
        end = 0
        while end < len(text) and not (text[end] == "." or "0" <= text[end] <= "9"):
            end += 1
        if end == 0:
            raise ValueError(f"time: missing unit in duration {_go_quote(orig)}")
        unit_name, text = text[:end], text[end:]
        unit = _UNITS.get(unit_name)
        if unit is None:
            raise ValueError(f"time: unknown unit {_go_quote(unit_name)} in duration {_go_quote(orig)}")
        if whole > _LIMIT // unit:
            raise _invalid(orig)
        value = whole * unit
        if frac > 0:
            # Go uses float64 here (exact to the nanosecond for fractions of an hour); so do we.
            value += int(float(frac) * (float(unit) / scale))
            if value > _LIMIT:
                raise _invalid(orig)
        total += value
        if total > _LIMIT:
            raise _invalid(orig)
    if negative:
        return -total
    if total > _LIMIT - 1:
        raise _invalid(orig)
    return total


def parse_go_duration(text: str) -> timedelta:
    """Parse a Go duration string ("2160h", "1h30m", "-1.5h", ".5s", "0").

    Raises ValueError with Go's own message (`time: invalid duration "1d"` and its relatives
    `time: missing unit in duration ...` / `time: unknown unit ... in duration ...`).
    Negative durations parse; callers decide whether they make sense.
    """
    nanoseconds = _parse_nanoseconds(text)
    micros = abs(nanoseconds) // _MICROSECOND
    return timedelta(microseconds=-micros if nanoseconds < 0 else micros)


def _format_fraction(value: int, precision: int) -> tuple[str, int]:
    """The fraction value / 10**precision as ".123" without trailing zeros, and the whole part."""
    whole, frac = divmod(value, 10**precision)
    if frac == 0:
        return "", whole
    digits = f"{frac:0{precision}d}".rstrip("0")
    return "." + digits, whole


def format_go_duration(td: timedelta) -> str:
    """Render like Go's Duration.String(): "2160h0m0s", "1h0m0s", "1.5s", "1.5ms", "0s"."""
    nanoseconds = (td // timedelta(microseconds=1)) * _MICROSECOND
    sign = "-" if nanoseconds < 0 else ""
    u = abs(nanoseconds)
    if u == 0:
        return "0s"
    if u < _SECOND:
        if u < _MICROSECOND:
            return f"{sign}{u}ns"
        if u < _MILLISECOND:
            frac, whole = _format_fraction(u, 3)
            return f"{sign}{whole}{frac}\u00b5s"
        frac, whole = _format_fraction(u, 6)
        return f"{sign}{whole}{frac}ms"
    frac, seconds = _format_fraction(u, 9)
    minutes, seconds = divmod(seconds, 60)
    if minutes == 0:
        return f"{sign}{seconds}{frac}s"
    hours, minutes = divmod(minutes, 60)
    if hours == 0:
        return f"{sign}{minutes}m{seconds}{frac}s"
    return f"{sign}{hours}h{minutes}m{seconds}{frac}s"
