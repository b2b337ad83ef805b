"""Election timings that could let two replicas lead at once are refused, naming what is wrong."""

from __future__ import annotations

import pytest

from certcsi.approver.leader import ElectionConfig, default_identity


def _config(**timings: float) -> ElectionConfig:
    return ElectionConfig(namespace="cert-manager", name="spiffe.csi.cert-manager.io", identity="a", **timings)


def test_client_go_defaults_are_accepted() -> None:
    config = _config()
    assert (config.lease_duration, config.renew_deadline, config.retry_period) == (15.0, 10.0, 2.0)
    assert config.lease_duration_seconds == 15


@pytest.mark.parametrize(
    ("timings", "words"),
    [
        ({"retry_period": 0.0}, "retry period: must be positive"),
        ({"renew_deadline": 2.0}, "renew deadline (2.0s) must be greater than 1.2 x the retry period"),
        ({"lease_duration": 12.0}, "lease duration (12.0s) must be greater than the renew deadline"),
        ({"lease_duration": 10.0}, "so that a leader stops before a standby can take over"),
    ],
)
def test_unsafe_timings_are_refused(timings: dict[str, float], words: str) -> None:
    with pytest.raises(ValueError) as caught:
        _config(**timings)
    assert words in str(caught.value)


@pytest.mark.parametrize("field", ["namespace", "name", "identity"])
def test_empty_names_are_refused(field: str) -> None:
    values = {"namespace": "ns", "name": "lease", "identity": "me", field: ""}
    with pytest.raises(ValueError, match=f"leader election {field}: must not be empty"):
        ElectionConfig(namespace=values["namespace"], name=values["name"], identity=values["identity"])


def test_a_fractional_duration_is_recorded_rounded_up() -> None:
    assert _config(lease_duration=2.5, renew_deadline=1.0, retry_period=0.25).lease_duration_seconds == 3


def test_identities_differ_between_processes_on_one_host() -> None:
    first, second = default_identity(), default_identity()
    assert first != second
    assert first.split("_")[0] == second.split("_")[0]
