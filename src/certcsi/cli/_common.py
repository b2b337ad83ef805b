"""What several commands share: the signal-driven run loop, flag types and parsers, and the node drivers' flags."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import math
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from certcsi.cli._connection import budget_options, client_budget, kube_connection_options
from certcsi.cli._goflags import GoBoolOption
from certcsi.cli._logflags import verbosity_option
from certcsi.volumes.mount import DEFAULT_TMPFS_SIZE, valid_tmpfs_size  # stdlib only: cheap at start

if TYPE_CHECKING:
    from certcsi.endpoints import BindAddress
    from certcsi.kube.config import ClientConfig
    from certcsi.nodeplugin import NodeOptions

# What `--kube-api-qps=0` / `--kube-api-burst=0` mean for a node driver: client-go's own default (5/10)
# throttled upstream's driver under churn (csi-driver#627).
NODE_DEFAULT_QPS, NODE_DEFAULT_BURST = 50.0, 100


def configure_logging(verbosity: int) -> None:
    from certcsi.cli._logflags import configure_from_cli

    configure_from_cli(verbosity)


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `main(stop)` on a fresh loop; SIGINT / SIGTERM set `stop` so it can shut down cleanly."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    from certcsi.errors import CertcsiError

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(runner())
    except CertcsiError as err:
        # A configuration the process cannot start with (no kubeconfig, unusable TLS material): one
        # line and exit 1, as upstream's commands end; a bug still shows its traceback.
        raise click.ClickException(str(err)) from None


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


def _tmpfs_size(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not valid_tmpfs_size(value):
        raise click.BadParameter(f"{value!r}: must be digits with an optional k, m, g or % suffix", ctx, param)
    return value


def _not_negative(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if value < 0:
        raise click.BadParameter(f"must not be negative (got {value:g}s)", ctx=ctx, param=param)
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class NodePluginFlags:
    """The flags every node driver takes, as given on its command line."""

    node_id: str
    endpoint: str
    data_root: Path
    kube: ClientConfig
    kube_api_qps: float
    kube_api_burst: int
    kube_watch_timeout: float
    unsafe_no_mount: bool
    tmpfs_size: str
    metrics_bind_address: str
    readiness_probe_bind_address: str
    verbosity: int

    def node_options(self) -> NodeOptions:
        """The node plugin's options from these flags; a bad bind address is a usage error naming its flag."""
        from certcsi.csi.server import parse_endpoint
        from certcsi.nodeplugin import NodeOptions

        try:
            parse_endpoint(self.endpoint)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="'--endpoint'") from None
        qps, burst = client_budget(
            qps=self.kube_api_qps,
            burst=self.kube_api_burst,
            default_qps=NODE_DEFAULT_QPS,
            default_burst=NODE_DEFAULT_BURST,
        )
        return NodeOptions(
            node_id=self.node_id,
            endpoint=self.endpoint,
            # Relative to the working directory, as upstream's chart passes it (`--data-root=csi-data-dir`).
            data_root=self.data_root.absolute(),
            kubeconfig=self.kube,
            kube_api_qps=qps,
            kube_api_burst=burst,
            # The API takes whole seconds; a fraction would silently become 0 (the server's own 30-60 min).
            kube_watch_timeout=math.ceil(self.kube_watch_timeout) if self.kube_watch_timeout else None,
            unsafe_no_mount=self.unsafe_no_mount,
            tmpfs_size=self.tmpfs_size,
            metrics_address=bind_address(self.metrics_bind_address, "--metrics-bind-address"),
            readiness_address=bind_address(self.readiness_probe_bind_address, "--readiness-probe-bind-address"),
        )


_NODE_PLUGIN_FLAG_NAMES = tuple(field.name for field in dataclasses.fields(NodePluginFlags))

# Top to bottom, as they appear in --help; the connection flags and `verbosity_option` follow them.
_NODE_PLUGIN_OPTIONS = (
    click.option("--node-id", envvar="NODE_ID", required=True, help="This node's name (spec.nodeName). Env: NODE_ID."),
    click.option(
        "--endpoint",
        envvar="CSI_ENDPOINT",
        default="unix:///plugin/csi.sock",
        show_default=True,
        help="CSI socket: unix:///abs/path.sock, or unix://rel/path.sock relative to the working directory. "
        "Env: CSI_ENDPOINT.",
    ),
    click.option(
        "--data-root",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("/csi-data-dir"),
        show_default=True,
        help="Where volume data lives (relative: to the working directory); <data-root>/inmemfs is a tmpfs.",
    ),
    budget_options(
        qps=NODE_DEFAULT_QPS,
        burst=NODE_DEFAULT_BURST,
        what="Issuance budget for all volumes (the client gets twice as much for its other calls)",
    ),
    click.option(
        "--kube-watch-timeout",
        type=GoDuration(),
        default="0s",
        show_default=True,
        callback=_not_negative,
        help="How long each watch request lasts before it is renewed (0: 30-45s at random). A watch silent "
        "longer than this (plus a margin) is treated as a dead connection and replaced.",
    ),
    click.option(
        "--unsafe-no-mount",
        cls=GoBoolOption,
        help="UNSAFE, demo only: plain directories and symlinks instead of tmpfs and read-only bind mounts.",
    ),
    click.option(
        "--tmpfs-size",
        default=DEFAULT_TMPFS_SIZE,
        show_default=True,
        callback=_tmpfs_size,
        help="Size limit of the <data-root>/inmemfs tmpfs that holds every volume (a renewed volume takes "
        "32 KiB): 64m, 2g, 10% of RAM; 0 for none. A publish that does not fit fails with RESOURCE_EXHAUSTED.",
    ),
    click.option(
        "--metrics-bind-address",
        default="0",
        show_default=True,
        help="host:port (or :port) for /metrics, /healthz and /readyz; 0 disables it (the install manifests "
        "pass :9402 when metrics.enabled). /metrics?name[]=<name> (repeatable) serves only the series of those "
        "names, as the text shows them (a counter's ends in _total); a whole scrape costs ~10 us of CPU a volume.",
    ),
    click.option(
        "--readiness-probe-bind-address",
        default="0",
        show_default=True,
        help="host:port (or :port) for /healthz and /readyz alone (the metrics address serves them too); "
        "0 disables it.",
    ),
    verbosity_option(default=1),
)


def node_plugin_options(command: Callable[..., None]) -> Callable[..., None]:
    """The flags every node driver takes; the command receives them as one `node: NodePluginFlags`.

    Put it directly above the `def`: these flags then follow the command's own in --help.
    """

    @functools.wraps(command)
    def with_node_flags(**params: Any) -> None:
        shared = {name: params.pop(name) for name in _NODE_PLUGIN_FLAG_NAMES}
        command(node=NodePluginFlags(**shared), **params)

    decorated: Callable[..., None] = kube_connection_options(with_node_flags)
    for option in reversed(_NODE_PLUGIN_OPTIONS):
        decorated = option(decorated)
    return decorated
