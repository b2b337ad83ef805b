"""The per-volume and per-request families as /metrics serves them parse exactly as prometheus_client
renders the same facts (the exposition before certcsi rendered those families itself): the same
families, HELP and TYPE lines, samples, values and series order, family by family byte for byte;
through changes of state between scrapes, `?name[]=` filtering, and a scrape in slices."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from observability_support import request_certificate
from prometheus_client import CollectorRegistry, Counter, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from certcsi.errors import IssuanceFailed
from certcsi.observability.metrics import CHUNK, NodeMetrics
from certcsi.observability.volume_series import SLICE, EngineSeries
from certcsi.volumes.driver import IssuerRef, Volume
from certcsi.volumes.issuance import RequestState, fnv_hash_label
from certcsi.volumes.reporting import VolumeView
from certcsi.volumes.status import VolumeStatus

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
NODE = fnv_hash_label("node-1")
CA = IssuerRef(name="ca", kind="ClusterIssuer", group="cert-manager.io")
# Label values needing the text format's escapes (and non-ASCII), as a request's spec.issuerRef may hold them.
ODD = IssuerRef(name='we"ird\\name\nline two', kind="Émetteur", group="ex\\ample.io")
ISSUERS = (CA, ODD, IssuerRef(name="other", kind="Issuer", group="example.io"))

REQUEST_FAMILIES = (
    "certmanager_csi_certificate_request_ready_status",
    "certmanager_csi_certificate_request_expiration_timestamp_seconds",
    "certmanager_csi_certificate_request_renewal_timestamp_seconds",
)
COUNT_FAMILIES = (
    "certmanager_csi_managed_volume_count",
    "certmanager_csi_managed_certificate_request_count",
    "certcsi_certificates_in_renewal_window",
    "certcsi_certificates_expired",
)
COUNTERS = ("certmanager_csi_issue_requests_total", "certmanager_csi_issue_errors_total")
FAMILIES = (*COUNTERS, *REQUEST_FAMILIES, *COUNT_FAMILIES)


CERTIFICATE, _ = request_certificate(issued=NOW - timedelta(hours=1), duration=timedelta(hours=4))


def request(
    name: str,
    *,
    created: str,
    ready: str | None,
    reason: str = "Pending",
    issuer: IssuerRef | None = CA,
    certificate: str = "",
    namespace: str = "team",
) -> RequestState:
    """The watch cache's state of a request, parsed from the object as the API server sends it."""
    conditions = [] if ready is None else [{"type": "Ready", "status": ready, "reason": reason, "message": ""}]
    if reason == "Denied":
        conditions.append({"type": "Denied", "status": "True", "reason": "Denied", "message": "no"})
    spec = {} if issuer is None else {"issuerRef": {"name": issuer.name, "kind": issuer.kind, "group": issuer.group}}
    return RequestState.of(
        {
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
            "spec": spec,
            "status": {"conditions": conditions, "certificate": certificate},
        }
    )


@dataclass
class Node:
    """The engine's volumes and the watch cache's requests, as the metrics read them."""

    views: dict[str, VolumeView] = field(default_factory=dict)
    requests: dict[str, list[RequestState]] = field(default_factory=dict)

    def snapshot(self) -> list[VolumeView]:
        return list(self.views.values())

    def snapshot_in_slices(self, size: int) -> Iterator[list[VolumeView]]:
        views = self.snapshot()
        return (views[start : start + size] for start in range(0, len(views), size))

    def requests_of(self, volume: Volume) -> list[RequestState]:
        return list(self.requests.get(volume.volume_id, ()))

    def put(self, volume_id: str, *, request: str | None, not_after: datetime | None, renew: datetime | None) -> None:
        status = VolumeStatus(request_name=request, issuer=CA, not_after=not_after)
        volume = Volume(volume_id=volume_id, target_path=f"/t/{volume_id}", attributes={})
        self.views[volume_id] = VolumeView(volume=volume, next_issuance=renew, status=status, live=True)


