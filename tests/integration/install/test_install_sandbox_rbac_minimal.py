"""The rendered RBAC is minimal: every verb of every rule is needed by a call the lifecycle made.

Each verb is dropped in turn and the recorded, passed permission checks of the install's accounts
are asked again of the real Authorizer over the reduced rendered RBAC alone: at least one must now
fail, and only checks of that verb. A verb no call needs would fail nothing.
"""

from __future__ import annotations

import pytest
from rbac_lifecycle_support import Lifecycles
from rbac_proof_support import CONFIGS, Check, RuleVerb, rendered, replay, rule_verbs, without_verb


def _to_prove(name: str) -> list[RuleVerb]:
    """The config's rule verbs; for a config built on a base, those the base does not have."""
    config = CONFIGS[name]
    found = rule_verbs(rendered(config))
    if config.base is None:
        return found
    shared = {str(rv) for rv in rule_verbs(rendered(CONFIGS[config.base]))}
    return [rv for rv in found if str(rv) not in shared]


def _gated(name: str) -> bool:
    return any(s.startswith("app.driver.podReadinessGates=") for s in CONFIGS[name].sets)


def _evidence(lifecycles: Lifecycles, name: str) -> list[Check]:
    """The allowed calls of the lifecycle; with readiness gates, also those of the run without the pod
    watch, where the gates' GET fallback (for a watch that lags or is down) is the only way to a pod."""
    allowed = lifecycles.record(name).allowed
    if _gated(name):
        allowed += lifecycles.record(name, without_pod_watch=True).allowed
    return allowed


CASES = [pytest.param(name, rv, id=f"{name}: {rv}") for name in CONFIGS for rv in _to_prove(name)]


@pytest.mark.parametrize(("name", "dropped"), CASES)
def test_each_rule_verb_is_needed(lifecycles: Lifecycles, name: str, dropped: RuleVerb) -> None:
    record = lifecycles.record(name)
    refused = replay(without_verb(record.objects, dropped), _evidence(lifecycles, name))
    assert refused, f"no call of the lifecycle needs {dropped}"
    assert {want for check in refused for want in check.wants} <= {
        (dropped.verb, resource) for resource in dropped.rule["resources"]
    }


@pytest.mark.parametrize("name", CONFIGS)
def test_the_replay_answers_as_the_sandbox_did(lifecycles: Lifecycles, name: str) -> None:
    record = lifecycles.record(name)
    assert replay(record.objects, record.checks) == []


def test_every_config_has_rules_to_prove() -> None:
    assert all(_to_prove(name) for name in CONFIGS)


@pytest.mark.parametrize("name", [name for name in CONFIGS if _gated(name)])
def test_without_the_pod_watch_the_gates_still_pass_through_get(lifecycles: Lifecycles, name: str) -> None:
    record = lifecycles.record(name, without_pod_watch=True)
    assert record.observed.renewed_serial != record.observed.first_serial
    assert {want for check in record.refused for want in check.wants} <= {("list", "pods"), ("watch", "pods")}
    assert [check for check in record.allowed if ("get", "pods") in check.wants]
