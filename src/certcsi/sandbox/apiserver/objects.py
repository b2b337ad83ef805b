"""API objects as plain JSON dicts: copying, timestamps and the metadata fields every layer reads."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from certcsi import timestamps

Obj = dict[str, Any]
T = TypeVar("T")


def copy_obj(value: T) -> T:
    """Deep copy of a JSON value; several times faster than copy.deepcopy for API objects."""
    if isinstance(value, dict):
        return cast(T, {k: copy_obj(v) for k, v in value.items()})
    if isinstance(value, list):
        return cast(T, [copy_obj(v) for v in value])
    return value


def rfc3339(moment: float) -> str:
    """A Unix time as metav1.Time writes it: seconds, UTC, `Z`."""
    return _second_rfc3339(math.floor(moment))


@functools.lru_cache(maxsize=8)
def _second_rfc3339(second: int) -> str:
    # Every write stamps the time, several in the same second: formatting costs more than the lookup.
    return timestamps.rfc3339(datetime.fromtimestamp(second, UTC))


def micro_rfc3339(moment: float) -> str:
    """A Unix time as metav1.MicroTime writes it: six fractional digits."""
    return timestamps.rfc3339_micro(datetime.fromtimestamp(moment, UTC))


def now_rfc3339(clock: Callable[[], float] = time.time) -> str:
    return rfc3339(clock())


def parse_time(text: Any) -> float | None:
    """A metav1.Time / MicroTime string as a Unix time; None when absent or unreadable."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def meta(obj: Obj) -> Obj:
    """`metadata` of a stored object (always a dict there)."""
    found: Obj = obj["metadata"]
    return found
