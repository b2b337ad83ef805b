"""The image scripts/build-image builds: exactly the package and its runtime dependencies, no build tools,
the user, entrypoint and labels the manifests rely on."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib

import pytest
from image_support import BuiltImage, run_in_image
from packaging_support import PACKAGE, REPO, Venv, clone_files, package_files, run

from certcsi import __version__

pytestmark = [pytest.mark.image, pytest.mark.packaging]

SITE_PACKAGES = "/opt/certcsi/lib/python3.11/site-packages"
# Seen here: 127 MB of Debian base and 65 MB of venv (grpcio and cryptography are half of it). The
# ceiling catches a layer of build tools or caches, not a dependency bump.
SIZE_CEILING = 260 * 1000 * 1000

_DISTRIBUTIONS = """
import importlib.metadata, json
print(json.dumps([distribution.metadata["Name"] for distribution in importlib.metadata.distributions()]))
"""


def _normalized(names: list[str]) -> set[str]:
    return {re.sub(r"[-_.]+", "-", name).lower() for name in names}


def test_runs_as_the_non_root_user_with_certcsi_as_entrypoint(image: BuiltImage) -> None:
    config = image.inspect()["Config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["certcsi"]
    assert config["WorkingDir"] == "/"
    command = ["podman", "run", "--rm", "--pull=never", "--network=none", image.tag]
    assert run([*command, "--version"], cwd=REPO, timeout=60).stdout.strip() == f"certcsi, version {__version__}"
    whoami = run([*command[:-1], "--entrypoint=id", image.tag], cwd=REPO, timeout=60).stdout.strip()
    assert whoami == "uid=65532(certcsi) gid=65532(certcsi) groups=65532(certcsi)"


def test_labels_name_the_version_revision_and_licence(image: BuiltImage) -> None:
    labels = image.inspect()["Config"]["Labels"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.revision"].removesuffix("-dirty") == head.strip()
    license_ = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"]
    assert labels["org.opencontainers.image.licenses"] == license_


def test_holds_exactly_the_package_files(image: BuiltImage) -> None:
    listed = run_in_image(image.tag, f"cd {SITE_PACKAGES} && find {PACKAGE} -type f -not -path '*/__pycache__/*'")
    assert set(listed.split()) == package_files(clone_files())


def test_holds_the_runtime_dependencies_a_fresh_venv_gets_and_nothing_more(image: BuiltImage, venv: Venv) -> None:
    in_image = _normalized(json.loads(run_in_image(image.tag, f"/opt/certcsi/bin/python -c '{_DISTRIBUTIONS}'")))
    fresh = run([str(venv.bin("python")), "-c", _DISTRIBUTIONS], cwd=REPO, timeout=60).stdout
    # A fresh venv brings its own installer; the image's venv was installed into from outside.
    assert in_image == _normalized(json.loads(fresh)) - {"pip", "setuptools"}


def test_has_no_build_tools(image: BuiltImage) -> None:
    script = """
    for python in /opt/certcsi/bin/python /usr/bin/python3; do
        for module in pip setuptools build wheel ensurepip; do
            $python -c "import $module" 2>/dev/null && echo "$python: $module"
        done
    done
    for tool in pip pip3 gcc cc make; do command -v $tool; done
    dpkg-query -W -f '${Package}\\n' | grep -E '^(python3-(pip|venv|setuptools|wheel)|python3.11-venv|gcc|make)$'
    true
    """
    assert run_in_image(image.tag, script).split("\n") == [""]


def test_size_stays_under_the_ceiling(image: BuiltImage) -> None:
    size = int(image.inspect()["Size"])
    print(f"{image.tag}: {size / 1e6:.0f} MB")
    assert size < SIZE_CEILING, f"{size / 1e6:.0f} MB"
