"""Prometheus' text format as a scraper reads it, for tests that compare a /metrics page with a reference list.

found = families(text)
found["certmanager_csi_issue_requests_total"].type == "counter"
mismatches(found, EXPECTED) == []
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

# A histogram's or summary's samples carry these after the family name (the family's own labels exclude `le`).
_SUFFIXES = ("_bucket", "_sum", "_count", "_created")


@dataclass(frozen=True)
class Family:
    """One family under the name it is exposed as (counters keep `_total`)."""

    type: str
    help: str
    labels: frozenset[str]
    samples: list[Sample] = field(default_factory=list)


@dataclass(frozen=True)
class Expected:
    type: str
    labels: frozenset[str]
    help: str | None = None  # None: not compared


def expected(type_: str, labels: str = "", help_text: str | None = None) -> Expected:
    return Expected(type_, frozenset(labels.split()), help_text)


def families(text: str) -> dict[str, Family]:
    """Every family of `text` by exposed name, with the union of its samples' label names."""
    types: dict[str, str] = {}
    helps: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 4 or parts[0] != "#":
            continue
        if parts[1] == "TYPE":
            types[parts[2]] = parts[3]
        elif parts[1] == "HELP":  # the text format escapes backslashes and newlines in help texts
            helps[parts[2]] = parts[3].replace("\\n", "\n").replace("\\\\", "\\")
    samples: dict[str, list[Sample]] = {name: [] for name in types}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[_exposed_name(sample.name, types)].append(sample)
    return {
        name: Family(
            type=types[name],
            help=helps.get(name, ""),
            labels=frozenset(label for s in samples[name] for label in s.labels if label != "le"),
            samples=samples[name],
        )
        for name in types
    }


def _exposed_name(sample: str, types: Mapping[str, str]) -> str:
    if sample in types:
        return sample
    for suffix in _SUFFIXES:
        base = sample[: -len(suffix)]
        if sample.endswith(suffix):
            # A counter's `_created` hangs off the name without `_total`.
            for name in (base, f"{base}_total"):
                if name in types:
                    return name
    raise AssertionError(f"sample {sample} belongs to no family with a # TYPE line")


def mismatches(found: Mapping[str, Family], wanted: Mapping[str, Expected]) -> list[str]:
    """What differs from `wanted` (missing families, other types, label names or help texts)."""
    problems = []
    for name, want in wanted.items():
        got = found.get(name)
        if got is None:
            problems.append(f"{name}: missing")
            continue
        if got.type != want.type:
            problems.append(f"{name}: type {got.type}, want {want.type}")
        if got.samples and got.labels != want.labels:
            problems.append(f"{name}: labels {sorted(got.labels)}, want {sorted(want.labels)}")
        if want.help is not None and got.help != want.help:
            problems.append(f"{name}: help {got.help!r}, want {want.help!r}")
    return problems


def created_series(found: Mapping[str, Family]) -> list[str]:
    """Every `*_created` sample (Go's client exposes none; neither should we)."""
    return [s.name for family in found.values() for s in family.samples if s.name.endswith("_created")]
