"""The csi-driver-spiffe chart: the spiffe.csi.cert-manager.io node driver and the approver Deployment."""

from __future__ import annotations

from certcsi.install._errors import ValuesError
from certcsi.install._node import COMPONENT as DRIVER
from certcsi.install._node import NodePlugin, csi_driver_object, driver_rules, node_daemonset
from certcsi.install._objects import (
    CERT_MANAGER,
    Obj,
    Release,
    image_of,
    image_ref,
    placement,
    rbac,
    rule,
    service_account,
    verbosity,
    with_optional,
)
from certcsi.install.values import Values

CHART_NAME = "cert-manager-csi-driver-spiffe"
APPROVER = "approver"
# The approver runs as this uid whatever the image says (runAsNonRoot alone trusts the image's USER).
APPROVER_UID = 65532


def build(values: Values) -> list[Obj]:
    _check(values)
    release = Release.of(values, CHART_NAME)
    name, approver = release.name, f"{release.name}-approver"
    objects = [service_account(release, name, DRIVER), service_account(release, approver, APPROVER)]
    objects += rbac(
        release,
        name=name,
        account=name,
        component=DRIVER,
        cluster_rules=driver_rules(values, creates_requests=values.flag("app.driver.useOwnServiceAccount")),
        namespace_rules=_config_map_rules(values),
    )
    objects += rbac(
        release,
        name=approver,
        account=approver,
        component=APPROVER,
        cluster_rules=approver_rules(values),
        namespace_rules=approver_namespace_rules(values),
    )
    objects.append(csi_driver_object(release, driver_name=values.text("app.name"), token_requests=True))
    objects.append(node_daemonset(release, values, _plugin(values, release)))
    objects.append(_approver_deployment(release, values))
    if values.flag("app.approver.metrics.service.enabled"):
        objects.append(_metrics_service(release, values))
        if values.flag("app.approver.metrics.service.servicemonitor.enabled"):
            objects.append(_service_monitor(release, values))
    return objects


def _check(values: Values) -> None:
    if not values.text("app.issuer.name") and not values.text("app.runtimeIssuanceConfigMap"):
        raise ValuesError(
            "value app.issuer.name: must be set unless app.runtimeIssuanceConfigMap is set "
            "(with neither, the driver has no issuer and refuses to start)",
            key="app.issuer.name",
        )


def approver_rules(values: Values) -> list[Obj]:
    """Exactly the cluster-wide calls of the approver."""
    rules = [
        # The one watch of CertificateRequests waiting for a verdict.
        rule(CERT_MANAGER, ["certificaterequests"], ["list", "watch"]),
        # Approved / Denied conditions, written as a merge patch of the status subresource.
        rule(CERT_MANAGER, ["certificaterequests/status"], ["patch"]),
        # cert-manager's webhook lets a user set Approved / Denied only with `approve` on the issuer's signer.
        rule(CERT_MANAGER, ["signers"], ["approve"], signer_names(values)),
        # An Event on a request it decided (list finds one written before a restart). Never `patch`:
        # a decision is final, so the same Event is never recorded twice and no count is bumped.
        rule("", ["events"], ["create", "list"]),
    ]
    if values.flag("app.driver.useOwnServiceAccount"):
        # The requester is then the driver, so the identity is checked against the Pod in the owner reference.
        rules.append(rule("", ["pods"], ["get"]))
    return rules


def approver_namespace_rules(values: Values) -> list[Obj]:
    """Leader election on the Lease named after the driver (create cannot be limited by name)."""
    lease = values.text("app.name")
    rules = [
        rule("coordination.k8s.io", ["leases"], ["create"]),
        rule("coordination.k8s.io", ["leases"], ["get", "update"], [lease]),
    ]
    if values.flag("app.approver.autoApproveNonSpiffe"):
        # Only auto-approval needs the live SPIFFE issuer, to deny unannotated requests aimed at it.
        rules += _config_map_rules(values)
    return rules


