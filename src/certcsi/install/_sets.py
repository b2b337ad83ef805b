"""Helm's `--set` syntax: `a.b=v`, several pairs per flag (`a=1,b=2`), `\\.` / `\\,` escapes,
list indexes (`tolerations[0].operator=Exists`), lists (`{a,b}`) and `null`.

Scalars stay raw text (`Raw`) until the value tree knows the key's type: `--set image.tag=1` is the
string "1" while `--set app.logLevel=1` is the number 1, which is what a user typing it means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from certcsi.install._errors import ValuesError

Segment = str | int
_INDEXES = re.compile(r"\[(\d+)\]")
_SEGMENT = re.compile(r"^(?P<name>.*?)(?P<indexes>(?:\[\d+\])*)$", re.DOTALL)
_MAX_INDEX = 1024  # `tolerations[99999]=x` would otherwise allocate a huge list of nulls


@dataclass(frozen=True)
class Raw:
    """A scalar typed on the command line; its type is decided by the key it lands on."""

    text: str


@dataclass(frozen=True)
class Assignment:
    """One `key=value` of a `--set` flag, the key split into map keys and list indexes."""

    flag: str
    path: tuple[Segment, ...]
    value: Any  # Raw, None (null) or a list of those


def parse_set(flag: str) -> list[Assignment]:
    """Every assignment in one `--set` argument, in order."""
    assignments = []
    for pair in _split(flag, ",", braces=True):
        if not pair:
            continue
        cut = _find_unescaped(pair, "=")
        if cut < 0:
            raise ValuesError(f"--set {pair!r}: expected key=value")
        key, text = pair[:cut], pair[cut + 1 :]
        assignments.append(Assignment(flag=key, path=_parse_key(key), value=_parse_value(text)))
    return assignments


def apply(tree: dict[str, Any], assignment: Assignment) -> None:
    """Write `assignment` into `tree`, creating maps and lists on the way like Helm does."""
    node: Any = tree
    path = assignment.path
    for position, segment in enumerate(path):
        if isinstance(segment, int):
            node.extend([None] * (segment + 1 - len(node)))
        if position == len(path) - 1:
            node[segment] = assignment.value
            return
        wants_list = isinstance(path[position + 1], int)
        child = node[segment] if isinstance(segment, int) else node.get(segment)
        # A scalar (or the other kind of container) in the way is replaced, as Helm does.
        if not isinstance(child, list if wants_list else dict):
            child = [] if wants_list else {}
            node[segment] = child
        node = child


def _parse_key(key: str) -> tuple[Segment, ...]:
    path: list[Segment] = []
    for part in _split(key, "."):
        match = _SEGMENT.match(part)
        if match is None or not match["name"]:
            raise ValuesError(f"--set {key!r}: empty key segment")
        path.append(_unescape(match["name"]))
        for index in _INDEXES.findall(match["indexes"]):
            if int(index) > _MAX_INDEX:
                raise ValuesError(f"--set {key!r}: list index {index} is larger than {_MAX_INDEX}")
            path.append(int(index))
    return tuple(path)


def _parse_value(text: str) -> Any:
    if text.startswith("{") and text.endswith("}"):
        inner = text[1:-1]
        return [_scalar(item) for item in _split(inner, ",")] if inner else []
    return _scalar(text)


def _scalar(text: str) -> Raw | None:
    return None if text == "null" else Raw(_unescape(text))


def _find_unescaped(text: str, char: str) -> int:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == char:
            return i
        i += 1
    return -1


def _split(text: str, sep: str, *, braces: bool = False) -> list[str]:
    """Split on `sep` unless escaped (or, with `braces`, inside `{...}`); escapes are kept."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if braces and char in "{}":
            depth = depth + 1 if char == "{" else max(0, depth - 1)
        if char == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)
