"""One full pod lifecycle per install, recorded once and then checked by several tests.

    record = run_lifecycle(CONFIGS["csi-driver"])      # publish → issued → renewed → deleted
    record.refused                                     # checks the install's accounts failed
    record.allowed                                     # the checks its RBAC has to keep passing

Each lifecycle also makes every call the install's rules exist for: a pod whose issuance keeps
failing (so the driver records an Event on it, and then counts the repeat; left out for a config
with a `base`, whose run proves that), and for csi-driver-spiffe an impostor request the approver
denies (so it records an Event on it) and a clean shutdown of the approver (so it releases its
Lease).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from dataclasses import dataclass

from approver_sandbox_support import request_body, spiffe_id
from rbac_proof_support import CONFIGS, SPIFFE_DURATION, Check, Config, Obj, RuleVerb, rendered, rule_verbs
from rbac_run_support import (
    APP_NAMESPACE,
    NO_RBAC_ACCOUNT,
    POD_ACCOUNT,
    REJECTED_NAMESPACE,
    REQUESTS,
    Installed,
    eventually,
    installed,
)

from certcsi.pki.certs import parse_pem_chain
from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.demo import wait_for_renewal

LEASES = BY_KEY["coordination.k8s.io/leases"]
IMPOSTOR = "impostor"


@dataclass(frozen=True)
class Observed:
    """What the user would see of one lifecycle."""

    first_serial: int
    renewed_serial: int
    # The driver's Warning on the pod whose issuance fails: (reason, count).
    failure_event: tuple[str, int]
    requests_left: int  # CertificateRequests of the deleted pods that no garbage collection takes
    approved: int = 0  # requests of the pod the approver approved (csi-driver-spiffe)
    impostor_decision: str = ""  # the condition the approver wrote on the impostor's request
    impostor_events: tuple[str, ...] = ()  # reasons of the approver's Events on it
    lease_holder_after_stop: str | None = None
    approver_exit: int | None = None


@dataclass(frozen=True)
class LifecycleRecord:
    config: Config
    objects: list[Obj]
    accounts: tuple[str, ...]
    checks: tuple[Check, ...]  # every permission check of the install's accounts, in order
    observed: Observed

    @property
    def refused(self) -> list[Check]:
        return [c for c in self.checks if not c.allowed]

    @property
    def allowed(self) -> list[Check]:
        return [c for c in self.checks if c.allowed]


def pod_watch(objects: list[Obj]) -> list[RuleVerb]:
    """The verbs of the driver's pod watch (readiness gates): without them, only its GET fallback is left."""
    return [rv for rv in rule_verbs(objects) if rv.rule["resources"] == ["pods"] and rv.verb in ("list", "watch")]


class Lifecycles:
    """Runs a config's lifecycle on first use and keeps its record (or its failure) for the session."""

    def __init__(self) -> None:
        self._done: dict[tuple[str, bool], LifecycleRecord | Exception] = {}

    def record(self, name: str, *, without_pod_watch: bool = False) -> LifecycleRecord:
        """The lifecycle of CONFIGS[name]; `without_pod_watch`: with the driver's pod watch verbs dropped."""
        key = (name, without_pod_watch)
        if key not in self._done:
            config = CONFIGS[name]
            drop = pod_watch(rendered(config)) if without_pod_watch else []
            try:
                self._done[key] = run_lifecycle(config, drop=drop)
            except Exception as err:  # one failed run fails every test of it, without running it again
                self._done[key] = err
        done = self._done[key]
        if isinstance(done, Exception):
            raise AssertionError(f"the {name} lifecycle failed: {done!r}") from done
        return done


def run_lifecycle(config: Config, *, drop: Sequence[RuleVerb] = ()) -> LifecycleRecord:
    """Run the whole lifecycle of `config` (without the `drop`ped verbs) on a fresh event loop."""
    return asyncio.run(_lifecycle(config, drop))


async def _lifecycle(config: Config, drop: Sequence[RuleVerb]) -> LifecycleRecord:
    async with installed(config, drop=drop) as env:
        if config.chart == "csi-driver":
            observed = await _csi_driver(env)
        else:
            observed = await _spiffe(env)
        checks = tuple(env.audit.checks(env.accounts))
    return LifecycleRecord(config, env.objects, env.accounts, checks, observed)


async def _issued_and_renewed(env: Installed) -> tuple[int, int]:
    await env.kubelet.wait_ready(APP_NAMESPACE, "web", timeout=30)
    certificate = env.kubelet.pod_volume_path(APP_NAMESPACE, "web", "tls") / "tls.crt"
    # With --continue-on-not-ready the volume is published empty and filled once the gates pass.
    await eventually(certificate.exists, timeout=15, what="the first certificate")
    first = parse_pem_chain(certificate.read_bytes())[0].serial_number
    renewed = await wait_for_renewal(certificate, first, timeout=15)
    return first, renewed.serial_number


