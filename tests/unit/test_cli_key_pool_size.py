"""`--key-pool-size` on both node drivers: the pool the driver takes keys from, and the one the process closes."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from node_commands import collect_runs

from certcsi.cli import main
from certcsi.pki.keypool import DEFAULT_POOL_SIZE, KeyPool

COMMANDS = {"driver": ["driver"], "spiffe-driver": ["spiffe-driver", "--issuer-name", "ca"]}


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Run the command without starting anything; collect what it would run."""
    return collect_runs(monkeypatch, lambda run: run)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("flag", "size"), [([], DEFAULT_POOL_SIZE), (["--key-pool-size=0"], 0), (["--key-pool-size", "32"], 32)]
)
def test_the_flag_sizes_the_pool_the_driver_uses(
    runs: list[dict[str, Any]], command: str, flag: list[str], size: int
) -> None:
    result = CliRunner().invoke(main, [*COMMANDS[command], "--node-id", "n", *flag])
    assert result.exit_code == 0, result.output
    (run,) = runs
    keys = run["keys"]
    assert isinstance(keys, KeyPool) and keys.size == size
    assert run["driver"]._keys is keys


@pytest.mark.parametrize(("value", "rule"), [("-1", "must be at least 0"), ("257", "must be at most 256"), ("x", "")])
def test_a_bad_size_is_refused_naming_the_flag(runs: list[dict[str, Any]], value: str, rule: str) -> None:
    result = CliRunner().invoke(main, ["driver", "--node-id", "n", f"--key-pool-size={value}"])
    assert result.exit_code == 2
    assert "--key-pool-size" in result.output and rule in result.output
    assert runs == []
