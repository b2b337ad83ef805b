"""`--tmpfs-size` of both node drivers: a limit by default, the kernel's size syntax, bad values named."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from test_cli_driver_gates import started

from certcsi.cli import main
from certcsi.nodeplugin import NodeOptions
from certcsi.volumes.mount import DEFAULT_TMPFS_SIZE

__all__ = ["started"]  # the fixture, shared with the gate flag tests


DRIVERS = [["driver"], ["spiffe-driver", "--issuer-name", "ca"]]


@pytest.mark.parametrize("command", DRIVERS)
def test_the_tmpfs_is_limited_by_default(started: list[NodeOptions], command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--node-id", "node-1"])
    assert result.exit_code == 0, result.output
    assert [options.tmpfs_size for options in started] == [DEFAULT_TMPFS_SIZE]
    assert NodeOptions(node_id="n", endpoint="unix:///x.sock", data_root=None, kubeconfig=None).tmpfs_size == (  # type: ignore[arg-type]
        DEFAULT_TMPFS_SIZE
    )


@pytest.mark.parametrize("value", ["64m", "2g", "512k", "10%", "0"])
def test_kernel_sizes_reach_the_node_options(started: list[NodeOptions], value: str) -> None:
    result = CliRunner().invoke(main, ["driver", "--node-id", "node-1", "--tmpfs-size", value])
    assert result.exit_code == 0, result.output
    assert [options.tmpfs_size for options in started] == [value]


@pytest.mark.parametrize("value", ["64Mi", "1m,mode=777", "", "-1", "m", "1.5g"])
def test_bad_sizes_are_usage_errors_naming_the_flag(started: list[NodeOptions], value: str) -> None:
    result = CliRunner().invoke(main, ["driver", "--node-id", "node-1", f"--tmpfs-size={value}"])
    assert result.exit_code == 2
    assert "--tmpfs-size" in result.output
    assert started == []
