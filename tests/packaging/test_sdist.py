"""The sdist carries what a rebuild needs: the proto the gRPC modules come from, the README, every package file.

(The wheel the other packaging tests install is built from this sdist, so the sdist demonstrably builds.)
"""

from __future__ import annotations

import tarfile

import pytest
from packaging_support import REPO, Dists, package_files, sdist_names

pytestmark = pytest.mark.packaging


def test_sdist_has_proto_readme_and_project_file(dists: Dists) -> None:
    names = sdist_names(dists.sdist)
    assert {"proto/csi.proto", "README.md", "pyproject.toml"} <= names, sorted(names)


def test_sdist_proto_is_the_repository_proto(dists: Dists) -> None:
    with tarfile.open(dists.sdist) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("/proto/csi.proto"))
        handle = archive.extractfile(member)
        assert handle is not None
        assert handle.read() == (REPO / "proto" / "csi.proto").read_bytes()


def test_sdist_has_every_package_file(dists: Dists) -> None:
    in_sdist = {name.removeprefix("src/") for name in sdist_names(dists.sdist) if name.startswith("src/certcsi/")}
    missing = package_files(dists.clone) - in_sdist
    assert not missing, sorted(missing)
