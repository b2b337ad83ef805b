"""Regenerates the committed gRPC modules in `certcsi/csi/_gen` from `proto/csi.proto`.

    python -m certcsi.csi.gen [--proto PATH] [--out DIR]

Runs grpcio-tools' protoc with the mypy-protobuf plugins, then rewrites the one absolute import
protoc emits (`import csi_pb2`) into a package-relative one. Output is byte-for-byte deterministic
for a given grpcio-tools / mypy-protobuf pair, which is what the freshness test relies on.
`ProtoModules` and `generate_modules` do the same for other protos (the SPIFFE Workload API's).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Fix:
    """Replace `old` (which must occur exactly `count` times) with `new` in one generated file."""

    old: str
    new: str
    count: int = 1


@dataclass(frozen=True)
class ProtoModules:
    """One .proto and the modules generated from it: which protoc outputs, and how they are fixed up.

    `fixes` maps a produced file to the rewrites it needs; the result is what gets committed.
    """

    proto: Path
    init_text: str
    # protoc output flags (`--python_out`, ...) -> the plugin each needs (None: built into protoc)
    outputs: Mapping[str, str | None]
    files: tuple[str, ...]
    fixes: Mapping[str, tuple[Fix, ...]] = field(default_factory=dict)


CSI = ProtoModules(
    proto=DEFAULT_PROTO,
    init_text=INIT_TEXT,
    outputs={
        "--python_out": None,
        "--grpc_python_out": None,
        "--mypy_out": "protoc-gen-mypy",
        "--mypy_grpc_out": "protoc-gen-mypy_grpc",
    },
    files=GENERATED_FILES[1:],
    fixes={name: (Fix(old, new),) for name, (old, new) in _IMPORT_FIXES.items()},
)


def _plugin(name: str) -> Path:
    # The plugins are console scripts installed next to this interpreter; PATH may not include it.
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    if found is None:
        raise GenerationError(f"{name} not found: install the dev extra")
    return Path(found)


def _run_protoc(spec: ProtoModules, *, proto: Path, out: Path) -> None:
    from grpc_tools import protoc

    well_known = resources.files("grpc_tools") / "_proto"
    args = ["grpc_tools.protoc", f"-I{proto.parent}", f"-I{well_known}"]
    for flag, plugin in spec.outputs.items():
        if plugin is not None:
            args.append(f"--plugin={plugin}={_plugin(plugin)}")
        args.append(f"{flag}={out}")
    args.append(str(proto))
    status = protoc.main(args)
    if status != 0:
        raise GenerationError(f"protoc exited with status {status} for {proto}")


def _fix(spec: ProtoModules, name: str, text: str) -> str:
    for fix in spec.fixes.get(name, ()):
        if text.count(fix.old) != fix.count:
            raise GenerationError(f"{name}: expected {fix.count} of {fix.old.strip()!r} to rewrite")
        text = text.replace(fix.old, fix.new)
    return text


def generate_modules(spec: ProtoModules, *, proto: Path | None = None, out: Path) -> list[Path]:
    """Generate `spec`'s modules into `out` (created if needed); the files written, sorted by name."""
    proto = spec.proto if proto is None else proto
    if not proto.is_file():
        raise GenerationError(f"proto file not found: {proto}")
    # Generate into scratch space first so a failed run never leaves `out` half-written.
    with tempfile.TemporaryDirectory(prefix="certcsi-gen-") as scratch:
        scratch_dir = Path(scratch)
        _run_protoc(spec, proto=proto, out=scratch_dir)
        contents = {"__init__.py": spec.init_text}
        for name in spec.files:
            produced = scratch_dir / name
            if not produced.is_file():
                raise GenerationError(f"protoc did not produce {name}")
            contents[name] = _fix(spec, name, produced.read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(contents):
        target = out / name
        target.write_text(contents[name], encoding="utf-8")
        written.append(target)
    return written


def generate(*, proto: Path = DEFAULT_PROTO, out: Path = DEFAULT_OUT) -> list[Path]:
    """Generate into `out` (created if needed) and return the files written, sorted by name."""
    return generate_modules(CSI, proto=proto, out=out)


def command_line(spec: ProtoModules, *, prog: str, default_out: Path, argv: Sequence[str] | None) -> int:
    """`python -m <prog> [--proto PATH] [--out DIR]` for `spec`."""
    parser = argparse.ArgumentParser(prog=prog, description=f"Regenerate {default_out.name} from {spec.proto.name}.")
    parser.add_argument("--proto", type=Path, default=spec.proto, help="the .proto to compile")
    parser.add_argument("--out", type=Path, default=default_out, help="directory to write the modules to")
    options = parser.parse_args(argv)
    try:
        written = generate_modules(spec, proto=options.proto, out=options.out)
    except GenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return command_line(CSI, prog="python -m certcsi.csi.gen", default_out=DEFAULT_OUT, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
