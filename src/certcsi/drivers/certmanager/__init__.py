"""csi.cert-manager.io: a certificate per pod, described by volume attributes, signed by cert-manager."""

from certcsi.drivers.certmanager.attributes import CertAttributes, parse_attributes, request_annotations
from certcsi.drivers.certmanager.driver import DRIVER_NAME, CertManagerDriver
from certcsi.drivers.certmanager.variables import KNOWN_VARIABLES, expand, pod_variables

__all__ = [
    "DRIVER_NAME",
    "KNOWN_VARIABLES",
    "CertAttributes",
    "CertManagerDriver",
    "expand",
    "parse_attributes",
    "pod_variables",
    "request_annotations",
]
