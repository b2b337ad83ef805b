"""Static checks of the Dockerfile and .dockerignore, and of the contract with the rendered manifests.

They read the files and need no build: the base and its script agree, what the runtime stage takes from
where, the user and entrypoint the manifests rely on, what the build context leaves out. That the image
builds, holds exactly the package and runs is proven on the real image (test_image_*.py).
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
from dockerfile_model import is_ignored, parse_dockerfile, parse_dockerignore
from helm_charts import CHARTS, render
from packaging_support import REPO, clone_files

from certcsi import __version__

DOCKERFILE = parse_dockerfile((REPO / "Dockerfile").read_text())
IGNORE = parse_dockerignore((REPO / ".dockerignore").read_text())
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
BUILDER, RUNTIME = DOCKERFILE.stages[0], DOCKERFILE.final
OCI_LABELS = ("title", "description", "version", "revision", "source", "licenses")
# The image the charts (deploy/charts) deploy by default, and the uid the image runs as.
CERTCSI_IMAGE = "ghcr.io/certcsi/certcsi"
APPROVER_UID = 65532


def _certcsi_containers() -> list[dict[str, Any]]:
    """Every container of both charts' default manifests that runs the certcsi image."""
    found: list[dict[str, Any]] = []
    for chart in CHARTS:
        for obj in render(chart):
            pod = obj.get("spec", {}).get("template", {}).get("spec", {})
            for container in pod.get("containers", []):
                if container["image"].startswith(f"{CERTCSI_IMAGE}:"):
                    found.append({**container, "podSecurityContext": pod.get("securityContext", {})})
    return found


def _base_script_tag() -> str:
    """The tag scripts/build-base-image gives the base it builds."""
    found = re.search(
        r"^tag=\$\{CERTCSI_BASE_IMAGE:-([^}]+)\}$", (REPO / "scripts" / "build-base-image").read_text(), re.M
    )
    assert found, "scripts/build-base-image no longer sets tag=${CERTCSI_BASE_IMAGE:-...}"
    return found.group(1)


def test_both_stages_start_from_the_base_the_script_builds() -> None:
    assert [stage.base for stage in DOCKERFILE.stages] == ["${BASE_IMAGE}", "${BASE_IMAGE}"]
    assert DOCKERFILE.base(RUNTIME) == _base_script_tag()
    assert BUILDER.name == "builder"
    assert RUNTIME.name != "builder"


def test_base_is_a_tag_not_a_digest_nor_latest() -> None:
    base = DOCKERFILE.base(RUNTIME)
    name, _, tag = base.rpartition(":")
    assert "@" not in base
    assert name and tag not in {"", "latest"}, base


def test_builder_runs_python_m_build() -> None:
    assert any("python -m build" in run.arguments for run in BUILDER.all("RUN"))


def test_runtime_takes_only_the_builders_venv() -> None:
    copies = RUNTIME.all("COPY")
    assert [copy.flags_and_rest()[0].get("from") for copy in copies] == ["builder"], [c.arguments for c in copies]
    assert copies[0].words() == ["/opt/certcsi", "/opt/certcsi"]
    assert RUNTIME.all("ADD") == []
    assert not any("pip" in run.arguments.split() for run in RUNTIME.all("RUN"))


def test_build_secrets_reach_no_layer() -> None:
    """A CA bundle for pip comes as a build secret; no stage copies or declares one."""
    for stage in DOCKERFILE.stages:
        for run in stage.all("RUN"):
            mount = run.flags_and_rest()[0].get("mount", "")
            assert mount in {"", "type=secret,id=ca-certificates"}, f"line {run.line}: {mount}"
        assert not any("PIP_CERT" in env.arguments for env in stage.all("ENV") + stage.all("ARG"))


def test_runtime_workdir_is_the_root_for_upstreams_relative_paths() -> None:
    # Upstream's DaemonSet passes --data-root=csi-data-dir and --endpoint=unix://plugin/csi.sock.
    workdir = RUNTIME.last("WORKDIR")
    assert workdir is not None and workdir.arguments == "/"


def test_runtime_user_is_numeric_non_root_and_the_approvers_uid() -> None:
    user = RUNTIME.last("USER")
    assert user is not None, "the runtime stage runs as root by default"
    uid, _, gid = user.arguments.partition(":")
    # kubelet can only check runAsNonRoot against a numeric uid.
    assert uid.isdigit() and gid.isdigit(), user.arguments
    assert int(uid) != 0
    assert int(uid) == int(gid) == APPROVER_UID


def test_approver_manifest_runs_as_the_images_user() -> None:
    user = RUNTIME.last("USER")
    assert user is not None
    approvers = [c for c in _certcsi_containers() if c["command"][1:] == ["approver"]]
    assert approvers
    for approver in approvers:
        # Upstream's pod securityContext: runAsNonRoot, which kubelet checks against the image's numeric USER.
        assert approver["podSecurityContext"]["runAsNonRoot"] is True
        assert "runAsUser" not in approver["podSecurityContext"]


def test_entrypoint_is_the_certcsi_console_script() -> None:
    entrypoint = RUNTIME.last("ENTRYPOINT")
    assert entrypoint is not None
    assert entrypoint.exec_form() == ["certcsi"]
    assert "certcsi" in PYPROJECT["project"]["scripts"]


def test_manifests_run_the_images_command_at_the_images_version() -> None:
    entrypoint = RUNTIME.last("ENTRYPOINT")
    assert entrypoint is not None
    containers = _certcsi_containers()
    assert {("driver",), ("spiffe-driver",), ("approver",)} <= {tuple(c["command"][1:]) for c in containers}
    for container in containers:
        assert container["command"][:1] == entrypoint.exec_form()
        assert container["image"] == f"{CERTCSI_IMAGE}:{RUNTIME.labels()['org.opencontainers.image.version']}"


def test_oci_labels() -> None:
    labels = RUNTIME.labels()
    assert {f"org.opencontainers.image.{key}" for key in OCI_LABELS} <= set(labels), sorted(labels)
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.licenses"] == PYPROJECT["project"]["license"]


@pytest.mark.parametrize("tool", ["mount", "umount"])
def test_runtime_build_fails_without_mount_tools(tool: str) -> None:
    # `<tool> --version` exits non-zero when the tool is missing, failing `docker build`.
    assert any(f"{tool} --version" in run.arguments for run in RUNTIME.all("RUN")), tool


def test_every_copy_source_exists_and_is_in_the_context() -> None:
    clone = clone_files()
    for stage in DOCKERFILE.stages:
        for copy in stage.all("COPY"):
            if "from" in copy.flags_and_rest()[0]:
                continue
            for source in copy.words()[:-1]:
                path = source.rstrip("/")
                assert (REPO / path).exists(), f"line {copy.line}: {source} is not in the repository"
                assert not is_ignored(IGNORE, path), f"line {copy.line}: .dockerignore leaves out {source}"
                dropped = [name for name in clone if name.startswith(f"{path}/") and is_ignored(IGNORE, name)]
                assert not dropped, f"line {copy.line}: .dockerignore leaves out {dropped}"


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        "tests/unit/test_durations.py",
        "bench/apiserver.py",
        "src/certcsi/__pycache__/cli.cpython-311.pyc",
        "src/certcsi.egg-info/PKG-INFO",
        ".mypy_cache/3.11/x.json",
        "dist/certcsi-0.1.0-py3-none-any.whl",
        "sandbox.kubeconfig",
    ],
)
def test_context_leaves_out(path: str) -> None:
    assert is_ignored(IGNORE, path)
