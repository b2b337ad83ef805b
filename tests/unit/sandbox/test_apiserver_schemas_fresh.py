"""The committed built-in schemas (sandbox/data/builtin-openapi.json) are exactly what the generator makes
from kubernetes-validate's Kubernetes 1.36 schemas, and every served built-in kind is in them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from certcsi.sandbox.apiserver import schemas
from certcsi.sandbox.apiserver.resources import BUILTIN
from certcsi.sandbox.apiserver.schemagen import OUTPUT


def test_regenerating_changes_nothing(tmp_path: Path) -> None:
    fresh = tmp_path / "builtin-openapi.json"
    module = "certcsi.sandbox.apiserver.schemagen"
    subprocess.run([sys.executable, "-m", module, "--out", str(fresh)], check=True, capture_output=True)
    assert fresh.read_text() == OUTPUT.read_text(), f"stale: run `python -m {module}`"


def test_every_served_builtin_kind_has_its_schema() -> None:
    for rt in BUILTIN:
        assert schemas.kind_definition(rt.api_version, rt.kind) == rt.definition, rt.key