class Reference:
    """What the exposition was before: prometheus_client Counters with a child per volume, and the engine's
    gauges as GaugeMetricFamily samples, all rendered by generate_latest."""

    def __init__(self, node: Node) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self.issue_requests = Counter(
            "certmanager_csi_issue_requests",
            "The number of issue() calls made by the driver.",
            ["node", "volume"],
            registry=self.registry,
        )
        self.issue_errors = Counter(
            "certmanager_csi_issue_errors",
            "The number of errors encountered during the driver issue() calls.",
            ["node", "volume"],
            registry=self.registry,
        )
        self.registry.register(_ReferenceEngine(node))

    def text(self, names: frozenset[str] = frozenset()) -> str:
        return generate_latest(self.registry.restricted_registry(names) if names else self.registry).decode()


class _ReferenceEngine:
    def __init__(self, node: Node) -> None:
        self._node = node

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        ready, expiration, renewal, volumes, requests, window, expired = self._families()
        views = self._node.snapshot()
        volumes.add_metric([NODE], len(views))
        window.add_metric([], sum(1 for view in views if view.in_renewal_window(NOW)))
        expired.add_metric([], sum(1 for view in views if view.expired(NOW)))
        count = 0
        for view in views:
            states = self._node.requests_of(view.volume)
            count += len(states)
            renew_at = view.next_issuance.timestamp() if view.next_issuance is not None else 0.0
            for state in states:
                issuer = state.issuer or IssuerRef(name="", kind="", group="")
                labels = [state.name, state.namespace, issuer.name, issuer.kind, issuer.group]
                found = state.conditions.get("Ready")
                status = found.status if found is not None and found.status in ("True", "False") else "Unknown"
                for condition in ("True", "False", "Unknown"):
                    ready.add_metric(
                        [state.name, state.namespace, condition, issuer.name, issuer.kind, issuer.group],
                        1.0 if condition == status else 0.0,
                    )
                if view.status.request_name == state.name and view.status.not_after is not None:
                    expires = view.status.not_after.timestamp()
                else:
                    expires = state.issued.not_after.timestamp() if state.issued is not None else 0.0
                expiration.add_metric(labels, expires)
                renewal.add_metric(labels, renew_at)
        requests.add_metric([NODE], count)
        return [ready, expiration, renewal, volumes, requests, window, expired]

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        labels = ["name", "namespace", "issuer_name", "issuer_kind", "issuer_group"]
        return [
            GaugeMetricFamily(
                REQUEST_FAMILIES[0],
                "The ready status of the certificate request.",
                labels=["name", "namespace", "condition", "issuer_name", "issuer_kind", "issuer_group"],
            ),
            GaugeMetricFamily(
                REQUEST_FAMILIES[1],
                "The timestamp after which the certificate request expires, expressed in Unix Epoch Time.",
                labels=labels,
            ),
            GaugeMetricFamily(
                REQUEST_FAMILIES[2],
                "The timestamp after which the certificate request should be renewed, expressed in Unix Epoch Time.",
                labels=labels,
            ),
            GaugeMetricFamily(COUNT_FAMILIES[0], "The number of managed volumes by the csi driver.", labels=["node"]),
            GaugeMetricFamily(
                COUNT_FAMILIES[1], "The number of managed certificate requests by the csi driver.", labels=["node"]
            ),
            GaugeMetricFamily(
                COUNT_FAMILIES[2],
                "Certificates whose renewal time has come but that are neither renewed nor expired yet.",
            ),
            GaugeMetricFamily(COUNT_FAMILIES[3], "Certificates past their not-after that are still awaiting renewal."),
        ]


