"""What a node driver tells the people running it: metrics, health, Pod events, and per-volume status.

    status      status.json beside each volume's metadata.json (written by the engine, read by inspect)
    metrics     the Prometheus registry of one node process (upstream's certmanager_csi_* and ours)
    events      Warning / Normal Events on the Pod, fire-and-forget with bounded concurrency
    observer    the engine's observer that feeds metrics and events
    serving     /metrics, /healthz and /readyz over aiohttp

Importing the package imports none of them (the engine imports `status` without prometheus_client).
"""
