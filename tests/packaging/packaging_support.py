"""Shared by the packaging tests: the repository as a fresh clone would have it, archive listings, subprocesses."""

from __future__ import annotations

import email
import email.message
import os
import shutil
import subprocess
import tarfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "certcsi"

# Variables that would let a subprocess see this checkout or this venv instead of the one under test.
_LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV", "__PYVENV_LAUNCHER__")


@dataclass(frozen=True)
class Dists:
    sdist: Path
    wheel: Path
    clone: tuple[str, ...]  # repository-relative files of the tree they were built from


@dataclass(frozen=True)
class Venv:
    root: Path

    def bin(self, name: str) -> Path:
        return self.root / "bin" / name


def _git_lines(*args: str) -> set[str]:
    out = run(["git", "-C", str(REPO), *args, "-z"], cwd=REPO, timeout=60).stdout
    return {name for name in out.split("\0") if name}


def clone_files() -> list[str]:
    """Repository-relative paths a fresh clone of the working tree has: tracked plus new, not ignored, not deleted.

    New files count so a developer's uncommitted module is packaged exactly as it will be once committed.
    """
    listed = _git_lines("ls-files", "--cached", "--others", "--exclude-standard")
    return sorted(listed - _git_lines("ls-files", "--deleted"))


def copy_files(names: Iterable[str], *, source: Path, target: Path) -> None:
    for name in names:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, destination)


def package_files(names: Iterable[str]) -> set[str]:
    """The package's files, as paths inside a wheel (`certcsi/...`), from repository-relative paths."""
    prefix = f"src/{PACKAGE}/"
    return {name.removeprefix("src/") for name in names if name.startswith(prefix) and "__pycache__" not in name}


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name for name in archive.namelist() if not name.endswith("/")}


def wheel_metadata(wheel: Path) -> email.message.Message:
    """The wheel's core metadata (`*.dist-info/METADATA`); the long description is its body."""
    with zipfile.ZipFile(wheel) as archive:
        name = only(Path(n) for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_string(archive.read(str(name)).decode("utf-8"))


def assert_whole_package(wheel: Path, clone: Iterable[str]) -> None:
    """The wheel holds exactly the package's files, and the README as its description (setuptools only
    warns when the README is missing)."""
    packaged = {name for name in wheel_names(wheel) if not name.startswith(f"{PACKAGE}-")}
    expected = package_files(clone)
    assert packaged == expected, f"missing {sorted(expected - packaged)}, extra {sorted(packaged - expected)}"
    description = wheel_metadata(wheel).get_payload()
    assert isinstance(description, str)
    assert description.strip() == (REPO / "README.md").read_text().strip()


def sdist_names(sdist: Path) -> set[str]:
    """Member files of the sdist, without its `certcsi-<version>/` top directory."""
    with tarfile.open(sdist) as archive:
        return {member.name.split("/", 1)[1] for member in archive.getmembers() if member.isfile()}


def clean_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in _LEAKY_ENV}


def run(
    command: Sequence[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `command`; a non-zero exit fails the test with the command's whole output."""
    done = subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} exited {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
    return done


def only(paths: Iterable[Path]) -> Path:
    found = list(paths)
    assert len(found) == 1, f"expected exactly one file, found {found}"
    return found[0]
