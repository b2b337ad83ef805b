"""The families with a series per volume or per CertificateRequest, rendered to the text format here.

prometheus_client renders a sample in ~10 µs (each sample's label names validated, sorted and escaped
at every scrape): ~70 µs a volume, most of a second for a 10,000-volume node, all of it holding the
event loop. Here a series' line is rendered (UTF-8, as served) when the series appears or what it
shows changes, and kept, so an unchanged volume costs a few look-ups and identity checks per scrape;
`EngineSeries.render` pauses every `SLICE` volumes, so a scrape never holds the loop for more than a
few milliseconds at a time.

Kept between scrapes, and dropped with the volume (or at the first scrape after it is gone): per
issue counter series its value and line (~240 bytes; prometheus_client's child took ~570), per
CertificateRequest its five lines and what they were made from (~1.4 KB). Nothing runs between scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Protocol

from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from certcsi.observability.textformat import Families, family_header, label_value, sample_value
from certcsi.volumes.driver import IssuerRef, Volume
from certcsi.volumes.issuance import Condition, RequestState
from certcsi.volumes.reporting import VolumeView

__all__ = ["SLICE", "EngineSeries", "EngineView", "RequestsView", "VolumeCounter"]

# Volumes rendered between two pauses (~1 ms of CPU). With 500 (~7 ms) a concurrent CSI call waited up to 40 ms:
# its ways into and out of the loop, through grpc's thread, each wait for the GIL and then for the slice.
SLICE = 100

READY = "certmanager_csi_certificate_request_ready_status"
EXPIRATION = "certmanager_csi_certificate_request_expiration_timestamp_seconds"
RENEWAL = "certmanager_csi_certificate_request_renewal_timestamp_seconds"
VOLUME_COUNT = "certmanager_csi_managed_volume_count"
REQUEST_COUNT = "certmanager_csi_managed_certificate_request_count"
IN_RENEWAL_WINDOW = "certcsi_certificates_in_renewal_window"
EXPIRED = "certcsi_certificates_expired"
_HEADERS = {
    READY: family_header(READY, "The ready status of the certificate request.", "gauge"),
    EXPIRATION: family_header(
        EXPIRATION, "The timestamp after which the certificate request expires, expressed in Unix Epoch Time.", "gauge"
    ),
    RENEWAL: family_header(
        RENEWAL,
        "The timestamp after which the certificate request should be renewed, expressed in Unix Epoch Time.",
        "gauge",
    ),
}
_COUNTS = frozenset({VOLUME_COUNT, REQUEST_COUNT, IN_RENEWAL_WINDOW, EXPIRED})
_NO_ISSUER = IssuerRef(name="", kind="", group="")
_UNSET = object()
_CONDITIONS = ("True", "False", "Unknown")
_ONE, _ZERO = sample_value(1.0), sample_value(0.0)


class EngineView(Protocol):
    """What the series read from the engine (`Manager` implements it)."""

    def snapshot_in_slices(self, size: int) -> Iterator[list[VolumeView]]: ...


class RequestsView(Protocol):
    """A volume's CertificateRequests from the watch cache (`Issuance` implements it)."""

    def requests_of(self, volume: Volume) -> list[RequestState]: ...


class VolumeCounter:
    """A counter with csi-lib's `node` and `volume` labels: a series per volume, its line kept rendered."""

    def __init__(self, *, name: str, documentation: str, node_hash: str) -> None:
        self.name = f"{name}_total"
        self._header = family_header(name, documentation, "counter")
        self._prefix = f'{self.name}{{node="{label_value(node_hash)}",volume="'
        self._values: dict[str, float] = {}
        self._lines: dict[str, bytes] = {}  # in the order the series appeared, as prometheus_client keeps them

    def inc(self, volume_id: str) -> None:
        value = self._values.get(volume_id, 0.0) + 1.0
        self._values[volume_id] = value
        self._lines[volume_id] = f'{self._prefix}{label_value(volume_id)}"}} {sample_value(value)}\n'.encode()

    def remove(self, volume_id: str) -> None:
        self._values.pop(volume_id, None)
        self._lines.pop(volume_id, None)

    def render(self, out: list[bytes], names: frozenset[str]) -> None:
        """Append the family to `out`; with `names`, only if named and counted (as a filtered registry)."""
        if names and (self.name not in names or not self._lines):
            return
        out.append(self._header)
        out.extend(self._lines.values())


class _Request:
    """One request's lines as last rendered, and what they were made from (immutable objects: the same
    objects, the same lines)."""

    __slots__ = ("expiration", "expires_at", "issuer", "key", "ready", "ready_at", "renewal", "renews_at")

    def __init__(self, state: RequestState, issuer: IssuerRef) -> None:
        self.key = state.key  # kept: a scrape files the entry under it again, without making a new tuple
        self.issuer = issuer
        self.ready_at: object = _UNSET
        self.expires_at: object = _UNSET
        self.renews_at: object = _UNSET
        self.ready = self.expiration = self.renewal = b""

    def update(
        self, state: RequestState, *, ready: Condition | None, expires: datetime | None, renews: datetime | None
    ) -> None:
        """Render the lines again if `ready`, `expires` or `renews` is not what they were made from."""
        if ready is self.ready_at and expires is self.expires_at and renews is self.renews_at:
            return
        issuer = self.issuer
        # In the order prometheus_client writes label names (sorted); `condition` goes before them all.
        labels = (
            f'issuer_group="{label_value(issuer.group)}",issuer_kind="{label_value(issuer.kind)}",'
            f'issuer_name="{label_value(issuer.name)}",name="{label_value(state.name)}",'
            f'namespace="{label_value(state.namespace)}"'
        )
        status = ready.status if ready is not None and ready.status in _CONDITIONS else "Unknown"
        self.ready = "".join(
            f'{READY}{{condition="{condition}",{labels}}} {_ONE if condition == status else _ZERO}\n'
            for condition in _CONDITIONS
        ).encode()
        self.expiration = f"{EXPIRATION}{{{labels}}} {_timestamp(expires)}\n".encode()
        self.renewal = f"{RENEWAL}{{{labels}}} {_timestamp(renews)}\n".encode()
        self.ready_at, self.expires_at, self.renews_at = ready, expires, renews


