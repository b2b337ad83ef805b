"""NodeMetrics: the key pool's gauges and counters read at scrape time; Pod events not recorded, by reason."""

from __future__ import annotations

from certcsi.observability.events import DROP_REASONS
from certcsi.observability.metrics import NodeMetrics
from certcsi.pki.keypool import KeyPool
from certcsi.pki.keys import KeySpec
from certcsi.volumes.issuance import fnv_hash_label


def sample(metrics: NodeMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_the_pool_is_read_at_each_scrape() -> None:
    keys = KeyPool(size=0)
    metrics = NodeMetrics(node_hash=fnv_hash_label("node-1"), keys=keys)
    assert sample(metrics, "certcsi_key_pool_keys", key_type="ECDSA-256") is None  # no type used yet
    await keys.take(KeySpec("ECDSA", 256))
    await keys.take(KeySpec("ECDSA", 256))
    assert sample(metrics, "certcsi_key_pool_keys", key_type="ECDSA-256") == 0
    assert sample(metrics, "certcsi_key_pool_taken_total", key_type="ECDSA-256", source="on_demand") == 2
    assert sample(metrics, "certcsi_key_pool_taken_total", key_type="ECDSA-256", source="pool") == 0


def test_dropped_events_are_counted_by_reason_from_zero() -> None:
    metrics = NodeMetrics(node_hash=fnv_hash_label("node-1"))
    assert {reason: sample(metrics, "certcsi_pod_events_dropped_total", reason=reason) for reason in DROP_REASONS} == (
        dict.fromkeys(DROP_REASONS, 0.0)
    )
    metrics.events_dropped("forbidden", 3)
    metrics.events_dropped("backlog", 1)
    assert sample(metrics, "certcsi_pod_events_dropped_total", reason="forbidden") == 3
    assert sample(metrics, "certcsi_pod_events_dropped_total", reason="backlog") == 1


async def test_the_pool_can_be_scraped_by_name_alone() -> None:
    keys = KeyPool(size=0)
    metrics = NodeMetrics(node_hash=fnv_hash_label("node-1"), keys=keys)
    await keys.take(KeySpec("ECDSA", 256))
    text = metrics.exposition(frozenset({"certcsi_key_pool_keys"})).decode()
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples == ['certcsi_key_pool_keys{key_type="ECDSA-256"} 0.0']
