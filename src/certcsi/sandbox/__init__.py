"""The local stand-in cluster: API server, cert-manager and kubelet. Never imported by product code."""
