"""The rendered RBAC is enough: a whole pod lifecycle, run as the install's own ServiceAccounts, is
never refused a call, and does what the user expects (issued, renewed, failures reported, approved)."""

from __future__ import annotations

import pytest
from rbac_lifecycle_support import Lifecycles
from rbac_proof_support import CONFIGS

SPIFFE = [name for name, config in CONFIGS.items() if config.chart == "csi-driver-spiffe"]
# The Warning the driver records on the pod whose issuance keeps failing (and the count of repeats).
FAILURE_REASONS = {"csi-driver": "IssuanceDenied", "csi-driver-spiffe": "IssuanceFailed"}


@pytest.mark.parametrize("name", CONFIGS)
def test_no_call_of_the_install_s_accounts_is_refused(lifecycles: Lifecycles, name: str) -> None:
    record = lifecycles.record(name)
    assert {check.user.username for check in record.checks} == set(record.accounts)  # each account did work
    assert [str(check) for check in record.refused] == []


@pytest.mark.parametrize("name", CONFIGS)
def test_the_pod_is_issued_renewed_and_cleaned_up(lifecycles: Lifecycles, name: str) -> None:
    record = lifecycles.record(name)
    observed = record.observed
    assert observed.renewed_serial != observed.first_serial
    assert observed.requests_left == 0
    if record.config.base is None:
        reason, count = observed.failure_event
        assert reason == FAILURE_REASONS[record.config.chart]
        assert count >= 2


@pytest.mark.parametrize("name", SPIFFE)
def test_the_approver_approves_denies_and_hands_over_its_lease(lifecycles: Lifecycles, name: str) -> None:
    observed = lifecycles.record(name).observed
    assert observed.approved >= 1
    assert observed.impostor_decision == "Denied"
    assert observed.impostor_events == ("Denied",)
    assert observed.approver_exit == 0
    assert observed.lease_holder_after_stop == ""  # released on SIGTERM
