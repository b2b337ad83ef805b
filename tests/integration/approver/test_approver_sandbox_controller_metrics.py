"""The approver's /metrics carries what controller-runtime exposes for upstream's approver (names, types,
labels, help texts, buckets) next to certcsi's own, plus process metrics and no `*_created` series."""

from __future__ import annotations

import aiohttp
from approver_sandbox_support import APP_NAMESPACE, DRIVER, ApproverWorld, eventually, request_body, spiffe_id
from exposition import created_series, expected, families, mismatches

from certcsi.approver.running import endpoints_for
from certcsi.endpoints import BindAddress

WORKQUEUE_UNFINISHED_HELP = (
    "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. "
    "Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate "
    "at which this increases."
)
LEADER_HELP = (
    "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. "
    "'name' is the string used to identify the lease. Please make sure to group by name."
)
# sigs.k8s.io/controller-runtime pkg/internal/controller/metrics, pkg/metrics/workqueue.go, leaderelection.go.
CONTROLLER_RUNTIME = {
    "controller_runtime_reconcile_total": expected(
        "counter", "controller result", "Total number of reconciliations per controller"
    ),
    "controller_runtime_reconcile_errors_total": expected(
        "counter", "controller", "Total number of reconciliation errors per controller"
    ),
    "controller_runtime_terminal_reconcile_errors_total": expected(
        "counter", "controller", "Total number of terminal reconciliation errors per controller"
    ),
    "controller_runtime_reconcile_panics_total": expected(
        "counter", "controller", "Total number of reconciliation panics per controller"
    ),
    "controller_runtime_reconcile_time_seconds": expected(
        "histogram", "controller", "Length of time per reconciliation per controller"
    ),
    "controller_runtime_max_concurrent_reconciles": expected(
        "gauge", "controller", "Maximum number of concurrent reconciles per controller"
    ),
    "controller_runtime_active_workers": expected(
        "gauge", "controller", "Number of currently used workers per controller"
    ),
    "workqueue_depth": expected(
        "gauge", "name controller priority", "Current depth of workqueue by workqueue and priority"
    ),
    "workqueue_adds_total": expected("counter", "name controller", "Total number of adds handled by workqueue"),
    "workqueue_queue_duration_seconds": expected(
        "histogram", "name controller", "How long in seconds an item stays in workqueue before being requested"
    ),
    "workqueue_work_duration_seconds": expected(
        "histogram", "name controller", "How long in seconds processing an item from workqueue takes."
    ),
    "workqueue_unfinished_work_seconds": expected("gauge", "name controller", WORKQUEUE_UNFINISHED_HELP),
    "workqueue_longest_running_processor_seconds": expected(
        "gauge", "name controller", "How many seconds has the longest running processor for workqueue been running."
    ),
    "workqueue_retries_total": expected("counter", "name controller", "Total number of retries handled by workqueue"),
    "leader_election_master_status": expected("gauge", "name", LEADER_HELP),
}
RECONCILE_BUCKETS = [
    *(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    *(1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60),
    float("inf"),
]
WORKQUEUE_BUCKETS = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0, float("inf")]
PROCESS = ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds", "python_info"]


def _value(found: dict, metric: str, /, **labels: str) -> float:  # type: ignore[type-arg]
    family = metric.removesuffix("_count")
    (sample,) = [s for s in found[family].samples if s.name == metric and s.labels == labels]
    return float(sample.value)


def _bounds(found: dict, name: str) -> list[float]:  # type: ignore[type-arg]
    return [float(s.labels["le"]) for s in found[name].samples if s.name == f"{name}_bucket"]


async def test_the_controller_runtime_and_workqueue_families_are_scraped(world: ApproverWorld) -> None:
    alice = world.account(APP_NAMESPACE, "alice")
    running = await world.approver("replica-1")
    (server,) = endpoints_for(running.approver, readiness=None, metrics=BindAddress(host="127.0.0.1", port=0))
    await server.start()
    try:
        await world.submit(request_body("alice-1", spiffe_id(APP_NAMESPACE, "alice")), token=alice)
        await eventually(lambda: world.decision("alice-1") is not None)
        url = f"http://127.0.0.1:{server.port}/metrics"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200
            text = await response.text()
    finally:
        await server.stop()
        await running.stop()

    found = families(text)
    assert mismatches(found, CONTROLLER_RUNTIME) == []
    assert created_series(found) == []
    assert all(found[name].samples for name in PROCESS)
    controller = {"controller": "certificaterequest"}
    queue = {"name": "certificaterequest", **controller}
    assert _value(found, "controller_runtime_reconcile_total", result="success", **controller) >= 1
    assert _value(found, "controller_runtime_reconcile_total", result="error", **controller) == 0
    assert _value(found, "controller_runtime_max_concurrent_reconciles", **controller) == 8
    assert _value(found, "controller_runtime_active_workers", **controller) == 0
    assert _value(found, "workqueue_depth", priority="", **queue) == 0
    assert _value(found, "workqueue_adds_total", **queue) >= 1
    assert _value(found, "workqueue_work_duration_seconds_count", **queue) >= 1
    assert _value(found, "leader_election_master_status", name=DRIVER) == 1
    assert _bounds(found, "controller_runtime_reconcile_time_seconds") == RECONCILE_BUCKETS
    assert _bounds(found, "workqueue_queue_duration_seconds") == WORKQUEUE_BUCKETS
    assert _value(found, "certcsi_approver_decisions_total", decision="approved", rule="approved") == 1
