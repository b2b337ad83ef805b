"""Who gets a socket: the volume attribute `spiffe.csi.cert-manager.io/workload-api`, else `--workload-api`;
bad values and socket names are refused naming the attribute or flag and the rule."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from workload_support import workload_node

from certcsi.cli import main
from certcsi.drivers.spiffe.plugin import SpiffeOptions, build_plugin
from certcsi.drivers.spiffe.workload.node import WorkloadApiOptions
from certcsi.drivers.spiffe.workload.opting import WORKLOAD_API, workload_api_enabled
from certcsi.volumes.driver import IssuerRef


@pytest.mark.parametrize(
    ("attributes", "default", "enabled"),
    [
        ({}, False, False),
        ({}, True, True),
        ({WORKLOAD_API: "true"}, False, True),
        ({WORKLOAD_API: "false"}, True, False),
        ({WORKLOAD_API: "false"}, False, False),
    ],
)
def test_the_attribute_decides_else_the_default(attributes: dict[str, str], default: bool, enabled: bool) -> None:
    assert workload_api_enabled(attributes, default=default) is enabled


async def test_only_opted_in_volumes_get_a_socket() -> None:
    async with workload_node(default_enabled=False) as node:
        node.issue("asked", {WORKLOAD_API: "true"})
        node.issue("silent", {})
        assert sorted(node.api.volumes) == ["asked"]
        assert not node.socket("silent").exists()
    async with workload_node(default_enabled=True) as node:
        node.issue("silent", {})
        node.issue("declined", {WORKLOAD_API: "false"})
        assert sorted(node.api.volumes) == ["silent"]
        assert not node.socket("declined").exists()


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("tls.crt", "the same as --file-name-certificate"),
        ("tls.key", "the same as --file-name-key"),
        ("ca.crt", "the same as --file-name-ca"),
        ("a/b.sock", "one path component"),
        ("..data", "one path component, not starting with '.'"),
        ("", "one path component"),
        ("s" * 65, "at most 64 bytes"),
    ],
)
def test_a_socket_name_that_cannot_work_is_refused(name: str, problem: str) -> None:
    options = SpiffeOptions(issuer=IssuerRef("ca"), workload_api=WorkloadApiOptions(socket_name=name))
    with pytest.raises(ValueError, match="--workload-api-socket-name") as info:
        build_plugin(options)
    assert problem in str(info.value)


def test_the_flags_reach_the_command_line() -> None:
    result = CliRunner().invoke(
        main,
        ["spiffe-driver", "--node-id", "n", "--issuer-name", "ca", "--workload-api-socket-name", "tls.crt"],
    )
    assert result.exit_code == 2
    assert "--workload-api-socket-name: socket name 'tls.crt': the same as --file-name-certificate" in result.output
    help_text = CliRunner().invoke(main, ["spiffe-driver", "--help"]).output
    assert "--workload-api[=true|false]" in help_text and "--workload-api-socket-name" in help_text
