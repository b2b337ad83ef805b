"""The one `certcsi` command: drivers, approver, sandbox, install and inspect."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from certcsi import __version__
from certcsi.logs import verbosity_option

if TYPE_CHECKING:
    from certcsi.approver.evaluator import Policy
    from certcsi.approver.health import BindAddress
    from certcsi.volumes.gates import Gate, GateBackoff


def _configure_logging(verbosity: int) -> None:
    from certcsi.logs import configure_from_cli

    configure_from_cli(verbosity)


def _node_http_options(command: Callable[..., None]) -> Callable[..., None]:
    """--metrics-bind-address and --readiness-probe-bind-address of the node drivers."""
    command = click.option(
        "--readiness-probe-bind-address",
        default="0",
        show_default=True,
        help="host:port (or :port) for /healthz and /readyz alone (the metrics address serves them too); "
        "0 disables it.",
    )(command)
    return click.option(
        "--metrics-bind-address",
        default="0",
        show_default=True,
        help="host:port (or :port) for /metrics, /healthz and /readyz; 0 disables it (the install manifests "
        "pass :9402 when metrics.enabled).",
    )(command)


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
@verbosity_option()
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
@_node_http_options
@verbosity_option()
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
    metrics_bind_address: str,
    readiness_probe_bind_address: str,
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
        metrics_address=_bind_address(metrics_bind_address, "--metrics-bind-address"),
        readiness_address=_bind_address(readiness_probe_bind_address, "--readiness-probe-bind-address"),
    )
    driver = CertManagerDriver(name=driver_name)
    run_until_signalled(lambda stop: run_node_plugin(driver=driver, options=options, stop=stop))


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


def _parse_pod(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, str] | None:
    from certcsi.inspecting import parse_pod

    if value is None:
        return None
    try:
        return parse_pod(value)
    except ValueError as err:
        raise click.BadParameter(str(err), ctx=ctx, param=param) from None


@main.command("inspect")
@click.option(
    "--data-root",
    type=click.Path(path_type=Path),
    default=Path("/csi-data-dir"),
    show_default=True,
    help="The driver's --data-root (volumes are read from <data-root>/inmemfs).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON array of volumes instead of a table.")
@click.option("--pod", callback=_parse_pod, metavar="NAMESPACE/NAME", help="Only this pod's volumes, in detail.")
def inspect_command(data_root: Path, as_json: bool, pod: tuple[str, str] | None) -> None:
    """Show every volume on this node: pod, identity, not-after, next renewal, last error (no API needed)."""
    import sys

    from certcsi.inspecting import run

    code = run(data_root=data_root, as_json=as_json, pod=pod, out=sys.stdout, err=sys.stderr)
    if code:
        raise SystemExit(code)


def _optional_path(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    # Upstream's chart passes `--source-ca-bundle=` when none is configured: empty means "no bundle".
    return Path(value) if value else None


@main.command("spiffe-driver")
@click.option("--csi-driver-name", default="spiffe.csi.cert-manager.io", show_default=True, help="CSI driver name.")
@click.option("--node-id", envvar="NODE_ID", required=True, help="This node's name (spec.nodeName). Env: NODE_ID.")
@click.option(
    "--endpoint",
    envvar="CSI_ENDPOINT",
    default="unix:///plugin/csi.sock",
    show_default=True,
    help="CSI socket (unix:///abs/path.sock). Env: CSI_ENDPOINT.",
)
@click.option(
    "--data-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/csi-data-dir"),
    show_default=True,
    help="Where volume data lives; <data-root>/inmemfs is a tmpfs.",
)
@click.option(
    "--trust-domain", default="cluster.local", show_default=True, help="Trust domain of every SPIFFE ID issued."
)
@click.option(
    "--certificate-request-duration",
    type=GoDuration(),
    default="1h",
    show_default=True,
    help="spec.duration of every CertificateRequest (the approver enforces the same value).",
)
@click.option("--issuer-name", default="", help="Issuer for requests while no runtime ConfigMap says otherwise.")
@click.option("--issuer-kind", default="ClusterIssuer", show_default=True, help="Kind of --issuer-name.")
@click.option("--issuer-group", default="cert-manager.io", show_default=True, help="API group of --issuer-name.")
@click.option(
    "--runtime-issuance-config-map-name",
    default="",
    help="ConfigMap (keys issuer-name, issuer-kind, issuer-group) whose issuer, while valid, overrides --issuer-*.",
)
@click.option(
    "--runtime-issuance-config-map-namespace", default="", help="Namespace of --runtime-issuance-config-map-name."
)
@click.option(
    "--extra-certificate-request-annotations",
    default="",
    metavar="K=V,...",
    help="Annotations added to every CertificateRequest (spiffe.csi.cert-manager.io keys are dropped).",
)
@click.option("--file-name-certificate", default="tls.crt", show_default=True, help="Certificate chain file name.")
@click.option("--file-name-key", default="tls.key", show_default=True, help="Private key file name (PKCS#8).")
@click.option("--file-name-ca", default="ca.crt", show_default=True, help="CA bundle file name (with a bundle source).")
@click.option(
    "--source-ca-bundle",
    default=None,
    callback=_optional_path,
    help="PEM file written to every volume as --file-name-ca, and rewritten there whenever it changes.",
)
@click.option(
    "--use-own-service-account",
    is_flag=True,
    help="Create requests as the driver's own service account instead of the pod's (the approver must agree).",
)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None, help="Kubeconfig; in-cluster if unset.")
@click.option(
    "--unsafe-no-mount",
    is_flag=True,
    help="UNSAFE, demo only: plain directories and symlinks instead of tmpfs and read-only bind mounts.",
)
@click.option(
    "--kube-api-qps", type=float, default=50.0, show_default=True, help="Issuance budget, all volumes: req/s."
)
@click.option("--kube-api-burst", type=int, default=100, show_default=True, help="Issuance budget: burst.")
@_node_http_options
@verbosity_option()
@click.option("--log-level", type=int, default=0, help="Upstream's log level (1-5); same as that many -v.")
def spiffe_driver_command(
    csi_driver_name: str,
    node_id: str,
    endpoint: str,
    data_root: Path,
    trust_domain: str,
    certificate_request_duration: float,
    issuer_name: str,
    issuer_kind: str,
    issuer_group: str,
    runtime_issuance_config_map_name: str,
    runtime_issuance_config_map_namespace: str,
    extra_certificate_request_annotations: str,
    file_name_certificate: str,
    file_name_key: str,
    file_name_ca: str,
    source_ca_bundle: Path | None,
    use_own_service_account: bool,
    kubeconfig: str | None,
    unsafe_no_mount: bool,
    kube_api_qps: float,
    kube_api_burst: int,
    verbosity: int,
    log_level: int,
    metrics_bind_address: str,
    readiness_probe_bind_address: str,
) -> None:
    """Run the spiffe.csi.cert-manager.io node driver: every pod gets an X.509 SVID for its service account."""
    from datetime import timedelta

    from certcsi.drivers.spiffe import parse_extra_annotations
    from certcsi.drivers.spiffe.plugin import SpiffeOptions, build_plugin
    from certcsi.nodeplugin import NodeOptions, run_node_plugin
    from certcsi.volumes.driver import IssuerRef

    _configure_logging(max(verbosity, log_level, 1))
    try:
        extra = parse_extra_annotations(extra_certificate_request_annotations)
        plugin = build_plugin(
            SpiffeOptions(
                driver_name=csi_driver_name,
                trust_domain=trust_domain,
                certificate_duration=timedelta(seconds=certificate_request_duration),
                issuer=IssuerRef(name=issuer_name, kind=issuer_kind, group=issuer_group) if issuer_name else None,
                configmap_name=runtime_issuance_config_map_name,
                configmap_namespace=runtime_issuance_config_map_namespace,
                extra_annotations=extra.annotations,
                use_own_service_account=use_own_service_account,
                certificate_file=file_name_certificate,
                key_file=file_name_key,
                ca_file=file_name_ca,
                source_ca_bundle=source_ca_bundle,
            )
        )
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    if extra.dropped:
        logging.getLogger("certcsi.spiffe").warning(
            "dropped reserved keys from --extra-certificate-request-annotations: %s", ", ".join(extra.dropped)
        )
    options = NodeOptions(
        node_id=node_id,
        endpoint=endpoint,
        data_root=data_root,
        kubeconfig=kubeconfig,
        kube_api_qps=kube_api_qps,
        kube_api_burst=kube_api_burst,
        # The driver's request plan carries the pod's token itself (none with --use-own-service-account).
        use_token_request=False,
        unsafe_no_mount=unsafe_no_mount,
        metrics_address=_bind_address(metrics_bind_address, "--metrics-bind-address"),
        readiness_address=_bind_address(readiness_probe_bind_address, "--readiness-probe-bind-address"),
    )
    run_until_signalled(
        lambda stop: run_node_plugin(driver=plugin.driver, options=options, stop=stop, hooks=plugin.hooks)
    )


def _approver_policy(
    *,
    trust_domain: str,
    duration: float,
    issuer: tuple[str, str, str],
    allowed_key_types: str,
    own_service_account: str | None,
    auto_approve_non_spiffe: bool,
) -> Policy:
    """The evaluator's policy from the approver's flags; a bad value is reported against its flag."""
    from datetime import timedelta

    from certcsi.approver.evaluator import Policy, normalise_issuer_ref, parse_key_types

    try:
        key_types = parse_key_types(allowed_key_types)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="'--allowed-key-types'") from None
    checks = (
        ("--trust-domain", "trust_domain"),
        ("--certificate-request-duration", "certificate_duration"),
        ("--driver-service-account", "own_service_account"),
    )
    try:
        return Policy(
            trust_domain=trust_domain,
            certificate_duration=timedelta(seconds=duration),
            issuer_ref=normalise_issuer_ref(*issuer) if issuer[0] else None,
            allowed_key_types=key_types,
            own_service_account=own_service_account,
            auto_approve_non_spiffe=auto_approve_non_spiffe,
        )
    except ValueError as err:
        flag = next((flag for flag, field in checks if str(err).startswith(field)), "--trust-domain")
        raise click.BadParameter(str(err), param_hint=f"'{flag}'") from None


def _bind_address(value: str, flag: str) -> BindAddress | None:
    from certcsi.approver.health import parse_bind_address

    try:
        return parse_bind_address(value, flag=flag)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint=f"'{flag}'") from None


@main.command("approver")
@click.option(
    "--csi-driver-name",
    default="spiffe.csi.cert-manager.io",
    show_default=True,
    help="The SPIFFE CSI driver's name; the leader election Lease is named after it.",
)
@click.option("--trust-domain", default="cluster.local", show_default=True, help="Trust domain requests must be in.")
@click.option(
    "--certificate-request-duration",
    type=GoDuration(),
    default="1h",
    show_default=True,
    help="The spec.duration every request must have.",
)
@click.option("--issuer-name", default="my-spiffe-ca", show_default=True, help="The SPIFFE issuer's name.")
@click.option("--issuer-kind", default="ClusterIssuer", show_default=True, help="The SPIFFE issuer's kind.")
@click.option("--issuer-group", default="cert-manager.io", show_default=True, help="The SPIFFE issuer's group.")
@click.option(
    "--runtime-issuance-config-map-name",
    default="",
    help="ConfigMap naming the SPIFFE issuer at runtime (issuer-name/-kind/-group); followed with "
    "--auto-approve-non-spiffe, the only decision that depends on the issuer.",
)
@click.option(
    "--runtime-issuance-config-map-namespace",
    default="",
    help="Namespace of that ConfigMap (default: the approver's own namespace).",
)
@click.option(
    "--use-own-service-account",
    is_flag=True,
    help="The driver creates requests as itself: require --driver-service-account as the requester, and the "
    "requested identity to be the owner Pod's (looked up live).",
)
@click.option(
    "--driver-service-account",
    default="",
    help="The driver's username, system:serviceaccount:<namespace>:<name> (with --use-own-service-account).",
)
@click.option(
    "--auto-approve-non-spiffe",
    is_flag=True,
    help="Also decide requests without the SPIFFE identity annotation: approved unless they carry a spiffe:// "
    "URI or target the SPIFFE issuer (replaces cert-manager's built-in approver).",
)
@click.option(
    "--allowed-key-types",
    default="ECDSA-P256",
    show_default=True,
    help="Comma-separated key types a CSR may use (ECDSA-P256/-P384/-P521, RSA-2048/-3072/-4096/-8192, Ed25519).",
)
@click.option(
    "--leader-election-namespace",
    default=None,
    help="Namespace of the leader election Lease [default: $POD_NAMESPACE, else the pod's, else cert-manager].",
)
@click.option(
    "--leader-election-lease-duration",
    type=GoDuration(),
    default="15s",
    show_default=True,
    help="How long a standby waits, after the Lease last changed, before taking it over.",
)
@click.option(
    "--leader-election-renew-deadline",
    type=GoDuration(),
    default="10s",
    show_default=True,
    help="The leader stops approving when it has not renewed the Lease for this long.",
)
@click.option(
    "--leader-election-retry-period",
    type=GoDuration(),
    default="2s",
    show_default=True,
    help="Time between renewals, and between a standby's looks at the Lease.",
)
@click.option(
    "--metrics-bind-address",
    default=":9402",
    show_default=True,
    help="host:port (or :port) for /metrics; 0 disables it.",
)
@click.option(
    "--readiness-probe-bind-address",
    default=":6060",
    show_default=True,
    help="host:port (or :port) for /readyz and /healthz; 0 disables it.",
)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None, help="Kubeconfig; in-cluster if unset.")
@click.option(
    "--kube-api-qps",
    type=float,
    default=500.0,
    show_default=True,
    help="Client budget, requests/s (a backlog of 1,000 pending requests is decided in about 2 s).",
)
@click.option("--kube-api-burst", type=int, default=1000, show_default=True, help="Client budget: burst.")
@click.option("--workers", type=click.IntRange(min=1), default=16, show_default=True, help="Requests decided at once.")
@click.option(
    "--events",
    type=click.Choice(["none", "denials", "all"]),
    default="denials",
    show_default=True,
    help="Which decisions also get an Event on the CertificateRequest (each costs two API calls).",
)
@verbosity_option()
def approver_command(
    csi_driver_name: str,
    trust_domain: str,
    certificate_request_duration: float,
    issuer_name: str,
    issuer_kind: str,
    issuer_group: str,
    runtime_issuance_config_map_name: str,
    runtime_issuance_config_map_namespace: str,
    use_own_service_account: bool,
    driver_service_account: str,
    auto_approve_non_spiffe: bool,
    allowed_key_types: str,
    leader_election_namespace: str | None,
    leader_election_lease_duration: float,
    leader_election_renew_deadline: float,
    leader_election_retry_period: float,
    metrics_bind_address: str,
    readiness_probe_bind_address: str,
    kubeconfig: str | None,
    kube_api_qps: float,
    kube_api_burst: int,
    workers: int,
    events: Literal["none", "denials", "all"],
    verbosity: int,
) -> None:
    """Run the approver that decides csi-driver-spiffe's CertificateRequests."""
    from certcsi.approver.leader import ElectionConfig
    from certcsi.approver.running import ApproverSettings, default_namespace, run_approver

    if use_own_service_account and not driver_service_account:
        raise click.BadParameter(
            "required with --use-own-service-account (system:serviceaccount:<namespace>:<name>)",
            param_hint="'--driver-service-account'",
        )
    policy = _approver_policy(
        trust_domain=trust_domain,
        duration=certificate_request_duration,
        issuer=(issuer_name, issuer_kind, issuer_group),
        allowed_key_types=allowed_key_types,
        own_service_account=driver_service_account if use_own_service_account else None,
        auto_approve_non_spiffe=auto_approve_non_spiffe,
    )
    namespace = leader_election_namespace or default_namespace()
    try:
        ElectionConfig(
            namespace=namespace,
            name=csi_driver_name,
            identity="check",
            lease_duration=leader_election_lease_duration,
            renew_deadline=leader_election_renew_deadline,
            retry_period=leader_election_retry_period,
        )
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="'--leader-election-*'") from None
    _configure_logging(max(verbosity, 1))
    runtime_configmap = None
    if runtime_issuance_config_map_name and auto_approve_non_spiffe:
        runtime_configmap = (
            runtime_issuance_config_map_namespace or default_namespace(),
            runtime_issuance_config_map_name,
        )
    elif runtime_issuance_config_map_name:
        logging.getLogger(__name__).info(
            "--runtime-issuance-config-map-name is not followed without --auto-approve-non-spiffe "
            "(no other decision depends on the issuer)"
        )
    settings = ApproverSettings(
        policy=policy,
        driver_name=csi_driver_name,
        leader_election_namespace=namespace,
        kubeconfig=kubeconfig,
        lease_duration=leader_election_lease_duration,
        renew_deadline=leader_election_renew_deadline,
        retry_period=leader_election_retry_period,
        metrics_address=_bind_address(metrics_bind_address, "--metrics-bind-address"),
        readiness_address=_bind_address(readiness_probe_bind_address, "--readiness-probe-bind-address"),
        runtime_configmap=runtime_configmap,
        kube_api_qps=kube_api_qps,
        kube_api_burst=kube_api_burst,
        workers=workers,
        events=events,
    )
    run_until_signalled(lambda stop: run_approver(settings, stop=stop))