class Pair:
    """The metrics under test and the reference, told the same things."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.metrics = NodeMetrics(node_hash=NODE)
        self.metrics.attach(engine=node, requests=node, now=lambda: NOW)
        self.reference = Reference(node)

    def issuing(self, volume_id: str) -> None:
        self.metrics.issuing(volume_id)
        self.reference.issue_requests.labels(node=NODE, volume=volume_id).inc()

    def failed(self, volume_id: str) -> None:
        self.metrics.failed(volume_id, IssuanceFailed("no"))
        self.reference.issue_errors.labels(node=NODE, volume=volume_id).inc()

    def forget(self, volume_id: str) -> None:
        self.metrics.forget(volume_id)
        for counter in (self.reference.issue_requests, self.reference.issue_errors):
            counter.remove(NODE, volume_id)


def blocks(text: str) -> dict[str, str]:
    """Each family's lines (from its # HELP on), by family name; a family twice would be a bug."""
    found: dict[str, list[str]] = {}
    name = ""
    for line in text.splitlines(keepends=True):
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in found, f"{name} rendered twice"
            found[name] = []
        found[name].append(line)
    return {name: "".join(lines) for name, lines in found.items()}


def parsed(text: str) -> dict[str, tuple[str, str, list[object]]]:
    return {
        family.name: (family.documentation, family.type, family.samples)
        for family in text_string_to_metric_families(text)
    }


def assert_same(pair: Pair, *, names: frozenset[str] = frozenset(), text: str | None = None) -> None:
    served = pair.metrics.exposition(names).decode() if text is None else text
    expected = pair.reference.text(names)
    ours = {name: block for name, block in blocks(served).items() if name in FAMILIES}
    assert ours == blocks(expected)
    reference = parsed(expected)
    assert {k: v for k, v in parsed(served).items() if k in reference or k in FAMILIES} == reference


def varied(node: Node, pair: Pair, *, volumes: int, seed: int) -> None:
    """`volumes` volumes in every state a node sees: pending, issued, failed, denied, several requests,
    none, odd issuer labels, no issuerRef, an unknown Ready status; counted attempts and failures."""
    rng = random.Random(seed)
    for n in range(volumes):
        volume_id = f"csi-{n:05d}" if n % 97 else f'csi-"odd\\{n}'
        kind = n % 8
        issuer = ISSUERS[n % 3]
        created = f"2026-05-01T1{n % 10}:00:00Z"
        renew = NOW + timedelta(minutes=rng.randrange(-90, 600)) if kind not in (0, 5) else None
        not_after = NOW + timedelta(minutes=rng.randrange(-30, 900)) if kind not in (0, 5) else None
        name = f"req-{n}"
        states: list[RequestState] = []
        if kind == 0:  # pending, nothing issued yet
            states = [request(name, created=created, ready=None, issuer=issuer)]
        elif kind == 1:  # issued
            states = [request(name, created=created, ready="True", reason="Issued", issuer=issuer)]
        elif kind == 2:  # failed
            states = [request(name, created=created, ready="False", reason="Failed", issuer=issuer)]
        elif kind == 3:  # denied
            states = [request(name, created=created, ready="False", reason="Denied", issuer=issuer)]
        elif kind == 4:  # an older issued request with its own certificate, a newer one pending
            old = request(f"{name}-old", created="2026-05-01T08:00:00Z", ready="True", reason="Issued",
                          certificate=CERTIFICATE, issuer=issuer)  # fmt: skip
            states = [old, request(name, created=created, ready="Unknown", issuer=issuer)]
        elif kind == 6:  # no issuerRef, an unknown Ready status
            states = [request(name, created=created, ready="Maybe", issuer=None, namespace="other-team")]
        elif kind == 7:  # a certificate the engine does not hold (another request of the volume's)
            states = [request(name, created=created, ready="True", reason="Issued", issuer=issuer,
                              certificate=CERTIFICATE)]  # fmt: skip
        node.put(volume_id, request=name if kind != 7 else "req-elsewhere", not_after=not_after, renew=renew)
        if states:
            node.requests[volume_id] = states
        for _ in range(rng.randrange(0, 3)):
            pair.issuing(volume_id)
        if kind in (2, 3) or n % 11 == 0:
            pair.failed(volume_id)