def signer_names(values: Values) -> list[str]:
    """The `signers` resourceNames the approver needs; [] means every signer (no resourceNames)."""
    explicit = values.text("app.approver.signerName")
    if explicit:
        return [explicit]
    if values.flag("app.approver.autoApproveNonSpiffe") or values.text("app.runtimeIssuanceConfigMap"):
        # Requests for any issuer are approved, or the issuer changes at runtime: no fixed name covers it.
        return []
    kind, group, name = (values.text(f"app.issuer.{part}") for part in ("kind", "group", "name"))
    plural = {"Issuer": "issuers", "ClusterIssuer": "clusterissuers"}.get(kind) if group == CERT_MANAGER else None
    plural = plural or kind.lower() + "s"
    if kind.endswith("ClusterIssuer"):
        return [f"{plural}.{group}/{name}"]
    # A namespaced issuer of this name in every namespace a pod may run in: cert-manager's wildcard form.
    return [f"{plural}.{group}/*"]


def _config_map_rules(values: Values) -> list[Obj]:
    config_map = values.text("app.runtimeIssuanceConfigMap")
    # A list + watch field-selected on the name, which resourceNames can authorise.
    return [rule("", ["configmaps"], ["list", "watch"], [config_map])] if config_map else []


def _image(values: Values, which: str) -> tuple[str, str]:
    """Upstream's older `image.*` block wins field by field over `driverImage` / `approverImage`."""

    def pick(old: str, new: str) -> str | None:
        return values.optional_text(f"image.{old}") or values.optional_text(f"{which}Image.{new}")

    ref = image_ref(
        registry=pick("registry", "registry"),
        repository=pick(f"repository.{which}", "repository") or "",
        tag=pick("tag", "tag"),
        digest=pick(f"digest.{which}", "digest"),
    )
    return ref, pick("pullPolicy", "pullPolicy") or "IfNotPresent"


def _issuer_args(values: Values) -> list[str]:
    if not values.text("app.issuer.name"):
        return []
    return [f"--issuer-{part}={values.text(f'app.issuer.{part}')}" for part in ("name", "kind", "group")]


def _plugin(values: Values, release: Release) -> NodePlugin:
    args = [
        f"--csi-driver-name={values.text('app.name')}",
        f"--trust-domain={values.text('app.trustDomain')}",
        f"--certificate-request-duration={values.text('app.certificateRequestDuration')}",
        *_issuer_args(values),
        *(
            f"--file-name-{flag}={values.text(f'app.driver.volumeFileName.{key}')}"
            for flag, key in (("certificate", "cert"), ("key", "key"), ("ca", "ca"))
        ),
    ]
    bundle = values.optional_text("app.driver.sourceCABundle")
    if bundle:
        args.append(f"--source-ca-bundle={bundle}")
    config_map = values.text("app.runtimeIssuanceConfigMap")
    if config_map:
        args += [
            f"--runtime-issuance-config-map-name={config_map}",
            f"--runtime-issuance-config-map-namespace={release.namespace}",
        ]
    annotations = values.optional_text("app.extraCertificateRequestAnnotations")
    if annotations:
        args.append(f"--extra-certificate-request-annotations={annotations}")
    if values.flag("app.driver.useOwnServiceAccount"):
        args.append("--use-own-service-account")
    image, pull_policy = _image(values, "driver")
    return NodePlugin(
        name=f"{release.name}-driver",
        container=CHART_NAME,
        service_account=release.name,
        driver_name=values.text("app.name"),
        command=["certcsi", "spiffe-driver"],
        args=args,
        image=image,
        pull_policy=pull_policy,
        kubelet_root=values.text("app.kubeletRootDir"),
        data_dir=values.text("app.driver.csiDataDir"),
        health_port=values.number("app.driver.livenessProbe.port"),
        log_level=values.number("app.logLevel"),
        registrar_image=image_of(values, "app.driver.nodeDriverRegistrarImage"),
        liveness_image=image_of(values, "app.driver.livenessProbeImage"),
        resources=values.mapping("app.driver.resources"),
        extra_volumes=values.items("app.driver.volumes"),
        extra_mounts=values.items("app.driver.volumeMounts"),
    )


