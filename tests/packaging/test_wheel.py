"""The wheel built from a fresh clone holds the whole package and nothing else, and runs from a clean venv.

The command lists are read from the source tree's click groups, so the test follows commands as they are added.
"""

from __future__ import annotations

import re

import click
import pytest
from packaging_support import PACKAGE, Dists, Venv, assert_whole_package, clean_env, run, wheel_metadata, wheel_names

from certcsi import __version__
from certcsi.cli import main

pytestmark = pytest.mark.packaging

_COMMAND_LINE = re.compile(r"^  (\S+)")
# Import names of dev-only tools the runtime must not pull in.
_DEV_MODULES = ("pytest", "mypy", "ruff", "grpc_tools", "build")


def _listed_commands(help_text: str) -> set[str]:
    """Names in the `Commands:` section of click's help output."""
    section = help_text.split("\nCommands:\n", 1)
    assert len(section) == 2, f"no Commands section in:\n{help_text}"
    return {match.group(1) for line in section[1].splitlines() if (match := _COMMAND_LINE.match(line))}


def _visible(group: click.Group) -> set[str]:
    return {name for name, command in group.commands.items() if not command.hidden}


def _run_in(venv: Venv, *args: str) -> str:
    return run([str(venv.bin(args[0])), *args[1:]], cwd=venv.root, timeout=120, env=clean_env()).stdout


def test_wheel_holds_every_package_file_and_the_readme(dists: Dists) -> None:
    assert_whole_package(dists.wheel, dists.clone)


def test_wheel_metadata_has_an_spdx_license(dists: Dists) -> None:
    assert wheel_metadata(dists.wheel)["License-Expression"] == "Apache-2.0"


def test_wheel_holds_the_package_data(dists: Dists) -> None:
    names = wheel_names(dists.wheel)
    expected = {
        f"{PACKAGE}/py.typed",
        f"{PACKAGE}/sandbox/data/certificaterequests.crd.yaml",
        *(f"{PACKAGE}/csi/_gen/{stem}{ext}" for stem in ("csi_pb2", "csi_pb2_grpc") for ext in (".py", ".pyi")),
    }
    assert expected <= names, sorted(expected - names)


def test_wheel_has_no_tests_and_one_top_level_package(dists: Dists) -> None:
    names = wheel_names(dists.wheel)
    assert not [name for name in names if name.split("/")[0] in {"tests", "test", "bench"} or "/tests/" in name]
    assert {name.split("/")[0] for name in names} == {PACKAGE, f"{PACKAGE}-{__version__}.dist-info"}


def test_installed_help_lists_every_command(venv: Venv) -> None:
    assert _listed_commands(_run_in(venv, "certcsi", "--help")) == _visible(main)


def test_installed_sandbox_help_lists_its_commands(venv: Venv) -> None:
    sandbox = main.commands["sandbox"]
    assert isinstance(sandbox, click.Group)
    assert _listed_commands(_run_in(venv, "certcsi", "sandbox", "--help")) == _visible(sandbox)


def test_installed_version_is_the_source_version(venv: Venv) -> None:
    assert __version__ in _run_in(venv, "certcsi", "--version")


def test_installed_generated_grpc_modules_import_from_the_venv(venv: Venv) -> None:
    where = _run_in(
        venv,
        "python",
        "-c",
        "import certcsi.csi._gen.csi_pb2 as pb, certcsi.csi._gen.csi_pb2_grpc as grpc_pb; print(pb.__file__)",
    )
    assert where.strip().startswith(str(venv.root)), f"imported from {where.strip()}, not the venv"


def test_installed_venv_has_no_dev_dependencies(venv: Venv) -> None:
    missing = _run_in(
        venv,
        "python",
        "-c",
        f"import importlib.util as u; print(*(m for m in {_DEV_MODULES!r} if u.find_spec(m) is None))",
    )
    assert missing.split() == list(_DEV_MODULES)
