"""Static checks of the Dockerfile and .dockerignore, and of the contract with the rendered manifests.

No Docker engine runs here, so nothing below proves the image builds or starts: these tests read the
files and prove the properties that can be read from them (stages, base, user, entrypoint, what the
runtime stage installs, that every COPY source reaches the build context). test_docker_builder_context.py
replays the builder stage's COPYs and build command on the real context; the RUN lines of the runtime
stage (apt-get, useradd, pip install) only run under `docker build`.
"""

from __future__ import annotations

import shlex
import tomllib
from typing import Any

import pytest
from dockerfile_model import Instruction, copy_plan, is_ignored, parse_dockerfile, parse_dockerignore
from helm_charts import CHARTS, render
from packaging_support import REPO, clone_files

from certcsi import __version__

DOCKERFILE = parse_dockerfile((REPO / "Dockerfile").read_text())
IGNORE = parse_dockerignore((REPO / ".dockerignore").read_text())
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
BASE = "python:3.11-slim"
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


def _pip_installs(instruction: Instruction) -> list[list[str]]:
    """The argument lists of each `pip install` in a RUN's shell command."""
    words = shlex.split(instruction.flags_and_rest()[1].replace("&&", " && "))
    installs: list[list[str]] = []
    for i, word in enumerate(words):
        if word == "pip" and words[i + 1 : i + 2] == ["install"]:
            rest = words[i + 2 :]
            installs.append(rest[: rest.index("&&")] if "&&" in rest else rest)
    return installs


def test_two_stages_builder_then_runtime_on_the_same_slim_base() -> None:
    assert [stage.base for stage in DOCKERFILE.stages] == [BASE, BASE]
    assert BUILDER.name == "builder"
    assert RUNTIME.name != "builder"


def test_base_is_a_tag_not_a_digest_nor_latest() -> None:
    name, _, tag = BASE.partition(":")
    assert "@" not in BASE
    assert tag not in {"", "latest"}, name


def test_builder_runs_python_m_build() -> None:
    assert any("python -m build" in run.arguments for run in BUILDER.all("RUN"))


def test_runtime_copies_nothing_from_the_context() -> None:
    assert RUNTIME.all("COPY") == []
    assert RUNTIME.all("ADD") == []


def test_runtime_installs_only_the_builders_wheel() -> None:
    installs = [(run, args) for run in RUNTIME.all("RUN") for args in _pip_installs(run)]
    assert installs, "the runtime stage installs nothing"
    for run, args in installs:
        targets = [arg for arg in args if not arg.startswith("-")]
        assert targets and all(target.endswith(".whl") for target in targets), f"line {run.line}: {args}"
        assert not {"-e", "--editable", "-r", "--requirement"} & set(args), f"line {run.line}: {args}"
        assert not any("[" in target for target in targets), f"line {run.line}: extras in {targets}"
        mount = run.flags_and_rest()[0].get("mount", "")
        assert "from=builder" in mount.split(","), f"line {run.line}: the wheel does not come from the builder"


def test_run_mounts_name_an_earlier_stage() -> None:
    earlier: set[str] = set()
    for stage in DOCKERFILE.stages:
        for run in stage.all("RUN"):
            mount = run.flags_and_rest()[0].get("mount", "")
            sources = [part.removeprefix("from=") for part in mount.split(",") if part.startswith("from=")]
            assert set(sources) <= earlier, f"line {run.line}: {sources} is not an earlier stage"
        earlier.add(stage.name or "")


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


def test_builder_copies_every_package_file() -> None:
    context = [name for name in clone_files() if not is_ignored(IGNORE, name)]
    placed = {source for source, _ in copy_plan(BUILDER, context).files}
    needed = {name for name in clone_files() if name.startswith("src/certcsi/")}
    assert needed <= placed, sorted(needed - placed)


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
