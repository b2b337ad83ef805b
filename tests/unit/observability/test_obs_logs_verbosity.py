"""--log-level and -v as upstream takes them (-v=N, -v N, -vN, --v=N) and as a count (-v -v, -vvv); levels."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from certcsi.cli._logflags import configure_from_cli, parse_verbosity, verbosity_option
from certcsi.logs import LIBRARY_LOGGERS, configure, level_for


@click.command()
@verbosity_option()
@click.option("--node-id", default="")
def show(verbosity: int, node_id: str) -> None:
    click.echo(f"{verbosity} {node_id}")


@pytest.mark.parametrize(
    ("args", "level"),
    [
        ([], 0),
        (["-v"], 1),
        (["-v", "-v"], 2),
        (["-vvv"], 3),
        (["-v=4"], 4),
        (["-v", "5"], 5),
        (["-v2"], 2),
        (["--v=3"], 3),
        (["--verbosity", "2"], 2),
        (["-v", "--node-id", "n1"], 1),
        (["-v=2", "-vvv"], 3),
        (["-v=99"], 10),
        (["--log-level=1"], 1),
        (["--log-level", "4"], 4),
        (["--log-level=0"], 0),
    ],
)
def test_spellings(args: list[str], level: int) -> None:
    result = CliRunner().invoke(show, args)
    assert result.exit_code == 0, result.output
    assert result.output.split()[0] == str(level)


def test_a_bad_value_is_a_usage_error_naming_the_flag() -> None:
    result = CliRunner().invoke(show, ["-v", "loud"])
    assert result.exit_code == 2
    assert "'--log-level' / '-v'" in result.output and "non-negative integer" in result.output


def test_the_default_is_the_commands() -> None:
    @click.command()
    @verbosity_option(default=1)
    def upstream_like(verbosity: int) -> None:
        click.echo(str(verbosity))

    assert CliRunner().invoke(upstream_like, []).output.strip() == "1"
    assert CliRunner().invoke(upstream_like, ["--log-level=0"]).output.strip() == "0"


def test_parse_verbosity_directly() -> None:
    assert parse_verbosity(["", "=", "vv"]) == 5
    with pytest.raises(ValueError, match="-v=N"):
        parse_verbosity(["-1"])


@pytest.mark.parametrize(
    ("verbosity", "level"), [(0, logging.WARNING), (1, logging.INFO), (2, logging.INFO), (3, logging.DEBUG)]
)
def test_levels(verbosity: int, level: int) -> None:
    assert level_for(verbosity) == level


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    libraries = {name: logging.getLogger(name).level for name in LIBRARY_LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in libraries.items():
        logging.getLogger(name).setLevel(old)


@pytest.mark.usefixtures("restore_logging")
def test_libraries_stay_quiet_below_five_and_speak_from_five() -> None:
    configure(verbosity=4)
    assert logging.getLogger("certcsi.volumes").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("kubernetes_asyncio.client").getEffectiveLevel() == logging.WARNING
    configure(verbosity=5)
    assert logging.getLogger("aiohttp.client").getEffectiveLevel() == logging.DEBUG


@pytest.mark.usefixtures("restore_logging")
def test_configuring_twice_replaces_only_its_own_handler() -> None:
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    configure(verbosity=1)
    configure(verbosity=1, log_format="json")
    ours = [h for h in root.handlers if getattr(h, "_certcsi_handler", False)]
    assert len(ours) == 1
    assert foreign in root.handlers
    assert any(type(f).__name__ == "SecretScrubber" for f in foreign.filters)


@pytest.mark.usefixtures("restore_logging")
def test_log_format_flag_reaches_the_handler() -> None:
    @click.command()
    @verbosity_option()
    def cmd(verbosity: int) -> None:
        configure_from_cli(verbosity)
        ours = [h for h in logging.getLogger().handlers if getattr(h, "_certcsi_handler", False)]
        click.echo(type(ours[0].formatter).__name__)

    assert CliRunner().invoke(cmd, ["--logging-format=json"]).output.strip() == "JsonFormatter"
    assert CliRunner().invoke(cmd, ["--log-format", "json"]).output.strip() == "JsonFormatter"
    assert CliRunner().invoke(cmd, []).output.strip() == "TextFormatter"
    assert CliRunner().invoke(cmd, ["--logging-format", "xml"]).exit_code == 2
