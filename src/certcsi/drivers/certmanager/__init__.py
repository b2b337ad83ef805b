"""csi.cert-manager.io: a certificate per pod, described by volume attributes, signed by cert-manager."""

from certcsi.drivers.certmanager.attributes import CertAttributes, parse_attributes, request_annotations
from certcsi.drivers.certmanager.driver import DRIVER_NAME, CertManagerDriver
from certcsi.drivers.certmanager.renewal import default_renewal_time, renew_before_time
from certcsi.drivers.certmanager.variables import KNOWN_VARIABLES, expand, pod_variables

__all__ = [
    "DRIVER_NAME",
    "KNOWN_VARIABLES",
    "CertAttributes",
    "CertManagerDriver",
    "default_renewal_time",
    "expand",
    "parse_attributes",
    "pod_variables",
    "renew_before_time",
    "request_annotations",
]
