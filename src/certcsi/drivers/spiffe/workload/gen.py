"""Regenerates the committed modules in `workload/_gen` from `proto/workload.proto`.

    python -m certcsi.drivers.spiffe.workload.gen [--proto PATH] [--out DIR]

protoc with the mypy-protobuf plugin (messages) and grpclib's plugin (service base class and client
stub); then the absolute `import workload_pb2` becomes package-relative, and the method paths lose
the proto's package so that they are the specification's `/SpiffeWorkloadAPI/<Rpc>` (see the
proto's header for why it has a package at all).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from certcsi.csi.gen import Fix, ProtoModules, command_line

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = PACKAGE_DIR / "_gen"
# src/certcsi/drivers/spiffe/workload/gen.py -> repository root
DEFAULT_PROTO = PACKAGE_DIR.parents[4] / "proto" / "workload.proto"
PROTO_SERVICE = "certcsi.spiffe.workload.SpiffeWorkloadAPI"
WIRE_SERVICE = "SpiffeWorkloadAPI"
RPCS = ("FetchX509SVID", "FetchX509Bundles", "FetchJWTSVID", "FetchJWTBundles", "ValidateJWTSVID")

WORKLOAD = ProtoModules(
    proto=DEFAULT_PROTO,
    init_text=(
        '"""Modules generated from proto/workload.proto by `python -m certcsi.drivers.spiffe.workload.gen`; '
        'do not edit."""\n'
    ),
    outputs={
        "--python_out": None,
        "--mypy_out": "protoc-gen-mypy",
        "--grpclib_python_out": "protoc-gen-grpclib_python",
    },
    files=("workload_grpc.py", "workload_pb2.py", "workload_pb2.pyi"),
    fixes={
        "workload_grpc.py": (
            Fix("import workload_pb2\n", "from . import workload_pb2\n"),
            # Each path appears twice: in the server base class's mapping and in the client stub.
            *(Fix(f"'/{PROTO_SERVICE}/{rpc}'", f"'/{WIRE_SERVICE}/{rpc}'", count=2) for rpc in RPCS),
        ),
    },
)


def main(argv: Sequence[str] | None = None) -> int:
    return command_line(
        WORKLOAD, prog="python -m certcsi.drivers.spiffe.workload.gen", default_out=DEFAULT_OUT, argv=argv
    )


if __name__ == "__main__":
    raise SystemExit(main())
