"""certcsi: cert-manager CSI drivers (csi.cert-manager.io, spiffe.csi.cert-manager.io) and the SPIFFE approver."""

__version__ = "0.1.0"