async def _failure_repeated(env: Installed, namespace: str, pod: str) -> tuple[str, int]:
    """The driver's Warning on `pod`, once kubelet's retries have made it count a repeat."""

    def counted() -> list[Obj]:
        return [e for e in env.events(namespace, pod, component=env.driver_name) if e.get("type") == "Warning"]

    await eventually(lambda: any(e.get("count", 0) >= 2 for e in counted()), timeout=20, what=f"a repeated {pod} event")
    [event] = counted()
    return str(event["reason"]), int(event["count"])


async def _delete(env: Installed, *pods: tuple[str, str]) -> int:
    """Delete the pods (kubelet unpublishes their volumes); the CertificateRequests left that no GC takes.

    The pod's deletion takes its requests with it (owner reference). A renewal or a publish retry in
    flight while the pod goes can still create one after it is gone: a cluster's garbage collector
    deletes such a request (its owner is absent), the sandbox's collects only on the owner's
    deletion, so those are not counted.
    """
    await asyncio.gather(*(env.kubelet.delete_pod(namespace, name, timeout=30) for namespace, name in pods))
    live = {p["metadata"]["uid"] for p in env.cluster.store.all_objects(BY_KEY["/pods"])}
    left = [r for namespace in {ns for ns, _ in pods} for r in env.requests(namespace)]
    return sum(1 for r in left if r["metadata"]["name"] != IMPOSTOR and not _owned_by_a_gone_pod(r, live))


def _owned_by_a_gone_pod(request: Obj, live: set[str]) -> bool:
    owners = request["metadata"].get("ownerReferences") or []
    return any(o.get("kind") == "Pod" and o.get("uid") not in live for o in owners)


async def _csi_driver(env: Installed) -> Observed:
    await env.kubelet.apply(env.pod_yaml("web", APP_NAMESPACE))
    first, renewed = await _issued_and_renewed(env)
    if env.config.base is not None:
        return Observed(first, renewed, ("", 0), await _delete(env, (APP_NAMESPACE, "web")))
    await env.kubelet.apply(env.pod_yaml("web", REJECTED_NAMESPACE))
    failure = await _failure_repeated(env, REJECTED_NAMESPACE, "web")
    left = await _delete(env, (APP_NAMESPACE, "web"), (REJECTED_NAMESPACE, "web"))
    return Observed(first, renewed, failure, left)


async def _spiffe(env: Installed) -> Observed:
    pods = [(APP_NAMESPACE, "web")]
    await env.kubelet.apply(env.pod_yaml("web", APP_NAMESPACE))
    first, renewed = await _issued_and_renewed(env)
    failure = ("", 0)
    if env.config.base is None:
        pods.append((APP_NAMESPACE, "nobody"))
        await env.kubelet.apply(env.pod_yaml("nobody", APP_NAMESPACE, NO_RBAC_ACCOUNT))
        failure = await _failure_repeated(env, APP_NAMESPACE, "nobody")
    impostor, impostor_events = await _impostor(env)
    approved = sum(1 for r in env.requests(APP_NAMESPACE) if decision(r) == "Approved")
    left = await _delete(env, *pods)
    exit_code, holder = await _stop_approver(env)
    return Observed(first, renewed, failure, left, approved, impostor, impostor_events, holder, exit_code)


async def _impostor(env: Installed) -> tuple[str, tuple[str, ...]]:
    """A pod's account asking for another account's SPIFFE ID: the approver must deny it, with an Event."""
    token, _ = env.cluster.authority.mint(namespace=APP_NAMESPACE, service_account=POD_ACCOUNT, audiences=None)
    body = request_body(IMPOSTOR, spiffe_id(APP_NAMESPACE, "someone-else"))
    body["spec"]["duration"] = SPIFFE_DURATION  # what the approver requires: it is denied for the identity alone
    assert env.admin is not None
    await env.admin.create_certificate_request(APP_NAMESPACE, body, token=token)

    def decided() -> str:
        found = env.cluster.store.find(REQUESTS, APP_NAMESPACE, IMPOSTOR)
        return decision(found) if found is not None else ""

    await eventually(lambda: bool(decided()) and bool(env.events(APP_NAMESPACE, IMPOSTOR)), timeout=10, what="denial")
    return decided(), tuple(str(e["reason"]) for e in env.events(APP_NAMESPACE, IMPOSTOR))


def decision(request: Obj) -> str:
    """The approval condition on a request: "Approved", "Denied", or "" while pending."""
    conditions = (request.get("status") or {}).get("conditions") or []
    return next((str(c["type"]) for c in conditions if c.get("type") in ("Approved", "Denied")), "")


async def _stop_approver(env: Installed) -> tuple[int, str | None]:
    """SIGTERM, as kubelet stops a pod: the approver must release its Lease on the way out."""
    assert env.approver is not None
    env.approver.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(env.approver.wait(), 15)
    namespace = next(o for o in env.objects if o["kind"] == "Deployment")["metadata"]["namespace"]
    leases, _ = env.cluster.store.list(LEASES, namespace)
    holders = [str((lease.get("spec") or {}).get("holderIdentity") or "") for lease in leases]
    return code, holders[0] if holders else None