class _Text:
    """One scrape's lines and counts, added to as the engine's slices come."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.ready: list[bytes] = []
        self.expiration: list[bytes] = []
        self.renewal: list[bytes] = []
        self.kept: dict[tuple[str, str], _Request] = {}
        self.volumes = self.requests = self.in_renewal_window = self.expired = 0

    def add_volume(self, view: VolumeView, *, requests: int) -> None:
        self.volumes += 1
        self.requests += requests
        self.in_renewal_window += view.in_renewal_window(self.now)
        self.expired += view.expired(self.now)

    def add_request(self, entry: _Request, *, state: RequestState, view: VolumeView) -> None:
        ready = state.conditions.get("Ready")
        entry.update(state, ready=ready, expires=_expires(view, state), renews=view.next_issuance)
        self.ready.append(entry.ready)
        self.expiration.append(entry.expiration)
        self.renewal.append(entry.renewal)


class EngineSeries:
    """The engine's gauges: three per CertificateRequest of a managed volume, and four node-wide counts."""

    def __init__(
        self, *, node_hash: str, engine: EngineView, requests: RequestsView | None, now: Callable[[], datetime]
    ) -> None:
        self._node = node_hash
        self._engine = engine
        self._requests = requests
        self._now = now
        self._kept: dict[tuple[str, str], _Request] = {}

    @property
    def kept(self) -> int:
        """Requests whose lines are kept (those of the last whole scrape)."""
        return len(self._kept)

    def render(self, out: list[bytes], names: frozenset[str]) -> Iterator[None]:
        """Append the families to `out` (with `names`, as a filtered registry would), pausing (yielding)
        every SLICE volumes; reads nothing of the engine when none of its families is named."""
        wanted = [name for name in (READY, EXPIRATION, RENEWAL) if not names or name in names]
        if not wanted and not names & _COUNTS:
            return
        text = _Text(self._now())
        for views in self._engine.snapshot_in_slices(SLICE):
            for view in views:
                states = self._requests.requests_of(view.volume) if self._requests is not None else []
                text.add_volume(view, requests=len(states))
                for state in states:
                    text.add_request(self._entry(state, kept=text.kept), state=state, view=view)
            yield
        self._kept = text.kept  # what is gone since the last scrape is forgotten
        for name, lines in ((READY, text.ready), (EXPIRATION, text.expiration), (RENEWAL, text.renewal)):
            if name in wanted and (lines or not names):
                out.append(_HEADERS[name])
                out.extend(lines)
        out.append(_gauges(self._counts(text), names))

    def _entry(self, state: RequestState, *, kept: dict[tuple[str, str], _Request]) -> _Request:
        """The request's entry from the last scrape (made anew if its labels changed), filed in `kept`."""
        issuer = state.issuer or _NO_ISSUER  # upstream takes the labels from the request itself, pending or not
        entry = self._kept.get(state.key)
        if entry is None or (entry.issuer is not issuer and entry.issuer != issuer):
            entry = _Request(state, issuer)
        kept[entry.key] = entry
        return entry

    def _counts(self, text: _Text) -> list[Metric]:
        volumes = GaugeMetricFamily(VOLUME_COUNT, "The number of managed volumes by the csi driver.", labels=["node"])
        volumes.add_metric([self._node], text.volumes)
        requests = GaugeMetricFamily(
            REQUEST_COUNT, "The number of managed certificate requests by the csi driver.", labels=["node"]
        )
        requests.add_metric([self._node], text.requests)
        window = GaugeMetricFamily(
            IN_RENEWAL_WINDOW,
            "Certificates whose renewal time has come but that are neither renewed nor expired yet.",
            value=text.in_renewal_window,
        )
        expired = GaugeMetricFamily(
            EXPIRED, "Certificates past their not-after that are still awaiting renewal.", value=text.expired
        )
        return [volumes, requests, window, expired]


def _gauges(families: list[Metric], names: frozenset[str]) -> bytes:
    """Node-wide gauges, by prometheus_client; with `names`, those named (a gauge's sample has its name)."""
    chosen = [family for family in families if not names or family.name in names]
    return generate_latest(Families(chosen))


def _expires(view: VolumeView, state: RequestState) -> datetime | None:
    status = view.status
    if status.request_name == state.name and status.not_after is not None:
        return status.not_after
    return state.issued.not_after if state.issued is not None else None


def _timestamp(moment: datetime | None) -> str:
    # Upstream leaves the expiration out without a usable certificate (and the renewal without a time); a zero
    # says just as much.
    return sample_value(moment.timestamp() if moment is not None else 0.0)
