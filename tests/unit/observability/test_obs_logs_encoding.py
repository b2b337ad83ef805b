"""A log field is encoded exactly as json.dumps (Go's encoder as klogr uses it) would, fast path or not."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from certcsi.logs import _encoded


@given(st.text())
def test_any_text_is_encoded_as_json_dumps_would(text: str) -> None:
    assert _encoded(text) == json.dumps(text, ensure_ascii=False)


@given(st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False))
def test_scalars_are_encoded_as_json_dumps_would(value: object) -> None:
    assert _encoded(value) == json.dumps(value, ensure_ascii=False)


def test_quotes_backslashes_and_control_characters_are_escaped() -> None:
    assert _encoded('a"b\\c\nd\x7f') == '"a\\"b\\\\c\\nd\x7f"'
