"""The committed modules in drivers/spiffe/workload/_gen are what the generator makes from proto/workload.proto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import spiffe._proto.workload_pb2 as reference

import certcsi.drivers.spiffe.workload
from certcsi.drivers.spiffe.workload._gen import workload_grpc, workload_pb2

COMMITTED = Path(certcsi.drivers.spiffe.workload.__file__).parent / "_gen"
REGENERATE = "run `python -m certcsi.drivers.spiffe.workload.gen`"


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()}


def test_regenerating_changes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "_gen"
    subprocess.run(
        [sys.executable, "-m", "certcsi.drivers.spiffe.workload.gen", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    fresh, committed = _files(out), _files(COMMITTED)
    assert sorted(fresh) == sorted(committed), f"file set differs: {REGENERATE}"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert stale == [], f"stale generated files {stale}: {REGENERATE}"


def test_method_paths_are_the_specifications() -> None:
    paths = sorted(workload_grpc.SpiffeWorkloadAPIBase.__mapping__(_Servicer()))
    assert paths == [
        "/SpiffeWorkloadAPI/FetchJWTBundles",
        "/SpiffeWorkloadAPI/FetchJWTSVID",
        "/SpiffeWorkloadAPI/FetchX509Bundles",
        "/SpiffeWorkloadAPI/FetchX509SVID",
        "/SpiffeWorkloadAPI/ValidateJWTSVID",
    ]


def test_messages_match_the_spiffe_client_librarys_field_for_field() -> None:
    """Same field names, numbers, types and labels as the `spiffe` package's own generated messages."""
    for name, ours in workload_pb2.DESCRIPTOR.message_types_by_name.items():
        theirs = reference.DESCRIPTOR.message_types_by_name[name]
        assert _shape(ours) == _shape(theirs), name
    assert sorted(workload_pb2.DESCRIPTOR.message_types_by_name) == sorted(reference.DESCRIPTOR.message_types_by_name)


def test_a_message_encoded_here_decodes_there() -> None:
    svid = workload_pb2.X509SVID(spiffe_id="spiffe://td/ns/a/sa/b", x509_svid=b"c", x509_svid_key=b"k", bundle=b"b")
    ours = workload_pb2.X509SVIDResponse(
        svids=[svid],
        federated_bundles={"spiffe://other": b"o"},
    )
    theirs = reference.X509SVIDResponse.FromString(ours.SerializeToString())
    assert theirs.svids[0].spiffe_id == "spiffe://td/ns/a/sa/b"
    assert (theirs.svids[0].x509_svid, theirs.svids[0].x509_svid_key, theirs.svids[0].bundle) == (b"c", b"k", b"b")
    assert dict(theirs.federated_bundles) == {"spiffe://other": b"o"}


def _shape(message: object) -> list[tuple[object, ...]]:
    fields = getattr(message, "fields")  # noqa: B009 - a protobuf Descriptor
    shape: list[tuple[object, ...]] = []
    for field in fields:
        nested = field.message_type.name if field.message_type is not None else None
        shape.append((field.name, field.number, field.type, field.is_repeated, nested))
    return sorted(shape)


class _Servicer(workload_grpc.SpiffeWorkloadAPIBase):
    async def FetchX509SVID(self, stream: object) -> None:  # type: ignore[override]
        pass

    async def FetchX509Bundles(self, stream: object) -> None:  # type: ignore[override]
        pass

    async def FetchJWTSVID(self, stream: object) -> None:  # type: ignore[override]
        pass

    async def FetchJWTBundles(self, stream: object) -> None:  # type: ignore[override]
        pass

    async def ValidateJWTSVID(self, stream: object) -> None:  # type: ignore[override]
        pass