def _approver_args(values: Values, release: Release) -> list[str]:
    args = [
        *verbosity(values.number("app.logLevel")),
        f"--csi-driver-name={values.text('app.name')}",
        f"--trust-domain={values.text('app.trustDomain')}",
        f"--certificate-request-duration={values.text('app.certificateRequestDuration')}",
        *_issuer_args(values),
        "--leader-election-namespace=$(POD_NAMESPACE)",
        f"--metrics-bind-address=:{values.number('app.approver.metrics.port')}",
        f"--readiness-probe-bind-address=:{values.number('app.approver.readinessProbe.port')}",
    ]
    if values.flag("app.approver.autoApproveNonSpiffe"):
        args.append("--auto-approve-non-spiffe")
        config_map = values.text("app.runtimeIssuanceConfigMap")
        if config_map:
            args += [
                f"--runtime-issuance-config-map-name={config_map}",
                f"--runtime-issuance-config-map-namespace={release.namespace}",
            ]
    if values.flag("app.driver.useOwnServiceAccount"):
        args += [
            "--use-own-service-account",
            f"--driver-service-account=system:serviceaccount:{release.namespace}:{release.name}",
        ]
    return args


def _approver_deployment(release: Release, values: Values) -> Obj:
    name = f"{release.name}-approver"
    image, pull_policy = _image(values, "approver")
    container: Obj = {
        "name": name,
        "image": image,
        "imagePullPolicy": pull_policy,
        "command": ["certcsi", "approver"],
        "args": _approver_args(values, release),
        "env": [{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
        "ports": [
            {"name": "metrics", "containerPort": values.number("app.approver.metrics.port"), "protocol": "TCP"},
            {"name": "readyz", "containerPort": values.number("app.approver.readinessProbe.port"), "protocol": "TCP"},
        ],
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": "readyz"},
            "initialDelaySeconds": 3,
            "periodSeconds": 7,
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
    }
    pod_spec: Obj = {
        "serviceAccountName": name,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": APPROVER_UID,
            "runAsGroup": APPROVER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [with_optional(container, resources=values.mapping("app.approver.resources"))],
        **placement(values),
    }
    spread = values.items("topologySpreadConstraints")
    if spread:
        pod_spec["topologySpreadConstraints"] = spread
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": release.metadata(name, component=APPROVER),
        "spec": {
            "replicas": values.number("app.approver.replicaCount"),
            "selector": {"matchLabels": release.selector(APPROVER)},
            "template": {
                "metadata": {
                    "labels": release.labels(APPROVER),
                    "annotations": {"kubectl.kubernetes.io/default-container": name},
                },
                "spec": pod_spec,
            },
        },
    }


def _metrics_service(release: Release, values: Values) -> Obj:
    port = values.number("app.approver.metrics.port")
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": release.metadata(f"{release.name}-approver-metrics", component=APPROVER),
        "spec": {
            "type": values.text("app.approver.metrics.service.type"),
            "ports": [{"name": "metrics", "port": port, "targetPort": "metrics", "protocol": "TCP"}],
            "selector": release.selector(APPROVER),
        },
    }


def _service_monitor(release: Release, values: Values) -> Obj:
    """Prometheus Operator's ServiceMonitor for the approver's metrics Service."""
    prefix = "app.approver.metrics.service.servicemonitor"
    labels = {**values.mapping(f"{prefix}.labels"), "prometheus": values.text(f"{prefix}.prometheusInstance")}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": release.metadata(f"{release.name}-approver", component=APPROVER, labels=labels),
        "spec": {
            "jobLabel": f"{release.name}-approver",
            "selector": {"matchLabels": release.selector(APPROVER)},
            "namespaceSelector": {"matchNames": [release.namespace]},
            "endpoints": [
                {
                    "port": "metrics",
                    "path": "/metrics",
                    "interval": values.text(f"{prefix}.interval"),
                    "scrapeTimeout": values.text(f"{prefix}.scrapeTimeout"),
                }
            ],
        },
    }
