"""The JSONPath of CRD printer columns, and apimachinery's human durations (the Age column)."""

from __future__ import annotations

import pytest

from certcsi.sandbox.apiserver.jsonpath import JsonPathError, find
from certcsi.sandbox.apiserver.printers import human_duration

OBJ = {
    "spec": {"issuerRef": {"name": "ca"}, "list": [1, 2]},
    "status": {"conditions": [{"type": "Approved", "status": "True"}, {"type": "Ready", "status": "False"}]},
}


@pytest.mark.parametrize(
    ("expression", "found"),
    [
        (".spec.issuerRef.name", ["ca"]),
        ('.status.conditions[?(@.type == "Ready")].status', ["False"]),
        (".status.conditions[?(@.type != 'Ready')].type", ["Approved"]),
        (".spec.list[*]", [1, 2]),
        (".spec.list[1]", [2]),
        ("{.spec.missing}", []),
    ],
)
def test_printer_column_paths(expression: str, found: list[object]) -> None:
    assert find(OBJ, expression) == found


def test_an_unsupported_expression_is_an_error() -> None:
    with pytest.raises(JsonPathError):
        find(OBJ, ".spec[?(@.a > 1)]")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (45, "45s"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600, "3h"),
        (5 * 3600 + 60, "5h1m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 3600, "3d1h"),
        (100 * 86400, "100d"),
        (3 * 365 * 86400, "3y"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_durations(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text
