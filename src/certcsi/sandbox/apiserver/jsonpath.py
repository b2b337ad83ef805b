"""The part of Kubernetes' JSONPath that CRD printer columns use: `.a.b`, `['a']`, `[0]`, `[*]` and
filters `[?(@.type == "Ready")]` (== and !=, on a string, number or boolean)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

_FILTER = re.compile(r"^\?\(@((?:\.[A-Za-z0-9_\-]+)+)\s*(==|!=)\s*(.+)\)$")


class JsonPathError(ValueError):
    """The expression is not one this evaluator reads."""


def _steps(expression: str) -> Iterator[tuple[str, Any]]:
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    i = 0
    while i < len(text):
        char = text[i]
        if char == ".":
            match = re.match(r"\.([A-Za-z0-9_\-/]+)", text[i:])
            if match is None:
                raise JsonPathError(f"unexpected text at {i}: {text[i:]!r}")
            yield "field", match.group(1)
            i += match.end()
        elif char == "[":
            end = _closing(text, i)
            inner = text[i + 1 : end].strip()
            i = end + 1
            if inner == "*":
                yield "all", None
            elif re.fullmatch(r"-?\d+", inner):
                yield "index", int(inner)
            elif inner[:1] in ("'", '"') and inner[-1:] == inner[:1]:
                yield "field", inner[1:-1]
            elif (found := _FILTER.match(inner)) is not None:
                path, op, literal = found.groups()
                yield "filter", (path.strip(".").split("."), op, _literal(literal.strip()))
            else:
                raise JsonPathError(f"unsupported subscript {inner!r}")
        else:
            raise JsonPathError(f"unexpected text at {i}: {text[i:]!r}")


def _closing(text: str, start: int) -> int:
    depth, quote = 0, ""
    for j in range(start, len(text)):
        char = text[j]
        if quote:
            if char == quote:
                quote = ""
        elif char in ("'", '"'):
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return j
    raise JsonPathError("unclosed [")


def _literal(text: str) -> Any:
    if text[:1] in ("'", '"') and text[-1:] == text[:1]:
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        raise JsonPathError(f"unsupported literal {text!r}") from None


def _get(value: Any, path: list[str]) -> Any:
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def find(obj: Any, expression: str) -> list[Any]:
    """Every value `expression` selects in `obj`, in order; [] when nothing matches."""
    current = [obj]
    for step, arg in _steps(expression):
        following: list[Any] = []
        for value in current:
            if (step == "field" and isinstance(value, dict) and arg in value) or (
                step == "index" and isinstance(value, list) and -len(value) <= arg < len(value)
            ):
                following.append(value[arg])
            elif step == "all" and isinstance(value, list):
                following.extend(value)
            elif step == "all" and isinstance(value, dict):
                following.extend(value.values())
            elif step == "filter" and isinstance(value, list):
                path, op, wanted = arg
                following.extend(item for item in value if (_get(item, path) == wanted) == (op == "=="))
        current = following
    return current
