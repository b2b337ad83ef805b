"""docs/reference.md is what `python -m certcsi.docs` generates, and covers every attribute."""

from __future__ import annotations

from pathlib import Path

from certcsi import docs
from certcsi.drivers.certmanager.attributes import KNOWN_ATTRIBUTES
from certcsi.drivers.certmanager.reference import ATTRIBUTES

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "reference.md"


def test_every_known_attribute_is_documented_once() -> None:
    keys = [doc.key for doc in ATTRIBUTES]
    assert sorted(keys) == sorted(KNOWN_ATTRIBUTES)


def test_reference_md_is_current() -> None:
    assert REFERENCE.read_text() == docs.render(), "run: python -m certcsi.docs > docs/reference.md"


def test_every_command_has_a_section() -> None:
    text = docs.render()
    for command in ("certcsi driver", "certcsi sandbox up", "certcsi sandbox demo", "certcsi inspect"):
        assert f"## `{command}`" in text
