"""The Prometheus registry a certcsi process serves: its own metrics, the process and Python runtime
collectors, and no `*_created` series (the Go client the upstream drivers use has none either).

Compared with Go's client: `process_*` is the same family names for CPU, memory, file descriptors
and start time (`process_virtual_memory_max_bytes` and the network counters are Go-only);
`python_info` and `python_gc_*` stand where Go's client has `go_*`.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

__all__ = ["process_registry"]


def process_registry() -> CollectorRegistry:
    """A fresh registry holding the process and Python collectors (one per process being served)."""
    # Process-wide in prometheus_client, read at every scrape: once is enough, and repeating it is harmless.
    disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
