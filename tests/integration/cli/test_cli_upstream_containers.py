"""Every certcsi container of upstream's rendered charts runs with exactly its args, under upstream's RBAC.

For csi-driver v0.16.0 and csi-driver-spiffe v0.15.0 (default values), each driver and approver
container runs as kubelet would start it (args with `$(VAR)` expanded, its environment, its working
directory standing in for "/", its ServiceAccount's token) against the sandbox, with nothing but
upstream's ClusterRoles, Roles and bindings applied: the drivers answer on their CSI sockets and
give a pod its certificate, the approver is ready, serves metrics, leads, and writes its decisions
and Events with the verbs upstream grants (`update` on certificaterequests/status; `create`/`patch`
on events, never `list`). See upstream_containers_scenario.py for how one chart runs; it runs in a
network and mount namespace of its own, so the manifests' ports and the drivers' mounts meet
nothing else on the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from upstream_manifests import certcsi_containers, load

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[1]
NODE = "node-1"


def run_scenario(chart: str, tmp_path: Path) -> dict[str, Any]:
    report = tmp_path / "report.json"
    paths = [HERE, TESTS / "integration" / "approver", TESTS / "support"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, paths))}
    command = ["unshare", "--mount", "--propagation", "private", "--net", sys.executable]
    done = subprocess.run(
        [*command, str(HERE / "upstream_containers_scenario.py"), chart, str(report)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    result: dict[str, Any] = json.loads(report.read_text()) if report.exists() else {}
    logs = "\n".join(f"--- {name}\n{text}" for name, text in result.get("logs", {}).items())
    assert done.returncode == 0 and "error" not in result, f"{done.stderr[-4000:]}\n{logs}"
    return result


def checks(report: dict[str, Any], user: str) -> set[tuple[str, str, bool]]:
    return {(c["verb"], c["resource"], c["allowed"]) for c in report["audit"] if c["user"] == user}


def assert_every_container_ran_as_written(report: dict[str, Any], chart: str) -> None:
    expected = {run.container: list(run.argv) for run in certcsi_containers(load(chart), node=NODE)}
    assert {name: seen["argv"] for name, seen in report["containers"].items()} == expected
    assert report["exit_codes"] == dict.fromkeys(expected, 0)  # each stopped cleanly on SIGTERM
    for seen in report["containers"].values():
        if "socket" in seen:  # `--endpoint=unix://plugin/csi.sock`: relative to the container's "/"
            assert seen["socket"] == f"{seen['cwd']}/plugin/csi.sock"
            assert seen["csi"] == {"name": report["driver"], "version": seen["csi"]["version"], "ready": True}
    # Nobody lists events: upstream grants create and patch at most.
    assert not [c for c in report["audit"] if c["resource"] == "events" and c["verb"] not in ("create", "patch")]


def test_csi_driver_chart(tmp_path: Path) -> None:
    report = run_scenario("csi-driver", tmp_path)
    assert_every_container_ran_as_written(report, "csi-driver")
    (driver,) = report["containers"].values()
    assert driver["metrics"]["port"] == 9402 and "certmanager_csi_managed_volume_count" in driver["metrics"]["body"]
    assert report["pod"]["dns"] == ["web.app.svc"]
    (request,) = report["requests"]
    assert request["username"] == driver["user"]  # --use-token-request=false: the driver's own account
    # The only call refused is a Pod Event: upstream's driver writes none, so its RBAC grants none.
    assert {(verb, resource) for verb, resource, allowed in checks(report, driver["user"]) if not allowed} <= {
        ("create", "events")
    }
    # Said once, as what it is (RBAC), not as a failed write per issuance.
    log = report["logs"]["cert-manager-csi-driver"]
    assert log.count("forbids this driver to record Pod events") == 1
    assert "could not record Pod event" not in log


def test_csi_driver_spiffe_chart(tmp_path: Path) -> None:
    report = run_scenario("csi-driver-spiffe", tmp_path)
    assert_every_container_ran_as_written(report, "csi-driver-spiffe")
    driver = report["containers"]["cert-manager-csi-driver-spiffe"]
    approver = report["containers"]["cert-manager-csi-driver-spiffe-approver"]
    assert report["pod"]["uris"] == ["spiffe://cluster.local/ns/app/sa/web"]
    assert (approver["readiness"]["port"], approver["readiness"]["body"]) == (6060, "ok")
    assert approver["metrics"]["port"] == 9402 and "certcsi_approver_decisions_total" in approver["metrics"]["body"]
    assert report["lease_holder"] and report["lease_after_stop"] == ""  # led, then released on SIGTERM
    decisions = {r["name"]: {c["type"] for c in r["conditions"] or []} for r in report["requests"]}
    assert decisions.pop("forged") >= {"Denied"} and all("Approved" in d for d in decisions.values())
    # The approver's Events (the kubelet's own about the pod, Pulled/Created/Started, are not its).
    assert {(e["reason"], e["kind"], e["name"]) for e in report["events"] if e["kind"] != "Pod"} == {
        ("Denied", "CertificateRequest", "forged")
    }
    approver_checks = checks(report, approver["user"])
    assert all(allowed for _, _, allowed in approver_checks), approver_checks
    assert {("update", "certificaterequests/status", True), ("create", "events", True)} <= approver_checks
    assert ("patch", "certificaterequests/status", True) not in approver_checks
    assert {(verb, resource) for verb, resource, allowed in checks(report, driver["user"]) if not allowed} <= {
        ("create", "events")
    }


@pytest.mark.parametrize("chart", ["csi-driver", "csi-driver-spiffe"])
def test_the_manifests_hold_what_the_scenario_replaces(chart: str) -> None:
    # Sidecars stay upstream's images; every other container is one certcsi replaces.
    objects = load(chart)
    runs = certcsi_containers(objects, node=NODE)
    assert sorted(run.command for run in runs) == (
        ["driver"] if chart == "csi-driver" else ["approver", "spiffe-driver"]
    )
    for run in runs:
        assert not any("$(" in arg for arg in run.argv), run.argv  # every reference was defined
