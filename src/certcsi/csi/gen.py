"""Regenerates the committed gRPC modules in `certcsi/csi/_gen` from `proto/csi.proto`.

    python -m certcsi.csi.gen [--proto PATH] [--out DIR]

Runs grpcio-tools' protoc with the mypy-protobuf plugins, then rewrites the one absolute import
protoc emits (`import csi_pb2`) into a package-relative one. Output is byte-for-byte deterministic
for a given grpcio-tools / mypy-protobuf pair, which is what the freshness test relies on.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = PACKAGE_DIR / "_gen"
# src/certcsi/csi/gen.py -> repository root
DEFAULT_PROTO = PACKAGE_DIR.parents[2] / "proto" / "csi.proto"

INIT_TEXT = '"""Modules generated from proto/csi.proto by `python -m certcsi.csi.gen`; do not edit."""\n'

# file name -> (absolute import protoc writes, package-relative replacement)
_IMPORT_FIXES: dict[str, tuple[str, str]] = {
    "csi_pb2_grpc.py": ("import csi_pb2 as csi__pb2\n", "from . import csi_pb2 as csi__pb2\n"),
    "csi_pb2_grpc.pyi": ("import csi_pb2 as _csi_pb2\n", "from . import csi_pb2 as _csi_pb2\n"),
}
GENERATED_FILES = ("__init__.py", "csi_pb2.py", "csi_pb2.pyi", "csi_pb2_grpc.py", "csi_pb2_grpc.pyi")


class GenerationError(RuntimeError):
    """protoc failed, a plugin is missing, or its output no longer has the expected shape."""


def _plugin(name: str) -> Path:
    # The plugins are console scripts installed next to this interpreter; PATH may not include it.
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    if found is None:
        raise GenerationError(f"{name} not found: install the dev extra (mypy-protobuf)")
    return Path(found)


def _run_protoc(*, proto: Path, out: Path) -> None:
    from grpc_tools import protoc

    well_known = resources.files("grpc_tools") / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{proto.parent}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        str(proto),
    ]
    status = protoc.main(args)
    if status != 0:
        raise GenerationError(f"protoc exited with status {status} for {proto}")


def _fix_imports(name: str, text: str) -> str:
    fix = _IMPORT_FIXES.get(name)
    if fix is None:
        return text
    old, new = fix
    if text.count(old) != 1:
        raise GenerationError(f"{name}: expected exactly one {old.strip()!r} to rewrite")
    return text.replace(old, new)


def generate(*, proto: Path = DEFAULT_PROTO, out: Path = DEFAULT_OUT) -> list[Path]:
    """Generate into `out` (created if needed) and return the files written, sorted by name."""
    if not proto.is_file():
        raise GenerationError(f"proto file not found: {proto}")
    # Generate into scratch space first so a failed run never leaves `out` half-written.
    with tempfile.TemporaryDirectory(prefix="certcsi-gen-") as scratch:
        scratch_dir = Path(scratch)
        _run_protoc(proto=proto, out=scratch_dir)
        contents = {"__init__.py": INIT_TEXT}
        for name in GENERATED_FILES[1:]:
            produced = scratch_dir / name
            if not produced.is_file():
                raise GenerationError(f"protoc did not produce {name}")
            contents[name] = _fix_imports(name, produced.read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in GENERATED_FILES:
        target = out / name
        target.write_text(contents[name], encoding="utf-8")
        written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m certcsi.csi.gen", description="Regenerate certcsi/csi/_gen from proto/csi.proto."
    )
    parser.add_argument("--proto", type=Path, default=DEFAULT_PROTO, help="the .proto to compile")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory to write the modules to")
    options = parser.parse_args(argv)
    try:
        written = generate(proto=options.proto, out=options.out)
    except GenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
