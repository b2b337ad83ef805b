"""Fixtures of the packaging tests: one sdist + wheel built from a fresh-clone copy, one clean venv with the wheel,
one container image built with podman from the Dockerfile."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
from image_support import BuiltImage, build_image, prepare_podman, remove_image
from packaging_support import REPO, Dists, Venv, clean_env, clone_files, copy_files, only, run

# Generous ceilings so a hung download fails the run instead of stalling CI; typical: ~3 s and ~15 s.
BUILD_TIMEOUT = 300
INSTALL_TIMEOUT = 300


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """`python -m build` on a copy of the tree a fresh clone has: the sdist, then the wheel built from that sdist."""
    clone = tuple(clone_files())
    tree = tmp_path_factory.mktemp("clone")
    copy_files(clone, source=REPO, target=tree)
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", str(out), str(tree)], cwd=tree, timeout=BUILD_TIMEOUT)
    return Dists(sdist=only(out.glob("*.tar.gz")), wheel=only(out.glob("*.whl")), clone=clone)


@pytest.fixture(scope="session")
def venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A new venv holding the wheel and its runtime dependencies (from PyPI), nothing else."""
    root = tmp_path_factory.mktemp("venv")
    env = clean_env()
    run([sys.executable, "-m", "venv", str(root)], cwd=root, timeout=INSTALL_TIMEOUT, env=env)
    run(
        [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", str(dists.wheel)],
        cwd=root,
        timeout=INSTALL_TIMEOUT,
        env=env,
    )
    return Venv(root=root)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "image: builds the container image with rootful podman (scripts/setup-podman, scripts/build-base-image "
        "and scripts/build-image; needs root) and runs it",
    )


@pytest.fixture(scope="session")
def image() -> Iterator[BuiltImage]:
    """The image scripts/build-image builds from this tree, on the Debian base scripts/build-base-image makes;
    untagged at the end of the session."""
    prepare_podman()
    built = build_image(f"localhost/certcsi:test-{os.getpid()}")
    print(f"built {built.tag} in {built.seconds:.0f} s")
    yield built
    remove_image(built.tag)
