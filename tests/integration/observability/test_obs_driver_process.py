"""End to end: the real `certcsi driver` process with the kubelet stand-in against the sandbox.

A pod mounts a volume; then the driver's /metrics, /healthz and /readyz answer over HTTP, the pod
has its Event, `certcsi inspect` (another process, reading the data root only) shows the volume,
and the driver's log is JSON lines at -v=2.
"""

from __future__ import annotations

import asyncio
import json
import sys

from obs_driver_support import NAMESPACE, driver_with_pod

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.demo import NODE
from certcsi.volumes.issuance import fnv_hash_label


async def test_driver_process_serves_metrics_probes_events_and_inspect() -> None:
    async with driver_with_pod(extra_flags=["--logging-format=json", "-v=2"]) as node:
        assert await node.get("/healthz") == (200, "ok")
        assert await node.get("/readyz") == (200, "ok")
        status, metrics = await node.get("/metrics")
        command = ["inspect", "--data-root", str(node.workdir / "csi-data-dir"), "--json"]
        inspect = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "certcsi",
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await inspect.communicate()
        stored = node.cluster.store.all_objects(BY_KEY["/events"])
        events = [e for e in stored if e.get("reason") == "CertificateIssued"]
    log_lines = node.log_lines
    assert status == 200
    assert f'certmanager_csi_managed_volume_count{{node="{fnv_hash_label(NODE)}"}} 1.0' in metrics
    assert "certcsi_time_to_first_certificate_seconds_count 1.0" in metrics
    assert inspect.returncode == 0, err.decode()
    (row,) = json.loads(out)
    assert (row["namespace"], row["pod"], row["identity"]) == (NAMESPACE, "web", f"web.{NAMESPACE}.svc")
    assert row["notAfter"] and row["nextRenewal"] and row["problems"] == []
    (event,) = events
    assert event["involvedObject"]["name"] == "web" and event["type"] == "Normal"
    records = [json.loads(line) for line in log_lines if line.startswith("{")]
    (published,) = [r for r in records if r["msg"] == "volume published" and r["logger"] == "volumes/manager"]
    assert published["pod"] == "web" and published["duration_ms"] > 0
    assert all({"ts", "logger", "caller", "msg"} <= r.keys() and ("v" in r) != ("err" in r) for r in records)
