"""Shared pieces for the spiffe.csi.cert-manager.io driver tests: real tokens, volumes, a CA.

Tokens come from the sandbox's TokenAuthority (what the test API server mints for kubelet), so
their claims have the exact shape kube-apiserver gives projected service-account tokens.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509

from certcsi.drivers.spiffe import RuntimeIssuer, SpiffeDriver
from certcsi.pki.certs import chain_pem
from certcsi.pki.keys import PrivateKey
from certcsi.pki.signing import create_ca, sign_csr
from certcsi.sandbox.apiserver.authn import PODS, SERVICEACCOUNTS, TokenAuthority
from certcsi.volumes.driver import Issued, IssuerRef, RequestPlan, Volume

TOKENS = "csi.storage.k8s.io/serviceAccount.tokens"
NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
NS, SA, POD, POD_UID = "sandbox", "app", "app-7d9c", "pod-uid-1"
SPIFFE_ID = f"spiffe://cluster.local/ns/{NS}/sa/{SA}"
FLAG_ISSUER = IssuerRef(name="spiffe-ca", kind="ClusterIssuer", group="cert-manager.io")
CA_KEY, CA_CERT = create_ca(common_name="spiffe test CA", now=NOW)


class Objects:
    """A dict-backed ObjectReader holding the ServiceAccounts and Pods the authority checks."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None, str], dict[str, Any]] = {}

    def add_pod(self, namespace: str, name: str, uid: str, service_account: str) -> None:
        self.objects[(SERVICEACCOUNTS, namespace, service_account)] = {
            "metadata": {"name": service_account, "namespace": namespace, "uid": f"sa-{namespace}-{service_account}"}
        }
        self.objects[(PODS, namespace, name)] = {
            "metadata": {"name": name, "namespace": namespace, "uid": uid},
            "spec": {"serviceAccountName": service_account},
        }

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects.get((resource, namespace, name))

    def list(self, resource: str, namespace: str | None) -> list[dict[str, Any]]:
        return [o for (r, ns, _), o in self.objects.items() if r == resource and namespace in (None, ns)]


OBJECTS = Objects()
OBJECTS.add_pod(NS, POD, POD_UID, SA)
OBJECTS.add_pod(NS, "other-pod", "pod-uid-2", "other")
AUTHORITY = TokenAuthority(reader=OBJECTS)


def pod_token(namespace: str = NS, service_account: str = SA, pod: str = POD, uid: str = POD_UID) -> str:
    """A ""-audience token bound to the pod, as kubelet requests it for a CSI driver."""
    token, _ = AUTHORITY.mint(
        namespace=namespace, service_account=service_account, audiences=None, bound_pod=(pod, uid)
    )
    return token


def tokens_json(token: str) -> str:
    return json.dumps({"": {"token": token, "expirationTimestamp": "2025-01-01T13:00:00Z"}})


def volume(
    *,
    attributes: Mapping[str, str] | None = None,
    token: str | None = None,
    secrets: Mapping[str, str] | None = None,
    mount_group: int | None = None,
) -> Volume:
    """A Volume as the engine builds it: pod info in the attributes, the tokens JSON in secrets."""
    context = {
        "csi.storage.k8s.io/ephemeral": "true",
        "csi.storage.k8s.io/pod.name": POD,
        "csi.storage.k8s.io/pod.namespace": NS,
        "csi.storage.k8s.io/pod.uid": POD_UID,
        "csi.storage.k8s.io/serviceAccount.name": SA,
        **(attributes or {}),
    }
    if secrets is None:
        secrets = {TOKENS: tokens_json(token if token is not None else pod_token())}
    return Volume(
        volume_id="csi-0123",
        target_path="/var/lib/kubelet/pods/x/volumes/kubernetes.io~csi/spiffe/mount",
        attributes=context,
        mount_group=mount_group,
        secrets=dict(secrets),
    )


def driver(**kwargs: Any) -> SpiffeDriver:
    kwargs.setdefault("issuer", RuntimeIssuer(FLAG_ISSUER))
    return SpiffeDriver(**kwargs)


def issue(plan: RequestPlan, *, ca_key: PrivateKey = CA_KEY, ca_cert: x509.Certificate = CA_CERT) -> Issued:
    """Sign the plan as cert-manager's CA issuer would."""
    leaf = sign_csr(
        ca_key=ca_key,
        ca_cert=ca_cert,
        csr=x509.load_pem_x509_csr(plan.csr_pem),
        duration=plan.duration or timedelta(hours=1),
        usages=plan.usages,
        is_ca=plan.is_ca,
        now=NOW,
    )
    return Issued(
        certificate_pem=chain_pem([leaf, ca_cert]),
        ca_pem=chain_pem([ca_cert]),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        request_name="csi-req-1",
    )
