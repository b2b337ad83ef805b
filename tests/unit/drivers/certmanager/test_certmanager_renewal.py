"""Renewal time: default two thirds into the leaf's lifetime, or renew-before when it fits inside it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.volumes.driver import Issued, Volume
from certcsi.volumes.schedule import default_renewal_time, renew_before_time

START = datetime(1970, 1, 1, tzinfo=UTC)
END = datetime(1970, 1, 4, tzinfo=UTC)


def test_default_is_two_thirds_into_the_lifetime() -> None:
    assert default_renewal_time(START, END) == datetime(1970, 1, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("renew_before", "expected"),
    [
        (timedelta(hours=48), datetime(1970, 1, 2, tzinfo=UTC)),
        (timedelta(hours=100), datetime(1970, 1, 3, tzinfo=UTC)),  # longer than the lifetime: default
        (timedelta(hours=72), datetime(1970, 1, 3, tzinfo=UTC)),  # exactly the lifetime: default
        (timedelta(hours=1), datetime(1970, 1, 3, 23, tzinfo=UTC)),
    ],
)
def test_renew_before_vectors(renew_before: timedelta | None, expected: datetime) -> None:
    assert renew_before_time(START, END, renew_before) == expected


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        (None, datetime(1970, 1, 3, tzinfo=UTC)),
        ("48h", datetime(1970, 1, 2, tzinfo=UTC)),
        ("100h", datetime(1970, 1, 3, tzinfo=UTC)),
    ],
)
def test_next_issuance_uses_the_attribute(
    volume_for: Callable[..., Volume], attribute: str | None, expected: datetime
) -> None:
    issued = Issued(certificate_pem=b"", ca_pem=b"", not_before=START, not_after=END, request_name="r")
    volume = volume_for({"csi.cert-manager.io/renew-before": attribute})
    assert CertManagerDriver().next_issuance(volume, issued) == expected
