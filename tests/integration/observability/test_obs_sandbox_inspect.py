"""Against the sandbox: `certcsi inspect` on the data root the engine wrote, then after a renewal timed out
(which the pod is also told about, with a Warning event)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from obs_node_support import NAMESPACE, observed_node

from certcsi.cli import main
from certcsi.pki.certs import leaf_validity
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import CA_ISSUER
from certcsi.volumes.clock import FakeClock


def inspect_json(root: Path, *args: str) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(main, ["inspect", "--data-root", str(root), "--json", *args])
    return result.exit_code, json.loads(result.stdout)


async def test_inspect_shows_what_the_engine_did_and_why_a_renewal_failed(tmp_path: Path) -> None:
    clock = FakeClock(datetime.now(UTC))
    async with observed_node(tmp_path, clock=clock, issue_timeout=0.5) as node:
        pod = node.pod()
        await node.manager.publish(node.publish(pod, dns_names="${POD_NAME}.${POD_NAMESPACE}.svc,web.example"))
        (request,) = node.requests()
        code, (row,) = inspect_json(tmp_path / "data", "--pod", f"{NAMESPACE}/web-0")
        assert code == 0
        not_after = leaf_validity(node.store.read_file("csi-vol-1", "tls.crt") or b"").not_after
        assert row["pod"] == "web-0" and row["podUID"] == pod["metadata"]["uid"]
        assert row["identity"] == "web-0.team-a.svc"
        assert row["dnsNames"] == ["web-0.team-a.svc", "web.example"]
        assert row["notAfter"] == not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert row["request"] == request["metadata"]["name"]
        assert row["issuer"] == {"name": CA_ISSUER, "kind": "ClusterIssuer", "group": "cert-manager.io"}
        assert row["lastError"] is None

        # The issuer disappears: the renewal's request is approved but never signed.
        node.sandbox.store.delete(BY_KEY["cert-manager.io/clusterissuers"], None, CA_ISSUER)
        clock.advance(3600)
        async with asyncio.timeout(10):
            while node.manager.snapshot()[0].status.last_error is None:  # noqa: ASYNC110 - the renewal runs on its own
                await asyncio.sleep(0.05)
        code, (row,) = inspect_json(tmp_path / "data")
        reasons = [(e["type"], e["reason"]) for e in await node.pod_events("web-0")]
    assert sorted(reasons) == [("Normal", "CertificateIssued"), ("Warning", "IssuanceTimeout")]
    assert code == 0
    assert str(row["lastError"]).startswith('waiting for request "')
    assert "timed out after 0.5s" in str(row["lastError"])
    assert row["failures"] == 1
    assert row["notAfter"] == not_after.strftime("%Y-%m-%dT%H:%M:%SZ")  # the certificate in place is kept