def test_every_state_renders_as_prometheus_client_renders_it() -> None:
    node = Node()
    pair = Pair(node)
    varied(node, pair, volumes=1200, seed=1)
    assert_same(pair)


def test_empty_families_keep_their_help_and_type() -> None:
    pair = Pair(Node())
    assert_same(pair)


def test_changes_between_scrapes_show_in_the_next_one() -> None:
    node = Node()
    pair = Pair(node)
    varied(node, pair, volumes=600, seed=2)
    assert_same(pair)
    rng = random.Random(3)
    ids = list(node.views)
    for volume_id in rng.sample(ids, 150):  # renewed: a new not-after and next issuance, a new request
        view = node.views[volume_id]
        node.put(volume_id, request="renewed", not_after=NOW + timedelta(hours=30), renew=NOW + timedelta(hours=20))
        node.requests[volume_id] = [
            *node.requests.get(volume_id, [])[-1:],
            request("renewed", created="2026-05-01T12:00:00Z", ready="True", reason="Issued"),
        ]
        assert view is not node.views[volume_id]
        pair.issuing(volume_id)
    for volume_id in rng.sample(ids, 100):  # a decision arrived, or the issuer answered
        states = node.requests.get(volume_id)
        if states:
            last = states[-1]
            states[-1] = request(last.name, created=last.created, ready="False", reason="Failed", issuer=ODD,
                                 namespace=last.namespace)  # fmt: skip
            pair.failed(volume_id)
    for volume_id in rng.sample(ids, 100):  # unpublished
        node.views.pop(volume_id, None)
        node.requests.pop(volume_id, None)
        pair.forget(volume_id)
    varied(node, pair, volumes=50, seed=4)  # published meanwhile (some ids again)
    assert_same(pair)
    assert_same(pair)  # and once more with nothing changed


def test_a_scrape_by_name_serves_what_prometheus_client_would() -> None:
    node = Node()
    pair = Pair(node)
    varied(node, pair, volumes=300, seed=5)
    for name in (*FAMILIES, "certmanager_csi_issue_requests", "certmanager_csi_certificate_request_ready"):
        assert_same(pair, names=frozenset({name}))
    assert_same(pair, names=frozenset(REQUEST_FAMILIES))
    assert_same(pair, names=frozenset(COUNTERS) | {COUNT_FAMILIES[1]})


def test_a_scrape_by_name_of_families_without_series_is_empty() -> None:
    node = Node()
    pair = Pair(node)
    pair.issuing("vol-1")
    node.put("vol-1", request=None, not_after=None, renew=None)
    for names in (frozenset({"certmanager_csi_issue_errors_total"}), frozenset(REQUEST_FAMILIES)):
        assert pair.metrics.exposition(names) == b""
        assert_same(pair, names=names)


def test_what_is_kept_between_scrapes_is_the_last_scrape_s_requests() -> None:
    node = Node()
    series = EngineSeries(node_hash=NODE, engine=node, requests=node, now=lambda: NOW)
    pair = Pair(node)
    varied(node, pair, volumes=400, seed=7)
    list(series.render([], frozenset()))
    assert series.kept == sum(len(states) for states in node.requests.values())
    for volume_id in list(node.views)[:300]:
        del node.views[volume_id]
        node.requests.pop(volume_id, None)
    list(series.render([], frozenset()))
    assert series.kept == sum(len(states) for states in node.requests.values()) > 0


async def test_a_scrape_in_slices_serves_the_same_and_lets_the_loop_run() -> None:
    node = Node()
    pair = Pair(node)
    varied(node, pair, volumes=3 * SLICE, seed=6)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        before = ticks
        chunks = await pair.metrics.scrape()
        during = ticks - before
    finally:
        task.cancel()
    assert_same(pair, text=b"".join(chunks).decode())
    assert during >= 3 + len(chunks)  # the loop ran between slices and chunks, not only once the whole text was made
    assert len(chunks) > 1 and all(len(chunk) < CHUNK + 1024 for chunk in chunks)
