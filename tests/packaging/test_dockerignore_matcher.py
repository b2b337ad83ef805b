"""The .dockerignore matcher the Dockerfile checks rely on agrees with Docker's documented rules."""

from __future__ import annotations

import pytest
from dockerfile_model import is_ignored, parse_dockerignore


@pytest.mark.parametrize(
    ("rules", "path", "ignored"),
    [
        ("*", "README.md", True),
        ("*", "src/certcsi/cli.py", True),  # `*` matches the top directory, so everything under it
        ("*\n!src/", "src/certcsi/cli.py", False),
        ("*\n!src/", "srcx/a.py", True),
        ("!src/\n*", "src/certcsi/cli.py", True),  # the last matching line wins
        ("**/__pycache__", "src/certcsi/__pycache__/cli.cpython-311.pyc", True),
        ("**/__pycache__", "__pycache__/a.pyc", True),
        ("**/__pycache__", "src/certcsi/pycache.py", False),
        ("**/*.py[co]", "src/certcsi/cli.pyc", True),
        ("**/*.py[co]", "src/certcsi/cli.py", False),
        ("src/*.egg-info", "src/certcsi.egg-info/PKG-INFO", True),
        ("src/*.egg-info", "src/certcsi/sub/x.egg-info", False),  # `*` does not cross `/`
        ("/README.md", "README.md", True),  # a leading slash means the context root
        ("docs/../README.md", "README.md", True),  # patterns are cleaned paths
        ("# README.md\n\n", "README.md", False),  # comments and blank lines are not patterns
        ("?EADME.md", "README.md", True),
        ("tests/**", "tests/unit/test_a.py", True),
        ("tests/**", "testsuite/a.py", False),
    ],
)
def test_matcher(rules: str, path: str, ignored: bool) -> None:
    assert is_ignored(parse_dockerignore(rules), path) is ignored
