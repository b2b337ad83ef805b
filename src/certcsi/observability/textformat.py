"""Pieces of Prometheus' text exposition format, for families certcsi renders itself (`volume_series`).

prometheus_client writes the HELP and TYPE lines (`family_header`: it owns their escaping) and the
values (`sample_value`, its Go-compatible float format); label values are escaped here as its
`generate_latest` escapes them, once per label set rather than once per sample and scrape.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.utils import floatToGoString

__all__ = ["Families", "family_header", "label_value", "sample_value"]


class Families:
    """A few families as prometheus_client's `generate_latest` takes them (anything with `collect()`)."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def family_header(name: str, documentation: str, kind: Literal["counter", "gauge"]) -> bytes:
    """The family's `# HELP` and `# TYPE` lines, as prometheus_client writes them (a counter's name ends `_total`)."""
    family = CounterMetricFamily(name, documentation) if kind == "counter" else GaugeMetricFamily(name, documentation)
    return generate_latest(Families([family]))


def label_value(value: str) -> str:
    """`value` between a label's double quotes: backslash, newline and double quote escaped."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def sample_value(value: float) -> str:
    """A sample's value as prometheus_client (and Go's client) writes it: `1.0`, `1.7776368e+09`, `+Inf`."""
    text: str = floatToGoString(value)  # type: ignore[no-untyped-call]  # untyped upstream
    return text
