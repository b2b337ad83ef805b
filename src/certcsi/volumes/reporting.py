"""The engine's side of observability: what it reports, and the read-only view it offers.

`Manager` calls an `IssuanceObserver` at each issuance step; `certcsi.observability.observer`
turns the calls into metrics and Pod events. Every method must return at once and never raise
into the engine: an observer is told, never asked. `VolumeView` is what scrapes read, computed
from the engine's memory when asked (nothing is kept up to date between scrapes).

This module imports nothing heavy, so the engine depends on it without pulling in prometheus_client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from certcsi.volumes.driver import Issued, Volume, VolumeWarning
from certcsi.volumes.status import VolumeStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuanceDone:
    """One successful issuance."""

    issued: Issued
    # The volume had no certificate before (its first one since publish, or since it was deferred).
    first: bool
    # The previous attempts for this volume had failed.
    recovered: bool
    # Seconds from the start of this issuance (key generation) to the files being written.
    duration: float
    # Seconds since the first NodePublishVolume of the volume, for a first certificate this process saw begin.
    since_publish: float | None = None


class IssuanceObserver(Protocol):
    def issuing(self, volume: Volume) -> None:
        """An issuance starts (a first one, a renewal, or a retry)."""

    def issued(self, volume: Volume, done: IssuanceDone) -> None:
        """A certificate was written to the volume."""

    def failed(self, volume: Volume, error: BaseException, *, request_name: str | None, first: bool) -> None:
        """An issuance ended without a certificate; `request_name` when a request was created or resumed."""

    def forgotten(self, volume_id: str) -> None:
        """The volume was unpublished: drop whatever is kept per volume."""

    def warned(self, volume: Volume, warnings: Sequence[VolumeWarning]) -> None:
        """The driver accepted a new volume with these warnings (told once per publish, not per republish)."""


class NullObserver:
    """Observes nothing (the engine's default)."""

    def issuing(self, volume: Volume) -> None:
        pass

    def issued(self, volume: Volume, done: IssuanceDone) -> None:
        pass

    def failed(self, volume: Volume, error: BaseException, *, request_name: str | None, first: bool) -> None:
        pass

    def forgotten(self, volume_id: str) -> None:
        pass

    def warned(self, volume: Volume, warnings: Sequence[VolumeWarning]) -> None:
        pass


class Observers:
    """Tells several observers (the telemetry's and a driver's own), each in turn.

    One observer's bug is logged and never reaches the engine or the observers after it.
    """

    def __init__(self, *observers: IssuanceObserver) -> None:
        self._observers = observers

    def _each(self, call: Callable[[IssuanceObserver], None], *, what: str) -> None:
        for observer in self._observers:
            try:
                call(observer)
            except Exception:
                log.exception("an issuance observer failed", extra={"observer": type(observer).__name__, "call": what})

    def issuing(self, volume: Volume) -> None:
        self._each(lambda o: o.issuing(volume), what="issuing")

    def issued(self, volume: Volume, done: IssuanceDone) -> None:
        self._each(lambda o: o.issued(volume, done), what="issued")

    def failed(self, volume: Volume, error: BaseException, *, request_name: str | None, first: bool) -> None:
        self._each(lambda o: o.failed(volume, error, request_name=request_name, first=first), what="failed")

    def forgotten(self, volume_id: str) -> None:
        self._each(lambda o: o.forgotten(volume_id), what="forgotten")

    def warned(self, volume: Volume, warnings: Sequence[VolumeWarning]) -> None:
        self._each(lambda o: o.warned(volume, warnings), what="warned")


@dataclass(frozen=True)
class VolumeView:
    """One managed volume as a scrape sees it; `volume` carries no secrets."""

    volume: Volume
    next_issuance: datetime | None
    status: VolumeStatus
    live: bool

    @property
    def volume_id(self) -> str:
        return self.volume.volume_id

    def in_renewal_window(self, now: datetime) -> bool:
        """Its renewal time has come but the certificate it holds has not expired (nor been replaced yet)."""
        not_after = self.status.not_after
        due = self.next_issuance
        return not_after is not None and due is not None and due <= now < not_after

    def expired(self, now: datetime) -> bool:
        return self.status.not_after is not None and self.status.not_after <= now
