"""cert-manager stand-in for the sandbox: CertificateRequest admission (CRD schema + cert-manager's
webhook), the CA issuer for Issuers / ClusterIssuers, and cert-manager's default approver.

    manager = CertManager(store)          # registers admission on the store
    install_ca_cluster_issuer(store)      # Secret + ClusterIssuer "sandbox-ca"
    manager.start(); ...; await manager.stop()
"""

from certcsi.sandbox.certmanager.admission import CertificateRequestAdmission, SignerAuthorizer, signer_names
from certcsi.sandbox.certmanager.approver import DefaultApprover
from certcsi.sandbox.certmanager.bootstrap import install_ca_cluster_issuer
from certcsi.sandbox.certmanager.conditions import (
    APPROVED_MESSAGE,
    APPROVER_REASON,
    DENIED_MESSAGE,
    ISSUED_MESSAGE,
)
from certcsi.sandbox.certmanager.issuer import CAIssuer
from certcsi.sandbox.certmanager.manager import CertManager
from certcsi.sandbox.certmanager.schema import Cause, certificate_request_schema, crd_text
from certcsi.sandbox.certmanager.signer import DEFAULT_DURATION

__all__ = [
    "APPROVED_MESSAGE",
    "APPROVER_REASON",
    "DEFAULT_DURATION",
    "DENIED_MESSAGE",
    "ISSUED_MESSAGE",
    "CAIssuer",
    "Cause",
    "CertManager",
    "CertificateRequestAdmission",
    "DefaultApprover",
    "SignerAuthorizer",
    "certificate_request_schema",
    "crd_text",
    "install_ca_cluster_issuer",
    "signer_names",
]
