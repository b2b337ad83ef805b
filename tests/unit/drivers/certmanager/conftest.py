"""Shared fixtures for the csi.cert-manager.io driver tests: a pod's volume context, keys, a CA."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certcsi.drivers.certmanager.attributes import (
    DNS_NAMES,
    ISSUER_NAME,
    CertAttributes,
    parse_attributes,
)
from certcsi.errors import InvalidVolumeAttribute
from certcsi.pki.certs import chain_pem
from certcsi.pki.keys import KeySpec, PrivateKey, generate_private_key
from certcsi.pki.signing import create_ca, sign_csr
from certcsi.volumes.driver import Issued, RequestPlan, Volume

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)

POD_INFO = {
    "csi.storage.k8s.io/pod.name": "my-pod",
    "csi.storage.k8s.io/pod.namespace": "sandbox",
    "csi.storage.k8s.io/pod.uid": "0b6c-uid",
    "csi.storage.k8s.io/serviceAccount.name": "my-sa",
    "csi.storage.k8s.io/ephemeral": "true",
}
BASE = {**POD_INFO, ISSUER_NAME: "ca-issuer", DNS_NAMES: "my-pod.sandbox.svc"}

Overrides = Mapping[str, str | None]


def context_with(overrides: Overrides) -> dict[str, str]:
    """BASE with `overrides` applied; a None value removes the key."""
    context = dict(BASE)
    for key, value in overrides.items():
        if value is None:
            context.pop(key, None)
        else:
            context[key] = value
    return context


@pytest.fixture
def parse() -> Callable[[Overrides], CertAttributes]:
    return lambda overrides: parse_attributes(context_with(overrides))


@pytest.fixture
def reject() -> Callable[[Overrides], InvalidVolumeAttribute]:
    def _reject(overrides: Overrides) -> InvalidVolumeAttribute:
        with pytest.raises(InvalidVolumeAttribute) as info:
            parse_attributes(context_with(overrides))
        return info.value

    return _reject


@pytest.fixture
def reject_strict() -> Callable[[Overrides], InvalidVolumeAttribute]:
    """As `reject`, parsing as a driver run with --strict-attributes does."""

    def _reject(overrides: Overrides) -> InvalidVolumeAttribute:
        with pytest.raises(InvalidVolumeAttribute) as info:
            parse_attributes(context_with(overrides), strict=True)
        return info.value

    return _reject


@pytest.fixture
def volume_for() -> Callable[..., Volume]:
    """A Volume for BASE + overrides; `secrets` travel separately, as the engine passes them."""

    def _volume(
        overrides: Overrides, *, secrets: Mapping[str, str] | None = None, mount_group: int | None = None
    ) -> Volume:
        return Volume(
            volume_id="csi-0123",
            target_path="/var/lib/kubelet/pods/x/volumes/kubernetes.io~csi/tls/mount",
            attributes=context_with(overrides),
            mount_group=mount_group,
            secrets=dict(secrets or {}),
        )

    return _volume


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    key = generate_private_key(KeySpec("RSA", 2048))
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    key = generate_private_key(KeySpec("ECDSA", 256))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


@pytest.fixture(scope="session")
def ca() -> tuple[PrivateKey, x509.Certificate]:
    return create_ca(common_name="certmanager driver test CA", now=NOW)


@pytest.fixture
def issue(ca: tuple[PrivateKey, x509.Certificate]) -> Callable[[RequestPlan], Issued]:
    """Sign a plan's CSR as cert-manager's CA issuer would and return what the engine hands back."""
    ca_key, ca_cert = ca

    def _issue(plan: RequestPlan) -> Issued:
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
            request_name="req-1",
        )

    return _issue
