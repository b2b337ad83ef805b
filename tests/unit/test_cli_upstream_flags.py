"""Every flag of upstream's three commands is accepted, in Go's grammar, with upstream's meaning and default.

The flag sets are upstream's own: cert-manager/csi-driver cmd/app/options, csi-driver-spiffe
internal/flags and its driver and approver options, and cli-runtime's ConfigFlags (kubectl's
connection flags), which all three register.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from certcsi import nodeplugin
from certcsi.approver import running
from certcsi.cli import approver as approver_commands
from certcsi.cli import main
from certcsi.cli import node as node_commands
from certcsi.kube.config import ClientConfig

# cli-runtime's genericclioptions.NewConfigFlags(true).AddFlags: flag -> a valid value (None: boolean).
CONNECTION_FLAGS: dict[str, str | None] = {
    "--kubeconfig": "/dev/null",
    "--cache-dir": "/tmp/kube-cache",
    "--certificate-authority": "/etc/ca.crt",
    "--client-certificate": "/etc/client.crt",
    "--client-key": "/etc/client.key",
    "--token": "abc",
    "--as": "someone",
    "--as-group": "group-a",
    "--as-uid": "uid-1",
    "--cluster": "c",
    "--user": "u",
    "--namespace": "ns",
    "-n": "ns",
    "--context": "ctx",
    "--server": "https://10.0.0.1:6443",
    "-s": "https://10.0.0.1:6443",
    "--tls-server-name": "kubernetes",
    "--insecure-skip-tls-verify": None,
    "--request-timeout": "30s",
    "--disable-compression": None,
}
CSI_DRIVER_FLAGS: dict[str, str | None] = {
    "--log-level": "2",
    "-v": "2",
    "--node-id": "node-1",
    "--endpoint": "unix:///tmp/csi.sock",
    "--driver-name": "csi.cert-manager.io",
    "--data-root": "/tmp/csi-data-dir",
    "--use-token-request": None,
    "--continue-on-not-ready": None,
    "--metrics-bind-address": ":9402",
    "--kube-api-qps": "20",
    "--kube-api-burst": "40",
    "--pod-readiness-gate": "pod-annotation:example.com/ready",
    "--gate-backoff-duration": "2s",
    "--gate-backoff-factor": "1.5",
    "--gate-backoff-jitter": "0.1",
    "--gate-backoff-cap": "20s",
    **CONNECTION_FLAGS,
}
SPIFFE_DRIVER_FLAGS: dict[str, str | None] = {
    "--csi-driver-name": "spiffe.csi.cert-manager.io",
    "--log-level": "2",
    "-v": "2",
    "--node-id": "node-1",
    "--data-root": "/tmp/csi-data-dir",
    "--endpoint": "unix:///tmp/csi.sock",
    "--runtime-issuance-config-map-name": "issuer",
    "--runtime-issuance-config-map-namespace": "cert-manager",
    "--trust-domain": "example.org",
    "--certificate-request-duration": "2h",
    "--extra-certificate-request-annotations": "a=b,c=d",
    "--issuer-name": "spiffe-ca",
    "--issuer-kind": "Issuer",
    "--issuer-group": "example.io",
    "--file-name-certificate": "cert.pem",
    "--file-name-key": "key.pem",
    "--file-name-ca": "ca.pem",
    "--source-ca-bundle": "",
    "--use-own-service-account": None,
    **CONNECTION_FLAGS,
}
APPROVER_FLAGS: dict[str, str | None] = {
    "--csi-driver-name": "spiffe.csi.cert-manager.io",
    "--log-level": "2",
    "-v": "2",
    "--runtime-issuance-config-map-name": "issuer",
    "--runtime-issuance-config-map-namespace": "cert-manager",
    "--trust-domain": "example.org",
    "--certificate-request-duration": "2h",
    "--use-own-service-account": None,
    "--driver-service-account": "system:serviceaccount:cert-manager:driver",
    "--issuer-name": "spiffe-ca",
    "--issuer-kind": "ClusterIssuer",
    "--issuer-group": "cert-manager.io",
    "--auto-approve-non-spiffe": None,
    "--leader-election-namespace": "cert-manager",
    "--readiness-probe-bind-address": ":6060",
    "--metrics-bind-address": ":9402",
    **CONNECTION_FLAGS,
}
COMMANDS = {"driver": CSI_DRIVER_FLAGS, "spiffe-driver": SPIFFE_DRIVER_FLAGS, "approver": APPROVER_FLAGS}
REQUIRED = {"driver": ["--node-id=n"], "spiffe-driver": ["--node-id=n"], "approver": []}
# Flags upstream accepts only together with another.
COMPANIONS = {
    "--driver-service-account": ["--use-own-service-account"],
    "--runtime-issuance-config-map-name": ["--runtime-issuance-config-map-namespace=cert-manager"],
    "--runtime-issuance-config-map-namespace": ["--runtime-issuance-config-map-name=issuer"],
}


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Run the commands without starting anything; collect the options each would run with."""
    seen: list[Any] = []

    async def fake_node(*, driver: Any, options: Any, stop: asyncio.Event, **_: Any) -> None:
        seen.append(options)

    async def fake_approver(settings: Any, *, stop: asyncio.Event) -> None:
        seen.append(settings)

    def run_once(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        async def once() -> None:
            await main(asyncio.Event())

        asyncio.run(once())

    monkeypatch.setattr(nodeplugin, "run_node_plugin", fake_node)
    monkeypatch.setattr(running, "run_approver", fake_approver)
    monkeypatch.setattr(node_commands, "run_until_signalled", run_once)
    monkeypatch.setattr(approver_commands, "run_until_signalled", run_once)
    yield seen


def invoke(command: str, *args: str) -> Any:
    return CliRunner().invoke(main, [command, *REQUIRED[command], *args], prog_name="certcsi")


def spellings(flag: str, value: str | None) -> list[list[str]]:
    """Go's spellings of one flag: --name=value and --name value; for a boolean --name, --name=true, --name=false."""
    if value is None:
        return [[flag], [f"{flag}=true"], [f"{flag}=false"], [f"{flag}=1"], [f"{flag}=F"]]
    if len(flag) == 2:  # a shorthand: -v=2, -v 2, -v2
        return [[f"{flag}={value}"], [flag, value], [f"{flag}{value}"]]
    return [[f"{flag}={value}"], [flag, value]]


@pytest.mark.parametrize(
    ("command", "flag"), [(command, flag) for command, flags in COMMANDS.items() for flag in flags]
)
def test_every_upstream_flag_is_accepted_in_every_go_spelling(
    started: list[Any], command: str, flag: str, tmp_path: Path
) -> None:
    value = COMMANDS[command][flag]
    if flag == "--kubeconfig":
        value = str(tmp_path / "kubeconfig")
    extra = COMPANIONS.get(flag, [])
    if command == "approver" and flag == "--use-own-service-account":
        extra = ["--driver-service-account=system:serviceaccount:cert-manager:driver"]
    for spelling in spellings(flag, value):
        result = invoke(command, *spelling, *extra)
        assert result.exit_code == 0, (spelling, result.output)
    assert len(started) == len(spellings(flag, value))


def test_upstreams_chart_args_for_csi_driver(started: list[Any]) -> None:
    args = [
        "--log-level=1",
        "--driver-name=csi.cert-manager.io",
        "--node-id=node-1",
        "--endpoint=unix://plugin/csi.sock",
        "--data-root=csi-data-dir",
        "--use-token-request=false",
        "--continue-on-not-ready=false",
        "--kube-api-qps=0",
        "--kube-api-burst=0",
        "--metrics-bind-address=:9402",
    ]
    result = CliRunner().invoke(main, ["driver", *args], prog_name="certcsi")
    assert result.exit_code == 0, result.output
    (options,) = started
    assert (options.use_token_request, options.continue_on_not_ready) == (False, False)
    # 0 is "the client's default", as client-go reads QPS and Burst.
    assert (options.kube_api_qps, options.kube_api_burst) == (50.0, 100)
    assert options.data_root == Path.cwd() / "csi-data-dir"  # relative to the working directory, as upstream
    assert options.endpoint == "unix://plugin/csi.sock"


@pytest.mark.parametrize(("qps", "burst", "expected"), [("-1", "0", (math.inf, 100)), ("7.5", "3", (7.5, 3))])
def test_budget_flags_as_client_go(started: list[Any], qps: str, burst: str, expected: tuple[float, int]) -> None:
    assert invoke("driver", f"--kube-api-qps={qps}", f"--kube-api-burst={burst}").exit_code == 0
    assert (started[0].kube_api_qps, started[0].kube_api_burst) == expected


def test_upstreams_defaults(started: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for command in COMMANDS:
        assert invoke(command).exit_code == 0, command
    csi, spiffe, approver = started
    assert (csi.use_token_request, csi.continue_on_not_ready) == (False, False)
    assert spiffe.kube_api_qps == 50.0
    assert approver.leader_election_namespace == "cert-manager"
    assert approver.policy.issuer_ref.name == "my-spiffe-ca"
    assert (approver.kube_api_qps, approver.kube_api_burst) == (500.0, 1000)
    assert isinstance(approver.kubeconfig, ClientConfig) and approver.kubeconfig.kubeconfig is None


def test_spiffe_driver_issuer_name_defaults_to_upstreams(monkeypatch: pytest.MonkeyPatch) -> None:
    from certcsi.drivers.spiffe import plugin

    built: list[Any] = []
    real = plugin.build_plugin
    monkeypatch.setattr(plugin, "build_plugin", lambda options, **kw: built.append(options) or real(options, **kw))
    monkeypatch.setattr(node_commands, "run_until_signalled", lambda main: None)
    assert invoke("spiffe-driver").exit_code == 0
    assert built[0].issuer.name == "my-spiffe-ca"


def test_connection_flags_reach_the_client_config(started: list[Any], tmp_path: Path) -> None:
    result = invoke(
        "driver",
        "--kubeconfig",
        str(tmp_path / "k"),
        "--context=ctx",
        "-s",
        "https://api:6443",
        "--insecure-skip-tls-verify",
        "--as=me",
        "--as-group=a",
        "--as-group=b",
        "--request-timeout=5",
    )
    assert result.exit_code == 0, result.output
    config = started[0].kubeconfig
    assert config.kubeconfig == str(tmp_path / "k") and config.request_timeout == 5.0
    overrides = config.overrides
    assert (overrides.context, overrides.server) == ("ctx", "https://api:6443")
    assert overrides.insecure_skip_tls_verify is True
    assert (overrides.impersonate, overrides.impersonate_groups) == ("me", ("a", "b"))


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("driver", ["--kube-api-qps=fast"], "'--kube-api-qps': 'fast' is not a number"),
        ("driver", ["--kube-api-qps=abc"], "'--kube-api-qps': 'abc' is not a number"),
        ("driver", ["--kube-api-burst=-1"], "'--kube-api-burst': must be at least 0, got -1"),
        ("driver", ["--use-token-request=yes"], "'--use-token-request': 'yes' is not a boolean"),
        ("driver", ["--use-token-request", "false"], "--use-token-request takes its value after '='"),
        ("driver", ["--endpoint=tcp://0.0.0.0:10000"], "'--endpoint': endpoint 'tcp://0.0.0.0:10000': only unix"),
        ("driver", ["--log-level=loud"], "non-negative integer"),
        ("driver", ["--request-timeout=soon"], "'--request-timeout': 'soon': want whole seconds"),
        ("spiffe-driver", ["--use-own-service-account=maybe"], "'--use-own-service-account': 'maybe'"),
        ("approver", ["--auto-approve-non-spiffe=2"], "'--auto-approve-non-spiffe': '2' is not a boolean"),
        ("approver", ["--workers=0x0"], "'--workers': must be at least 1, got 0"),
        ("approver", ["--certificate-request-duration=1d"], "'--certificate-request-duration'"),
    ],
)
def test_a_wrong_value_is_one_line_naming_the_flag(
    started: list[Any], command: str, args: list[str], message: str
) -> None:
    result = invoke(command, *args)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith(f"Error: certcsi {command}: "), result.output
    assert message in result.output
    assert "Traceback" not in result.output and started == []


@pytest.mark.parametrize(
    ("text", "value"),
    [("0x10", 16), ("017", 15), ("0o17", 15), ("0b101", 5), ("1_000", 1000), ("-0x10", -16), ("0", 0)],
)
def test_go_integers(text: str, value: int) -> None:
    from certcsi.cli._goflags import parse_go_int

    assert parse_go_int(text) == value


@pytest.mark.parametrize(("text", "value"), [("1.5", 1.5), ("1e3", 1000.0), ("0x1p-2", 0.25), ("-Inf", -math.inf)])
def test_go_floats(text: str, value: float) -> None:
    from certcsi.cli._goflags import parse_go_float

    assert parse_go_float(text) == value


@pytest.mark.parametrize("text", ["abc", " 1", "1.5x", "", "0x"])
def test_not_go_floats(text: str) -> None:
    from certcsi.cli._goflags import parse_go_float

    with pytest.raises(ValueError, match="is not a number"):
        parse_go_float(text)
