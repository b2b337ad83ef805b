"""Own-service-account mode: the driver's account asks; the URI must name the owner Pod's account."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from approver_support import (
    DRIVER_SA,
    NS,
    OWN_SA_POLICY,
    POD,
    SA,
    USERNAME,
    assert_approved,
    assert_denied,
    csr_pem,
    make_request,
    owner_pods,
    uri_san,
)

from certcsi.approver import PodLookupError, evaluate

Lookup = Callable[[str, str], "tuple[str, str] | None"]


def pods(table: dict[tuple[str, str], tuple[str, str]]) -> Lookup:
    return lambda namespace, name: table.get((namespace, name))


RUNNING = pods({(NS, POD): (NS, SA)})


def driver_request(uri: str = f"spiffe://cluster.local/ns/{NS}/sa/{SA}", **spec: object) -> dict[str, object]:
    spec.setdefault("username", DRIVER_SA)
    return make_request(csr_pem(extensions=[uri_san(uri)]), **spec)


def test_a_request_for_the_owner_pods_account_passes() -> None:
    assert_approved(evaluate(driver_request(), OWN_SA_POLICY, pod_identity=RUNNING))


def test_the_lookup_is_asked_about_the_owner_pod() -> None:
    asked: list[tuple[str, str]] = []

    def lookup(namespace: str, name: str) -> tuple[str, str]:
        asked.append((namespace, name))
        return (NS, SA)

    evaluate(driver_request(), OWN_SA_POLICY, pod_identity=lookup)
    assert asked == [(NS, POD)]


def test_a_request_made_by_anyone_but_the_driver_is_denied() -> None:
    verdict = evaluate(driver_request(username=USERNAME), OWN_SA_POLICY, pod_identity=RUNNING)
    assert_denied(verdict, "driver-service-account", f"exp={DRIVER_SA!r}")


def test_another_trust_domain_is_denied() -> None:
    verdict = evaluate(driver_request(f"spiffe://evil.example/ns/{NS}/sa/{SA}"), OWN_SA_POLICY, pod_identity=RUNNING)
    assert_denied(verdict, "trust-domain", "got='evil.example'")


@pytest.mark.parametrize(
    "uri",
    [
        "spiffe://cluster.local/anything",
        f"spiffe://cluster.local/ns/{NS}/sa/{SA}/extra",
        f"spiffe://cluster.local/ns/{NS}/sa/",
        f"spiffe://cluster.local/ns/{NS}/sa/{SA}?q",
        f"spiffe://cluster.local/ns/{NS}/sa/{SA}#f",
    ],
)
def test_a_path_that_is_not_ns_sa_is_denied(uri: str) -> None:
    assert_denied(evaluate(driver_request(uri), OWN_SA_POLICY, pod_identity=RUNNING), "spiffe-id")


def test_an_id_in_another_namespace_than_the_request_is_denied() -> None:
    verdict = evaluate(
        driver_request(f"spiffe://cluster.local/ns/kube-system/sa/{SA}"), OWN_SA_POLICY, pod_identity=RUNNING
    )
    assert_denied(verdict, "spiffe-id", "'kube-system' is not the request's namespace")


def test_an_id_for_another_account_than_the_pods_is_denied() -> None:
    # Upstream approves this: the driver's account could mint any ns/sa.
    verdict = evaluate(driver_request(f"spiffe://cluster.local/ns/{NS}/sa/admin"), OWN_SA_POLICY, pod_identity=RUNNING)
    assert_denied(verdict, "pod-owner", f"runs as {NS}/{SA}, not as the requested {NS}/admin")


@pytest.mark.parametrize(
    "refs", [[], owner_pods("a", "b"), [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": POD}]]
)
def test_without_exactly_one_pod_owner_it_is_denied(refs: list[dict[str, str]]) -> None:
    request = driver_request()
    request["metadata"]["ownerReferences"] = refs  # type: ignore[index]
    assert_denied(evaluate(request, OWN_SA_POLICY, pod_identity=RUNNING), "pod-owner", "exactly one Pod owner")


def test_a_pod_that_does_not_exist_is_denied() -> None:
    verdict = evaluate(driver_request(), OWN_SA_POLICY, pod_identity=pods({}))
    assert_denied(verdict, "pod-owner", f"{NS}/{POD} does not exist")


def test_without_a_lookup_nothing_is_approved() -> None:
    assert_denied(evaluate(driver_request(), OWN_SA_POLICY), "pod-owner", "no Pod lookup")


def test_a_failing_lookup_is_not_a_verdict() -> None:
    def broken(namespace: str, name: str) -> tuple[str, str]:
        raise ConnectionError("apiserver down")

    with pytest.raises(PodLookupError, match=f"{NS}/{POD}"):
        evaluate(driver_request(), OWN_SA_POLICY, pod_identity=broken)
