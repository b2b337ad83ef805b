"""`certcsi approver`: the approver that decides csi-driver-spiffe's CertificateRequests."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import click

from certcsi.cli._common import GoDuration, bind_address, configure_logging, run_until_signalled
from certcsi.cli._connection import budget_options, client_budget, kube_connection_options
from certcsi.cli._goflags import GoBoolOption, GoCommand, GoInt
from certcsi.cli._logflags import verbosity_option

if TYPE_CHECKING:
    from certcsi.approver.evaluator import Policy
    from certcsi.kube.config import ClientConfig

# What `--kube-api-qps=0` / `--kube-api-burst=0` mean here: a backlog of 1,000 pending requests is
# decided in about 2 s (client-go's own 5/10 would take minutes).
APPROVER_DEFAULT_QPS, APPROVER_DEFAULT_BURST = 500.0, 1000


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


@click.command("approver", cls=GoCommand)
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
    cls=GoBoolOption,
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
    cls=GoBoolOption,
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
    default="cert-manager",
    show_default=True,
    help="Namespace of the leader election Lease (upstream's chart passes the pod's own, $(POD_NAMESPACE)).",
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
    help="host:port (or :port) for /metrics; 0 disables it. /metrics?name[]=<name> (repeatable) serves only the "
    "series of those names, as the text shows them (a counter's ends in _total).",
)
@click.option(
    "--readiness-probe-bind-address",
    default=":6060",
    show_default=True,
    help="host:port (or :port) for /readyz and /healthz; 0 disables it.",
)
@budget_options(qps=APPROVER_DEFAULT_QPS, burst=APPROVER_DEFAULT_BURST, what="Client budget")
@click.option("--workers", type=GoInt(minimum=1), default=16, show_default=True, help="Requests decided at once.")
@click.option(
    "--events",
    type=click.Choice(["none", "denials", "all"]),
    default="denials",
    show_default=True,
    help="Which decisions also get an Event on the CertificateRequest (each costs two API calls).",
)
@verbosity_option(default=1)
@kube_connection_options
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
    leader_election_namespace: str,
    leader_election_lease_duration: float,
    leader_election_renew_deadline: float,
    leader_election_retry_period: float,
    metrics_bind_address: str,
    readiness_probe_bind_address: str,
    kube: ClientConfig,
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
    namespace = leader_election_namespace
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
    configure_logging(verbosity)
    runtime_configmap = None
    if runtime_issuance_config_map_name and auto_approve_non_spiffe:
        runtime_configmap = (
            runtime_issuance_config_map_namespace or default_namespace(),
            runtime_issuance_config_map_name,
        )
    elif runtime_issuance_config_map_name:
        # The logger the whole command line used before it was split into modules.
        logging.getLogger(__package__).info(
            "--runtime-issuance-config-map-name is not followed without --auto-approve-non-spiffe "
            "(no other decision depends on the issuer)"
        )
    qps, burst = client_budget(
        qps=kube_api_qps,
        burst=kube_api_burst,
        default_qps=APPROVER_DEFAULT_QPS,
        default_burst=APPROVER_DEFAULT_BURST,
    )
    settings = ApproverSettings(
        policy=policy,
        driver_name=csi_driver_name,
        leader_election_namespace=namespace,
        kubeconfig=kube,
        lease_duration=leader_election_lease_duration,
        renew_deadline=leader_election_renew_deadline,
        retry_period=leader_election_retry_period,
        metrics_address=bind_address(metrics_bind_address, "--metrics-bind-address"),
        readiness_address=bind_address(readiness_probe_bind_address, "--readiness-probe-bind-address"),
        runtime_configmap=runtime_configmap,
        kube_api_qps=qps,
        kube_api_burst=burst,
        workers=workers,
        events=events,
    )
    run_until_signalled(lambda stop: run_approver(settings, stop=stop))
