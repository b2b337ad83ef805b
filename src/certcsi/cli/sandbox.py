"""`certcsi sandbox`: the local stand-in cluster (up) and the demos that run in it (demo)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click

from certcsi.cli._common import configure_logging, run_until_signalled
from certcsi.cli._logflags import verbosity_option


@click.group("sandbox")
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
@verbosity_option()
def sandbox_up(kubeconfig: Path, port: int, no_default_approver: bool, signing_delay: float, verbosity: int) -> None:
    """Start the sandbox control plane and keep it running until interrupted."""
    from certcsi.sandbox.cluster import CA_ISSUER, Sandbox

    configure_logging(verbosity)

    async def up(stop: asyncio.Event) -> None:
        async with Sandbox(port=port, approve=not no_default_approver, signing_delay=signing_delay) as cluster:
            cluster.write_kubeconfig(kubeconfig)
            click.echo(
                f"sandbox ready: API {cluster.url}, kubeconfig {kubeconfig}, ClusterIssuer {CA_ISSUER} "
                "(Ctrl-C to stop)",
            )
            await stop.wait()

    run_until_signalled(up)


@sandbox.command("demo")
@click.option("--keep", is_flag=True, help="Keep the demo's working directory (logs, kubeconfig) afterwards.")
@click.option(
    "--spiffe",
    is_flag=True,
    help="The csi-driver-spiffe demo instead: approver and spiffe-driver under their chart RBAC, two pods' SVIDs, "
    "mTLS checking SPIFFE IDs, a forged request denied.",
)
def sandbox_demo(keep: bool, spiffe: bool) -> None:
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
    from certcsi.sandbox.demo_spiffe import main as spiffe_demo_main

    logging.basicConfig(level=logging.WARNING)
    (spiffe_demo_main if spiffe else demo_main)(keep=keep)
