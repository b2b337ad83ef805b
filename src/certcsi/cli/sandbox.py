"""`certcsi sandbox`: the local stand-in cluster (up), what its pods hold (files), and the demos (demo)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import click

from certcsi.cli._common import configure_logging, run_until_signalled
from certcsi.cli._logflags import verbosity_option


@click.group("sandbox")
def sandbox() -> None:
    """The local stand-in cluster (API server, cert-manager, kubelet) to try and test certcsi."""


def _in_own_mount_namespace(marker: str) -> None:
    """As root, re-run this command in a private mount namespace, so no mount it makes outlives it."""
    import os
    import shutil
    import sys

    if os.geteuid() == 0 and not os.environ.get(marker) and shutil.which("unshare"):
        os.environ[marker] = "1"
        argv = ["unshare", "--mount", "--propagation", "private", sys.executable, "-m", "certcsi", *sys.argv[1:]]
        os.execvp("unshare", argv)


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
@click.option(
    "--with",
    "installs",
    multiple=True,
    type=click.Choice(["csi-driver", "csi-driver-spiffe"]),
    help="Install certcsi's chart (deploy/charts) into the sandbox: its DaemonSet (and the approver's "
    "Deployment) run on the node, certcsi's containers as local processes. Repeatable. csi-driver-spiffe also "
    "creates the ClusterIssuer spiffe-ca and leaves its requests to its approver.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The node's files (its filesystem, container roots and logs); a fresh directory in /tmp, removed on "
    "exit, when unset.",
)
@verbosity_option()
def sandbox_up(
    kubeconfig: Path,
    port: int,
    no_default_approver: bool,
    signing_delay: float,
    installs: tuple[str, ...],
    state_dir: Path | None,
    verbosity: int,
) -> None:
    """Start the sandbox (API server, cert-manager, scheduler, controllers and a node) until interrupted.

    Pods applied with kubectl run on the node `sandbox-node`: their CSI volumes are published through
    the drivers' sockets as kubelet does. As root the sandbox runs in its own mount namespace, so
    everything it mounts goes with it.
    """
    _in_own_mount_namespace("CERTCSI_SANDBOX_UP_NS")
    import tempfile

    from certcsi.sandbox.bringup import LocalCluster
    from certcsi.sandbox.cluster import CA_ISSUER

    configure_logging(verbosity)
    directory = state_dir or Path(tempfile.mkdtemp(prefix="certcsi-", dir="/tmp"))

    async def up(stop: asyncio.Event) -> None:
        cluster = LocalCluster(
            state_dir=directory,
            kubeconfig=kubeconfig,
            port=port,
            approve=not no_default_approver,
            signing_delay=signing_delay,
            installs=installs,
            remove_state=state_dir is None,
        )
        async with cluster:
            from certcsi.sandbox import heap

            heap.settle()
            installed = f", installed {', '.join(installs)}" if installs else ""
            click.echo(
                f"sandbox ready: API {cluster.url}, node {cluster.node_name}, ClusterIssuer {CA_ISSUER}{installed}\n"
                f"  export KUBECONFIG={kubeconfig.resolve()}\n"
                f"  node files under {cluster.host.root}, container logs under {cluster.host.path('/var/log/pods')}\n"
                "  (Ctrl-C to stop)",
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
    # Real tmpfs and bind mounts, in a private mount namespace so none of them outlives the demo.
    _in_own_mount_namespace("CERTCSI_IN_MOUNT_NS")
    from certcsi.sandbox.demo import main as demo_main
    from certcsi.sandbox.demo_spiffe import main as spiffe_demo_main

    logging.basicConfig(level=logging.WARNING)
    (spiffe_demo_main if spiffe else demo_main)(keep=keep)


_KUBECONFIG = click.option(
    "--kubeconfig",
    envvar="KUBECONFIG",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("sandbox.kubeconfig"),
    show_default=True,
    help="The sandbox's kubeconfig (the one `sandbox up` wrote). Env: KUBECONFIG.",
)
_NAMESPACE = click.option("-n", "--namespace", default="default", show_default=True, help="The pod's namespace.")


def _connect(kubeconfig: Path) -> Any:
    from certcsi.kube.config import open_transport

    return open_transport(kubeconfig=str(kubeconfig), qps=0, burst=1, user_agent="certcsi-sandbox")


@sandbox.command("files")
@click.argument("pod")
@click.argument("volume", required=False)
@_NAMESPACE
@_KUBECONFIG
def sandbox_files(pod: str, volume: str | None, namespace: str, kubeconfig: Path) -> None:
    """Show what POD's CSI volumes hold (or only VOLUME): files, modes, owner and group, certificates, key types.

    POD may also be ds/NAME or deploy/NAME. There is no `kubectl exec` into the sandbox's pods: this
    reads the volume on the node, where the pod would see it.
    """
    from certcsi.errors import KubernetesError
    from certcsi.sandbox import podfiles
    from certcsi.sandbox.locating import NotFound, find_pod, sandbox_node

    async def show() -> str:
        transport = _connect(kubeconfig)
        try:
            found = await find_pod(transport, namespace, pod)
            node = await sandbox_node(transport, found)
            return podfiles.render(found, await podfiles.pod_volumes(transport, found, node, volume=volume))
        finally:
            await transport.close()

    try:
        text = asyncio.run(show())
    except (NotFound, KubernetesError) as err:
        raise click.ClickException(str(err)) from None
    click.echo(text or f"pod {namespace}/{pod} has no CSI volumes")


@sandbox.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("pod")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@_NAMESPACE
@click.option("-c", "--container", default=None, help="The container (default: the pod's default container).")
@_KUBECONFIG
def sandbox_exec(pod: str, command: tuple[str, ...], namespace: str, container: str | None, kubeconfig: Path) -> None:
    """Run COMMAND in a container of POD, as `kubectl exec POD -- COMMAND` would (root only).

    Only containers the sandbox runs as processes (certcsi's) can be entered; the command runs in
    their mount namespace, working directory and environment. POD may also be ds/NAME or deploy/NAME:

        certcsi sandbox exec -n cert-manager ds/cert-manager-csi-driver -- certcsi inspect --data-root csi-data-dir
    """
    import os
    import subprocess

    from certcsi.errors import KubernetesError
    from certcsi.sandbox.locating import NotFound, find_pod
    from certcsi.sandbox.podexec import container_pid, environment_of, exec_argv

    async def locate() -> int:
        transport = _connect(kubeconfig)
        try:
            return container_pid(await find_pod(transport, namespace, pod), container)[1]
        finally:
            await transport.close()

    try:
        pid = asyncio.run(locate())
        argv = exec_argv(pid, command)
        env = environment_of(pid)
    except (NotFound, KubernetesError) as err:
        raise click.ClickException(str(err)) from None
    except PermissionError:
        raise click.ClickException("sandbox exec: entering a container needs root") from None
    if os.geteuid() != 0:
        raise click.ClickException("sandbox exec: entering a container needs root")
    raise SystemExit(subprocess.run(argv, env=env, check=False).returncode)
