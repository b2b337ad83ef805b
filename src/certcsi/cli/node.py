"""The node driver commands: `certcsi driver` (csi.cert-manager.io) and `certcsi spiffe-driver`."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from certcsi.cli._common import (
    GoDuration,
    NodePluginFlags,
    configure_logging,
    node_plugin_options,
    optional_path,
    run_until_signalled,
)
from certcsi.cli._goflags import GoBoolOption, GoCommand, GoFloat, GoInt
from certcsi.pki.keypool import DEFAULT_POOL_SIZE, MAX_POOL_SIZE

if TYPE_CHECKING:
    from certcsi.volumes.gates import Gate
    from certcsi.volumes.schedule import Backoff


def _parse_gates(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> tuple[Gate, ...]:
    from certcsi.volumes.gates import GateFlagError, parse_gates

    # Repeated, or comma-separated as a pflag string slice: a gate itself never holds a comma.
    specs = [spec for value in values for spec in value.split(",") if spec]
    try:
        return parse_gates(specs)
    except GateFlagError as err:
        raise click.BadParameter(err.detail, ctx=ctx, param=param) from None


def _gate_options(
    gates: tuple[Gate, ...], *, continue_on_not_ready: bool, duration: float, factor: float, jitter: float, cap: float
) -> Backoff:
    """The gate backoff, checked together with the gates (cross-flag rules name their flag)."""
    from certcsi.volumes.gates import GateFlagError, check_gates_can_pass, gate_backoff

    try:
        check_gates_can_pass(gates, continue_on_not_ready=continue_on_not_ready)
        return gate_backoff(duration=duration, factor=factor, jitter=jitter, cap=cap)
    except GateFlagError as err:
        raise click.BadParameter(err.detail, param_hint=f"'{err.flag}'") from None


_strict_attributes = click.option(
    "--strict-attributes",
    cls=GoBoolOption,
    help="Refuse a volume with an unknown attribute in the driver's namespace (by default it is ignored, as "
    "upstream does, and a Warning Event on the Pod names it and the nearest known attribute).",
)

_key_pool_size = click.option(
    "--key-pool-size",
    type=GoInt(minimum=0, maximum=MAX_POOL_SIZE),
    default=DEFAULT_POOL_SIZE,
    show_default=True,
    help="Private keys made ahead, in memory only, per key type in use (a type joins on first use; once half "
    "are taken a background thread makes it full again, so an idle node makes none); 0: every key is made when "
    "needed.",
)


@click.command("driver", cls=GoCommand)
@click.option("--driver-name", default="csi.cert-manager.io", show_default=True, help="CSI driver name.")
@click.option(
    "--use-token-request",
    cls=GoBoolOption,
    help="Create each CertificateRequest with the pod's own service-account token (CSIDriver tokenRequests).",
)
@click.option(
    "--issue-timeout", type=GoFloat(finite=True), default=60.0, show_default=True, help="Seconds to wait for issuance."
)
@click.option(
    "--pod-readiness-gate",
    "pod_readiness_gates",
    multiple=True,
    callback=_parse_gates,
    metavar="GATE",
    help="Issue only once the pod passes this gate (repeatable or comma-separated, all must pass): "
    "pod-ip:any|ipv4|ipv6, "
    "pod-condition:Type[=Status], pod-annotation:key. Any gate makes the driver watch the pods on its node; "
    "pod-ip also defines ${POD_IP} for volume attributes.",
)
@click.option(
    "--continue-on-not-ready",
    cls=GoBoolOption,
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
@click.option(
    "--gate-backoff-factor", type=GoFloat(finite=True), default=2.0, show_default=True, help="Re-check delay growth."
)
@click.option(
    "--gate-backoff-jitter",
    type=GoFloat(finite=True),
    default=0.5,
    show_default=True,
    help="Up to this fraction off each delay.",
)
@click.option(
    "--gate-backoff-cap", type=GoDuration(), default="10s", show_default=True, help="Longest re-check delay; 0: none."
)
@_strict_attributes
@_key_pool_size
@node_plugin_options
def driver_command(
    node: NodePluginFlags,
    driver_name: str,
    use_token_request: bool,
    issue_timeout: float,
    pod_readiness_gates: tuple[Gate, ...],
    continue_on_not_ready: bool,
    gate_backoff_duration: float,
    gate_backoff_factor: float,
    gate_backoff_jitter: float,
    gate_backoff_cap: float,
    strict_attributes: bool,
    key_pool_size: int,
) -> None:
    """Run the csi.cert-manager.io node driver."""
    from certcsi.drivers.certmanager import CertManagerDriver
    from certcsi.nodeplugin import run_node_plugin
    from certcsi.pki.keypool import KeyPool

    gate_backoff = _gate_options(
        pod_readiness_gates,
        continue_on_not_ready=continue_on_not_ready,
        duration=gate_backoff_duration,
        factor=gate_backoff_factor,
        jitter=gate_backoff_jitter,
        cap=gate_backoff_cap,
    )
    configure_logging(node.verbosity)
    options = dataclasses.replace(
        node.node_options(),
        use_token_request=use_token_request,
        issue_timeout=issue_timeout,
        pod_readiness_gates=pod_readiness_gates,
        continue_on_not_ready=continue_on_not_ready,
        gate_backoff=gate_backoff,
    )
    keys = KeyPool(size=key_pool_size)
    driver = CertManagerDriver(name=driver_name, strict_attributes=strict_attributes, keys=keys)
    run_until_signalled(lambda stop: run_node_plugin(driver=driver, options=options, stop=stop, keys=keys))


@click.command("spiffe-driver", cls=GoCommand)
@click.option("--csi-driver-name", default="spiffe.csi.cert-manager.io", show_default=True, help="CSI driver name.")
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
@click.option(
    "--issuer-name",
    default="my-spiffe-ca",
    show_default=True,
    help="Issuer for requests while no runtime ConfigMap says otherwise; empty: the ConfigMap alone.",
)
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
    callback=optional_path,
    help="PEM file written to every volume as --file-name-ca, and rewritten there whenever it changes.",
)
@click.option(
    "--use-own-service-account",
    cls=GoBoolOption,
    help="Create requests as the driver's own service account instead of the pod's (the approver must agree).",
)
@_strict_attributes
@click.option(
    "--workload-api",
    cls=GoBoolOption,
    help="Serve the SPIFFE Workload API on a socket in every volume whose spiffe.csi.cert-manager.io/workload-api "
    'attribute is not "false" (without this flag: only in volumes where it is "true").',
)
@click.option(
    "--workload-api-socket-name",
    default="spiffe.sock",
    show_default=True,
    help="File name of the Workload API socket in each volume: SPIFFE_ENDPOINT_SOCKET=unix://<mount path>/<name>.",
)
@_key_pool_size
@node_plugin_options
def spiffe_driver_command(
    node: NodePluginFlags,
    csi_driver_name: str,
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
    strict_attributes: bool,
    workload_api: bool,
    workload_api_socket_name: str,
    key_pool_size: int,
) -> None:
    """Run the spiffe.csi.cert-manager.io node driver: every pod gets an X.509 SVID for its service account."""
    from datetime import timedelta

    from certcsi.drivers.spiffe import parse_extra_annotations
    from certcsi.drivers.spiffe.plugin import SpiffeOptions, build_plugin
    from certcsi.drivers.spiffe.workload.node import WorkloadApiOptions
    from certcsi.nodeplugin import run_node_plugin
    from certcsi.pki.keypool import KeyPool
    from certcsi.volumes.driver import IssuerRef

    configure_logging(node.verbosity)
    keys = KeyPool(size=key_pool_size)
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
                strict_attributes=strict_attributes,
                workload_api=WorkloadApiOptions(default_enabled=workload_api, socket_name=workload_api_socket_name),
            ),
            keys=keys,
        )
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    if extra.dropped:
        logging.getLogger("certcsi.spiffe").warning(
            "dropped reserved keys from --extra-certificate-request-annotations: %s", ", ".join(extra.dropped)
        )
    # The driver's request plan carries the pod's token itself (none with --use-own-service-account).
    options = dataclasses.replace(node.node_options(), use_token_request=False)
    run_until_signalled(
        lambda stop: run_node_plugin(
            driver=plugin.driver, options=options, stop=stop, hooks=plugin.hooks, observers=plugin.observers, keys=keys
        )
    )
