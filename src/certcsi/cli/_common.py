"""What several commands share: the signal-driven run loop, flag types and parsers, and the node drivers' flags."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from certcsi.logs import verbosity_option

if TYPE_CHECKING:
    from certcsi.endpoints import BindAddress
    from certcsi.nodeplugin import NodeOptions


def configure_logging(verbosity: int) -> None:
    from certcsi.logs import configure_from_cli

    configure_from_cli(verbosity)


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `main(stop)` on a fresh loop; SIGINT / SIGTERM set `stop` so it can shut down cleanly."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(runner())


class GoDuration(click.ParamType[float]):
    """A Go duration string ("500ms", "10s", "1m30s"), converted to seconds."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        from certcsi.durations import parse_go_duration

        try:
            return parse_go_duration(str(value)).total_seconds()
        except ValueError as err:
            self.fail(f"{value!r}: {err}", param, ctx)


def bind_address(value: str, flag: str) -> BindAddress | None:
    """A `--*-bind-address` value; a bad one is a usage error naming `flag`."""
    from certcsi.endpoints import parse_bind_address

    try:
        return parse_bind_address(value, flag=flag)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint=f"'{flag}'") from None


def optional_path(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    # Upstream's chart passes `--source-ca-bundle=` when none is configured: empty means "no bundle".
    return Path(value) if value else None


@dataclasses.dataclass(frozen=True, kw_only=True)
class NodePluginFlags:
    """The flags every node driver takes, as given on its command line."""

    node_id: str
    endpoint: str
    data_root: Path
    kubeconfig: str | None
    kube_api_qps: float
    kube_api_burst: int
    unsafe_no_mount: bool
    metrics_bind_address: str
    readiness_probe_bind_address: str
    verbosity: int

    def node_options(self) -> NodeOptions:
        """The node plugin's options from these flags; a bad bind address is a usage error naming its flag."""
        from certcsi.nodeplugin import NodeOptions

        return NodeOptions(
            node_id=self.node_id,
            endpoint=self.endpoint,
            data_root=self.data_root,
            kubeconfig=self.kubeconfig,
            kube_api_qps=self.kube_api_qps,
            kube_api_burst=self.kube_api_burst,
            unsafe_no_mount=self.unsafe_no_mount,
            metrics_address=bind_address(self.metrics_bind_address, "--metrics-bind-address"),
            readiness_address=bind_address(self.readiness_probe_bind_address, "--readiness-probe-bind-address"),
        )


_NODE_PLUGIN_FLAG_NAMES = tuple(field.name for field in dataclasses.fields(NodePluginFlags))

# Top to bottom, as they appear in --help; `verbosity_option` follows them.
_NODE_PLUGIN_OPTIONS = (
    click.option("--node-id", envvar="NODE_ID", required=True, help="This node's name (spec.nodeName). Env: NODE_ID."),
    click.option(
        "--endpoint",
        envvar="CSI_ENDPOINT",
        default="unix:///plugin/csi.sock",
        show_default=True,
        help="CSI socket (unix:///abs/path.sock). Env: CSI_ENDPOINT.",
    ),
    click.option(
        "--data-root",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("/csi-data-dir"),
        show_default=True,
        help="Where volume data lives; <data-root>/inmemfs is a tmpfs.",
    ),
    click.option(
        "--kubeconfig", type=click.Path(dir_okay=False), default=None, help="Kubeconfig; in-cluster if unset."
    ),
    click.option(
        "--kube-api-qps", type=float, default=50.0, show_default=True, help="Issuance budget, all volumes: req/s."
    ),
    click.option("--kube-api-burst", type=int, default=100, show_default=True, help="Issuance budget: burst."),
    click.option(
        "--unsafe-no-mount",
        is_flag=True,
        help="UNSAFE, demo only: plain directories and symlinks instead of tmpfs and read-only bind mounts.",
    ),
    click.option(
        "--metrics-bind-address",
        default="0",
        show_default=True,
        help="host:port (or :port) for /metrics, /healthz and /readyz; 0 disables it (the install manifests "
        "pass :9402 when metrics.enabled).",
    ),
    click.option(
        "--readiness-probe-bind-address",
        default="0",
        show_default=True,
        help="host:port (or :port) for /healthz and /readyz alone (the metrics address serves them too); "
        "0 disables it.",
    ),
    verbosity_option(),
)


def node_plugin_options(command: Callable[..., None]) -> Callable[..., None]:
    """The flags every node driver takes; the command receives them as one `node: NodePluginFlags`.

    Put it directly above the `def`: these flags then follow the command's own in --help.
    """

    @functools.wraps(command)
    def with_node_flags(**params: Any) -> None:
        shared = {name: params.pop(name) for name in _NODE_PLUGIN_FLAG_NAMES}
        command(node=NodePluginFlags(**shared), **params)

    decorated: Callable[..., None] = with_node_flags
    for option in reversed(_NODE_PLUGIN_OPTIONS):
        decorated = option(decorated)
    return decorated
