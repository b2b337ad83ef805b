"""The node process's `IssuanceObserver`: counts into `NodeMetrics`, tells the Pod through `PodEvents`.

Events, kept few on purpose (renewals happen every few dozen minutes on every pod):
- Warning `IssuanceDenied` / `IssuanceFailed` / `IssuanceTimeout` / `IssuerUnavailable` on each failed
  attempt, carrying the approver's, issuer's or API server's message (repeats aggregate into a count);
- Normal `CertificateIssued` once per volume, when its first certificate is written;
- Normal `CertificateRenewed` only when a renewal succeeds after failures (the Warning's all-clear);
- a Warning per driver warning about a newly published volume (e.g. `UnknownVolumeAttribute`).
Routine renewals produce no event: `certcsi_renewals_total` counts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from certcsi.observability.events import PodEvent, PodEvents, issuance_event
from certcsi.redact import scrub
from certcsi.timestamps import rfc3339_nano
from certcsi.volumes.driver import Volume, VolumeWarning
from certcsi.volumes.reporting import IssuanceDone

if TYPE_CHECKING:  # prometheus_client is imported only by a process that serves metrics
    from certcsi.observability.metrics import NodeMetrics


class NodeObserver:
    """Implements `certcsi.volumes.reporting.IssuanceObserver`; either part may be absent."""

    def __init__(self, *, metrics: NodeMetrics | None, events: PodEvents | None) -> None:
        self._metrics = metrics
        self._events = events

    def issuing(self, volume: Volume) -> None:
        if self._metrics is not None:
            self._metrics.issuing(volume.volume_id)

    def issued(self, volume: Volume, done: IssuanceDone) -> None:
        if self._metrics is not None:
            self._metrics.issuance_duration.observe(done.duration)
            if done.since_publish is not None:
                self._metrics.time_to_first_certificate.observe(done.since_publish)
            if not done.first:
                self._metrics.renewals.inc()
        if self._events is None:
            return
        until = rfc3339_nano(done.issued.not_after)
        if done.first:
            message = f"certificate issued by CertificateRequest {done.issued.request_name}, valid until {until}"
            self._events.emit(volume, PodEvent(type="Normal", reason="CertificateIssued", message=message))
        elif done.recovered:
            message = f"certificate renewed after failed attempts, valid until {until}"
            self._events.emit(volume, PodEvent(type="Normal", reason="CertificateRenewed", message=message))

    def failed(self, volume: Volume, error: BaseException, *, request_name: str | None, first: bool) -> None:
        if self._metrics is not None:
            self._metrics.failed(volume.volume_id, error)
        if self._events is not None and (event := issuance_event(error, request_name=request_name)) is not None:
            self._events.emit(volume, event)

    def forgotten(self, volume_id: str) -> None:
        if self._metrics is not None:
            self._metrics.forget(volume_id)

    def warned(self, volume: Volume, warnings: Sequence[VolumeWarning]) -> None:
        if self._events is None:
            return
        for warning in warnings:
            self._events.emit(volume, PodEvent(type="Warning", reason=warning.reason, message=scrub(warning.message)))
