"""Label selectors: what labels.Parse accepts and how its requirements match."""

from __future__ import annotations

import pytest

from certcsi.sandbox.apiserver.errors import ApiError
from certcsi.sandbox.apiserver.labelselectors import Requirement, parse


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("a=b", (Requirement("a", "=", frozenset({"b"})),)),
        ("a==b,c!=d", (Requirement("a", "=", frozenset({"b"})), Requirement("c", "!=", frozenset({"d"})))),
        (
            "x in (a, b),y notin (c)",
            (Requirement("x", "in", frozenset({"a", "b"})), Requirement("y", "notin", frozenset({"c"}))),
        ),
        ("a,!b", (Requirement("a", "exists"), Requirement("b", "!"))),
        ("example.com/k=", (Requirement("example.com/k", "=", frozenset({""})),)),
        ("n>3", (Requirement("n", "gt", frozenset({"3"})),)),
        ("in=notin", (Requirement("in", "=", frozenset({"notin"})),)),
        ("  ", ()),
    ],
)
def test_selectors_parse(text: str, parsed: tuple[Requirement, ...]) -> None:
    assert parse(text) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a===b", "unable to parse requirement: found '=', expected: identifier"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
        ("x in a", "unable to parse requirement: found 'a' expected: '('"),
        ("n>x", "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer"),
        ("-a=b", 'unable to parse requirement: key: Invalid value: "-a": name part must consist of alphanumeric'),
    ],
)
def test_bad_selectors_are_400_with_labels_parse_words(text: str, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse(text)
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    assert caught.value.message.startswith(message)


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ("a=b", {"a": "b"}, True),
        ("a!=b", {}, True),
        ("a notin (b)", {"a": "c"}, True),
        ("a in (b)", {}, False),
        ("!a", {"a": "x"}, False),
        ("n>3", {"n": "4"}, True),
        ("n<3", {"n": "x"}, False),
    ],
)
def test_requirements_match_as_kubernetes_does(text: str, labels: dict[str, str], matches: bool) -> None:
    assert all(r.matches(labels) for r in parse(text)) is matches
