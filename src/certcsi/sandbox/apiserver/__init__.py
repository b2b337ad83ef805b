"""A Kubernetes-compatible API server for the resources certcsi uses, served over HTTPS on loopback."""
