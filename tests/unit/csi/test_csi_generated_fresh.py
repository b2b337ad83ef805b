"""The committed modules in certcsi/csi/_gen are exactly what the generator makes from proto/csi.proto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import certcsi.csi

COMMITTED = Path(certcsi.csi.__file__).parent / "_gen"


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()}


def test_regenerating_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "_gen"
    subprocess.run([sys.executable, "-m", "certcsi.csi.gen", "--out", str(out)], check=True, capture_output=True)
    fresh, committed = _files(out), _files(COMMITTED)
    assert sorted(fresh) == sorted(committed), "file set differs: run `python -m certcsi.csi.gen`"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert stale == [], f"stale generated files {stale}: run `python -m certcsi.csi.gen`"


def test_generated_grpc_module_imports_its_messages_relatively() -> None:
    text = (COMMITTED / "csi_pb2_grpc.py").read_text()
    assert "from . import csi_pb2 as csi__pb2" in text
    assert "\nimport csi_pb2" not in text
