"""bench/soak.py's three scenarios, small: kill -9 under churn, half-open API connections, an API outage.

Real sandbox, driver and kubelet stand-in processes, real mounts. Correctness only: the floors that do
not depend on how fast this machine is (the benchmark prints the timed ones). Certificates live long
enough that a renewal has tens of seconds of slack on a loaded machine, and the waits for catching up
end as soon as it happens (their limits are deadlines, not measurements).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from soak import HalfOpenOptions, KillOptions, OutageOptions, half_open, kill_soak, outage

pytestmark = pytest.mark.e2e


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Not pytest's tmp_path: the driver's socket path must stay under 108 bytes.
    path = Path(tempfile.mkdtemp(prefix="soak-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_kill_9_under_churn_leaves_every_live_pod_a_valid_pair_and_nothing_else(workdir: Path) -> None:
    options = KillOptions(volumes=12, duration="60s", kill_every=4, kill_seconds=16, churn_every=1, steady_seconds=8)
    result = await kill_soak(options, workdir=workdir)
    final = result.final
    assert result.kills >= 3 and result.replaced_pods >= 5
    assert final.live == 12
    assert final.count("valid") == 12, final.pairs
    assert result.expired_while_steady == 0
    assert final.max_requests_per_volume <= 1
    assert final.leaked_requests == 0
    assert final.orphan_mounts == []
    assert final.leftover_dirs == []
    assert result.secrets_in_logs == 0


async def test_half_open_connections_are_replaced_and_publishes_go_on(workdir: Path) -> None:
    options = HalfOpenOptions(
        volumes=4, duration="60s", fault_seconds=10, probe_every=2, settle_seconds=6, watch_timeout="3s"
    )
    result = await half_open(options, workdir=workdir)
    assert result.frozen >= 1  # at least the watch's connection
    assert result.first_publish_seconds is not None  # every pod created during the fault runs
    assert result.final.live == 4 + result.probes
    assert result.final.count("valid") == result.final.live, result.final.pairs


async def test_renewals_due_during_an_api_outage_are_caught_up_when_it_ends(workdir: Path) -> None:
    # Pairs with more than margin_seconds left when the API comes back must not expire: the driver's watch
    # retries within 10 s, so 20 s leaves it 10 s to renew on a loaded machine.
    options = OutageOptions(
        volumes=6, duration="30s", spread_seconds=15, outage_seconds=12, margin_seconds=20, catch_up_limit=180
    )
    result = await outage(options, workdir=workdir)
    assert result.due_during_outage >= 1
    assert result.catch_up_seconds is not None
    assert result.expired_with_time_left == 0
    assert result.final.count("valid") == result.final.live == 6
