"""The Dockerfile's builder stage, replayed without Docker: its COPYs of the real build context, then its build.

The context is the fresh-clone tree minus .dockerignore; the files land where the builder's WORKDIR and COPY
instructions put them, and the builder's own `python -m build` command (with a local --outdir) runs there.
What this does not cover: the builder's base image and its `pip install build`, which only `docker build` runs.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import pytest
from dockerfile_model import copy_plan, is_ignored, parse_dockerfile, parse_dockerignore
from packaging_support import REPO, assert_whole_package, clone_files, only, run

pytestmark = pytest.mark.packaging


def _build_command(outdir: Path) -> list[str]:
    builder = parse_dockerfile((REPO / "Dockerfile").read_text()).stages[0]
    commands = [shlex.split(run.arguments) for run in builder.all("RUN") if "python -m build" in run.arguments]
    assert len(commands) == 1, commands
    command = commands[0]
    assert command[:3] == ["python", "-m", "build"], command
    if "--outdir" in command:
        at = command.index("--outdir")
        del command[at : at + 2]
    return [sys.executable, *command[1:], "--outdir", str(outdir)]


def test_builder_stage_builds_the_whole_wheel_from_the_context(tmp_path: Path) -> None:
    clone = clone_files()
    ignore = parse_dockerignore((REPO / ".dockerignore").read_text())
    context = [name for name in clone if not is_ignored(ignore, name)]
    plan = copy_plan(parse_dockerfile((REPO / "Dockerfile").read_text()).stages[0], context)
    image = tmp_path / "image"
    for source, placed in plan.files:
        target = image / placed.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / source, target)
    workdir = image / plan.workdir.lstrip("/")
    run(_build_command(tmp_path / "dist"), cwd=workdir, timeout=300)
    assert_whole_package(only((tmp_path / "dist").glob("*.whl")), clone)
