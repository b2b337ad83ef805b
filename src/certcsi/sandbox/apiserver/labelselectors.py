"""Label selectors (`a=b,c!=d,e in (f,g),!h,i>3`) lexed and parsed as apimachinery's labels.Parse does,
so that a bad one gets kube-apiserver's own words: `unable to parse requirement: found '=', expected:
identifier`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from certcsi.sandbox.apiserver import names
from certcsi.sandbox.apiserver.errors import bad_request


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("gt", "lt"):
            if not present or value is None or not _is_int(value):
                return False
            bound = int(next(iter(self.values)))
            return int(value) > bound if self.op == "gt" else int(value) < bound
        return not present or value not in self.values  # "!=" and "notin" match absent keys


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit() and text.isascii()


class Token(Enum):
    ERROR = "error"
    END = "end of string"
    CLOSE = ")"
    COMMA = ","
    NOT = "!"
    DOUBLE_EQUALS = "=="
    EQUALS = "="
    GREATER = ">"
    IDENTIFIER = "identifier"
    IN = "in"
    LESS = "<"
    NOT_EQUALS = "!="
    NOT_IN = "notin"
    OPEN = "("


_SYMBOLS = {
    t.value: t
    for t in (
        Token.CLOSE,
        Token.COMMA,
        Token.NOT,
        Token.DOUBLE_EQUALS,
        Token.EQUALS,
        Token.GREATER,
        Token.LESS,
        Token.NOT_EQUALS,
        Token.OPEN,
    )
}
_KEYWORDS = {"in": Token.IN, "notin": Token.NOT_IN}
_SPECIAL = frozenset("=!(),><")
_OPERATORS = {
    Token.IN: "in",
    Token.NOT_IN: "notin",
    Token.EQUALS: "=",
    Token.DOUBLE_EQUALS: "=",
    Token.NOT_EQUALS: "!=",
    Token.GREATER: "gt",
    Token.LESS: "lt",
}
_BINARY = "in, notin, =, ==, !=, gt, lt"


def _lex(text: str) -> list[tuple[Token, str]]:
    items: list[tuple[Token, str]] = []
    i = 0
    while True:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i >= len(text):
            items.append((Token.END, ""))
            return items
        if text[i] in _SPECIAL:
            buffer, last, end = "", None, i
            while i < len(text) and text[i] in _SPECIAL:
                buffer += text[i]
                if buffer in _SYMBOLS:
                    last, end = (_SYMBOLS[buffer], buffer), i + 1
                elif last is not None:
                    break
                i += 1
            if last is None:
                items.append((Token.ERROR, f"error expected: keyword found '{buffer}'"))
                items.append((Token.END, ""))
                return items
            items.append(last)
            i = end
            continue
        start = i
        while i < len(text) and text[i] not in _SPECIAL and text[i] not in " \t\r\n":
            i += 1
        word = text[start:i]
        items.append((_KEYWORDS.get(word, Token.IDENTIFIER), word))


class _Parser:
    def __init__(self, text: str) -> None:
        self._items = _lex(text)
        self._at = 0

    def _look(self, values: bool) -> tuple[Token, str]:
        token, literal = self._items[self._at]
        if values and token in (Token.IN, Token.NOT_IN):
            token = Token.IDENTIFIER  # "in" and "notin" are plain words where values are expected
        return token, literal

    def _take(self, values: bool) -> tuple[Token, str]:
        found = self._look(values)
        if self._at < len(self._items) - 1:
            self._at += 1
        return found

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token, literal = self._look(values=True)
            if token in (Token.IDENTIFIER, Token.NOT):
                try:
                    requirements.append(self._requirement())
                except ValueError as exc:
                    raise ValueError(f"unable to parse requirement: {exc}") from None
                token, literal = self._take(values=True)
                if token is Token.END:
                    return requirements
                if token is Token.COMMA:
                    following, follow_literal = self._look(values=True)
                    if following not in (Token.IDENTIFIER, Token.NOT):
                        raise ValueError(f"found '{follow_literal}', expected: identifier after ','")
                    continue
                raise ValueError(f"found '{literal}', expected: ',' or 'end of string'")
            if token is Token.END:
                return requirements
            raise ValueError(f"found '{literal}', expected: !, identifier, or 'end of string'")

    def _requirement(self) -> Requirement:
        key, op = self._key_and_operator()
        if op in ("exists", "!"):
            return Requirement(key, op)
        op = self._operator()
        values = self._values() if op in ("in", "notin") else self._exact()
        return _checked(key, op, values)

    def _key_and_operator(self) -> tuple[str, str]:
        token, literal = self._take(values=True)
        op = ""
        if token is Token.NOT:
            op = "!"
            token, literal = self._take(values=True)
        if token is not Token.IDENTIFIER:
            raise ValueError(f"found '{literal}', expected: identifier")
        if problems := names.qualified_name(literal):
            raise ValueError(f'key: Invalid value: "{literal}": {"; ".join(problems)}')
        following, _ = self._look(values=True)
        if following in (Token.END, Token.COMMA) and op != "!":
            op = "exists"
        return literal, op

    def _operator(self) -> str:
        token, literal = self._take(values=False)
        if token in _OPERATORS:
            return _OPERATORS[token]
        raise ValueError(f"found '{literal}', expected: {_BINARY}")

    def _values(self) -> list[str]:
        token, literal = self._take(values=True)
        if token is not Token.OPEN:
            raise ValueError(f"found '{literal}' expected: '('")
        token, literal = self._look(values=True)
        if token is Token.CLOSE:
            self._take(values=True)
            return []
        if token not in (Token.IDENTIFIER, Token.COMMA):
            raise ValueError(f"found '{literal}', expected: ',', ')' or identifier")
        values = self._identifiers()
        token, literal = self._take(values=True)
        if token is not Token.CLOSE:
            raise ValueError(f"found '{literal}', expected: ')'")
        return values

    def _identifiers(self) -> list[str]:
        values: set[str] = set()
        while True:
            token, literal = self._take(values=True)
            if token is Token.IDENTIFIER:
                values.add(literal)
                following, follow_literal = self._look(values=True)
                if following is Token.CLOSE:
                    return sorted(values)
                if following is not Token.COMMA:
                    raise ValueError(f"found '{follow_literal}', expected: ',' or ')'")
            elif token is Token.COMMA:
                # "(,", ",)" and ",," each stand for an empty value.
                if not values:
                    values.add("")
                following, _ = self._look(values=True)
                if following is Token.CLOSE:
                    values.add("")
                    return sorted(values)
                if following is Token.COMMA:
                    self._take(values=True)
                    values.add("")
            else:
                raise ValueError(f"found '{literal}', expected: ',', or identifier")

    def _exact(self) -> list[str]:
        token, _ = self._look(values=True)
        if token in (Token.END, Token.COMMA):
            return [""]
        token, literal = self._take(values=True)
        if token is Token.IDENTIFIER:
            return [literal]
        raise ValueError(f"found '{literal}', expected: identifier")


def _checked(key: str, op: str, values: list[str]) -> Requirement:
    """NewRequirement: the values the operator needs, each a valid label value."""
    if op in ("in", "notin") and not values:
        raise ValueError("for 'in', 'notin' operators, values set can't be empty")
    if op in ("=", "!=") and len(values) != 1:
        raise ValueError("exact-match compatibility requires one single value")
    if op in ("gt", "lt") and (len(values) != 1 or not _is_int(values[0])):
        raise ValueError("for 'Gt', 'Lt' operators, the value must be an integer")
    for value in values:
        if problems := names.label_value(value):
            raise ValueError(f'values[0][{key}]: Invalid value: "{value}": {"; ".join(problems)}')
    return Requirement(key, op, frozenset(values))


def parse(text: str | None) -> tuple[Requirement, ...]:
    """A label selector; 400 BadRequest with labels.Parse's message when it is not one."""
    if not text:
        return ()
    try:
        return tuple(_Parser(text).parse())
    except ValueError as exc:
        raise bad_request(str(exc)) from None
