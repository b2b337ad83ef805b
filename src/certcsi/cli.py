"""The one `certcsi` command: drivers, approver, sandbox, install and inspect."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from certcsi import __version__

if TYPE_CHECKING:
    from certcsi.volumes.gates import Gate, GateBackoff


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity <= 2 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


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


def _parse_gates(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> tuple[Gate, ...]:
    from certcsi.volumes.gates import GateFlagError, parse_gates

    try:
        return parse_gates(values)
    except GateFlagError as err:
        raise click.BadParameter(err.detail, ctx=ctx, param=param) from None


def _gate_options(
    gates: tuple[Gate, ...], *, continue_on_not_ready: bool, duration: float, factor: float, jitter: float, cap: float
) -> GateBackoff:
    """The gate backoff, checked together with the gates (cross-flag rules name their flag)."""
    from certcsi.volumes.gates import GateBackoff, GateFlagError, check_gates_can_pass

    try:
        check_gates_can_pass(gates, continue_on_not_ready=continue_on_not_ready)
        return GateBackoff(duration=duration, factor=factor, jitter=jitter, cap=cap)
    except GateFlagError as err:
        raise click.BadParameter(err.detail, param_hint=f"'{err.flag}'") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="certcsi")
def main() -> None:
    """certcsi: a fresh key and a cert-manager-signed certificate in every pod, through CSI."""


@main.group()
def sandbox() -> None:
    """The local stand-in cluster (API server, cert-manager, kubelet) to try and test certcsi."""


@sandbox.command("up")
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("sandbox.kubeconfig"),
    show_default=True,
    help="Where to write the kubeconfig for the sandbox's admin.",
)
@click.option("--port", type=int, default=0, help="API server port on 127.0.0.1 (0 picks a free one).")
@click.option(
    "--no-default-approver",
    is_flag=True,
    help="Do not run cert-manager's built-in approver (SPIFFE setups run their own).",
)
@click.option("--signing-delay", type=float, default=0.0, help="Seconds the CA issuer waits before signing.")
@click.option("-v", "--verbosity", count=True, help="More logging (repeatable).")
def sandbox_up(kubeconfig: Path, port: int, no_default_approver: bool, signing_delay: float, verbosity: int) -> None:
    """Start the sandbox control plane and keep it running until interrupted."""
    from certcsi.sandbox.cluster import CA_ISSUER, Sandbox

    _configure_logging(verbosity)

    async def up(stop: asyncio.Event) -> None:
        async with Sandbox(port=port, approve=not no_default_approver, signing_delay=signing_delay) as cluster:
            cluster.write_kubeconfig(kubeconfig)
            click.echo(
                f"sandbox ready: API {cluster.url}, kubeconfig {kubeconfig}, ClusterIssuer {CA_ISSUER} "
                "(Ctrl-C to stop)",
            )
            await stop.wait()

    run_until_signalled(up)


@main.command("driver")
@click.option("--node-id", envvar="NODE_ID", required=True, help="This node's name (spec.nodeName). Env: NODE_ID.")
@click.option(
    "--endpoint",
    envvar="CSI_ENDPOINT",
    default="unix:///plugin/csi.sock",
    show_default=True,
    help="CSI socket (unix:///abs/path.sock). Env: CSI_ENDPOINT.",
)
@click.option("--driver-name", default="csi.cert-manager.io", show_default=True, help="CSI driver name.")
@click.option(
    "--data-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/csi-data-dir"),
    show_default=True,
    help="Where volume data lives; <data-root>/inmemfs is a tmpfs.",
)
@click.option(
    "--use-token-request",
    is_flag=True,
    help="Create each CertificateRequest with the pod's own service-account token (CSIDriver tokenRequests).",
)
@click.option(
    "--kube-api-qps", type=float, default=50.0, show_default=True, help="Issuance budget, all volumes: req/s."
)
@click.option("--kube-api-burst", type=int, default=100, show_default=True, help="Issuance budget: burst.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None, help="Kubeconfig; in-cluster if unset.")
@click.option(
    "--unsafe-no-mount",
    is_flag=True,
    help="UNSAFE, demo only: plain directories and symlinks instead of tmpfs and read-only bind mounts.",
)
@click.option("--issue-timeout", type=float, default=60.0, show_default=True, help="Seconds to wait for issuance.")
@click.option(
    "--pod-readiness-gate",
    "pod_readiness_gates",
    multiple=True,
    callback=_parse_gates,
    metavar="GATE",
    help="Issue only once the pod passes this gate (repeatable, all must pass): pod-ip:any|ipv4|ipv6, "
    "pod-condition:Type[=Status], pod-annotation:key. Any gate makes the driver watch the pods on its node; "
    "pod-ip also defines ${POD_IP} for volume attributes.",
)
@click.option(
    "--continue-on-not-ready",
    is_flag=True,
    help="When the gates do not pass yet, publish the still-empty volume at once and issue in the background "
    "as soon as they pass (needed for pod-ip: kubelet assigns the IP only after mounting).",
)
@click.option(
    "--gate-backoff-duration",
    type=GoDuration(),
    default="1s",
    show_default=True,
    help="First re-check delay of a volume whose gates do not pass (re-checked at once on every pod event).",
)
@click.option("--gate-backoff-factor", type=float, default=2.0, show_default=True, help="Re-check delay growth.")
@click.option(
    "--gate-backoff-jitter", type=float, default=0.5, show_default=True, help="Up to this fraction off each delay."
)
@click.option(
    "--gate-backoff-cap", type=GoDuration(), default="10s", show_default=True, help="Longest re-check delay; 0: none."
)
@click.option("-v", "--verbosity", count=True, help="More logging (repeatable, like -v=N upstream).")
def driver_command(
    node_id: str,
    endpoint: str,
    driver_name: str,
    data_root: Path,
    use_token_request: bool,
    kube_api_qps: float,
    kube_api_burst: int,
    kubeconfig: str | None,
    unsafe_no_mount: bool,
    issue_timeout: float,
    pod_readiness_gates: tuple[Gate, ...],
    continue_on_not_ready: bool,
    gate_backoff_duration: float,
    gate_backoff_factor: float,
    gate_backoff_jitter: float,
    gate_backoff_cap: float,
    verbosity: int,
) -> None:
    """Run the csi.cert-manager.io node driver."""
    from certcsi.drivers.certmanager import CertManagerDriver
    from certcsi.nodeplugin import NodeOptions, run_node_plugin

    gate_backoff = _gate_options(
        pod_readiness_gates,
        continue_on_not_ready=continue_on_not_ready,
        duration=gate_backoff_duration,
        factor=gate_backoff_factor,
        jitter=gate_backoff_jitter,
        cap=gate_backoff_cap,
    )
    _configure_logging(max(verbosity, 1))
    options = NodeOptions(
        node_id=node_id,
        endpoint=endpoint,
        data_root=data_root,
        kubeconfig=kubeconfig,
        kube_api_qps=kube_api_qps,
        kube_api_burst=kube_api_burst,
        use_token_request=use_token_request,
        issue_timeout=issue_timeout,
        unsafe_no_mount=unsafe_no_mount,
        pod_readiness_gates=pod_readiness_gates,
        continue_on_not_ready=continue_on_not_ready,
        gate_backoff=gate_backoff,
    )
    driver = CertManagerDriver(name=driver_name)
    run_until_signalled(lambda stop: run_node_plugin(driver=driver, options=options, stop=stop))


@sandbox.command("demo")
@click.option("--keep", is_flag=True, help="Keep the demo's working directory (logs, kubeconfig) afterwards.")
def sandbox_demo(keep: bool) -> None:
    """Run the sandbox demo: pods get certificates, one renews live, two talk mTLS."""
    import os
    import shutil
    import sys

    if os.geteuid() == 0 and not os.environ.get("CERTCSI_IN_MOUNT_NS") and shutil.which("unshare"):
        # Real tmpfs and bind mounts, in a private mount namespace so none of them outlives the demo.
        os.environ["CERTCSI_IN_MOUNT_NS"] = "1"
        argv = ["unshare", "--mount", "--propagation", "private", sys.executable, "-m", "certcsi", *sys.argv[1:]]
        os.execvp("unshare", argv)
    from certcsi.sandbox.demo import main as demo_main

    logging.basicConfig(level=logging.WARNING)
    demo_main(keep=keep)


@main.command("install")
@click.argument("chart", type=click.Choice(["csi-driver", "csi-driver-spiffe"]))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Set a value (Helm syntax); repeatable.")
@click.option(
    "-f",
    "--values",
    "values_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A values file (upstream Helm values work); repeatable, later wins.",
)
def install_command(chart: str, sets: tuple[str, ...], values_files: tuple[Path, ...]) -> None:
    """Print the manifests to install CHART: `certcsi install csi-driver | kubectl apply -f -`."""
    from certcsi.install import ValuesError, render

    try:
        click.echo(render(chart, values_files=values_files, sets=sets), nl=False)  # type: ignore[arg-type]
    except ValuesError as e:
        raise click.UsageError(str(e)) from None
