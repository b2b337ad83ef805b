"""Observers: every observer hears every call in order; one that raises stops neither the others nor the engine."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from certcsi.volumes.driver import Issued, Volume
from certcsi.volumes.reporting import IssuanceDone, NullObserver, Observers

VOLUME = Volume(volume_id="vol", target_path="/t", attributes={})
ISSUED = Issued(
    certificate_pem=b"C",
    ca_pem=b"",
    not_before=datetime(2026, 1, 1, tzinfo=UTC),
    not_after=datetime(2026, 1, 2, tzinfo=UTC),
    request_name="r",
)


class Recording(NullObserver):
    def __init__(self, name: str, calls: list[str], *, broken: bool = False) -> None:
        self.name, self.calls, self.broken = name, calls, broken

    def _note(self, what: str) -> None:
        self.calls.append(f"{self.name}.{what}")
        if self.broken:
            raise RuntimeError("observer bug")

    def issuing(self, volume: Volume) -> None:
        self._note("issuing")

    def issued(self, volume: Volume, done: IssuanceDone) -> None:
        self._note(f"issued:{done.issued.request_name}")

    def failed(self, volume: Volume, error: BaseException, *, request_name: str | None, first: bool) -> None:
        self._note(f"failed:{request_name}:{first}")

    def forgotten(self, volume_id: str) -> None:
        self._note(f"forgotten:{volume_id}")


def test_each_call_reaches_every_observer_in_order(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []
    observers = Observers(Recording("a", calls, broken=True), Recording("b", calls))
    with caplog.at_level(logging.ERROR):
        observers.issuing(VOLUME)
        observers.issued(VOLUME, IssuanceDone(issued=ISSUED, first=True, recovered=False, duration=0.1))
        observers.failed(VOLUME, RuntimeError("x"), request_name="r2", first=False)
        observers.forgotten("vol")
    assert calls == [
        "a.issuing",
        "b.issuing",
        "a.issued:r",
        "b.issued:r",
        "a.failed:r2:False",
        "b.failed:r2:False",
        "a.forgotten:vol",
        "b.forgotten:vol",
    ]
    assert [r.getMessage() for r in caplog.records] == ["an issuance observer failed"] * 4
