"""One full pod lifecycle per install, recorded once and then checked by several tests.

    record = run_lifecycle(CONFIGS["csi-driver"])      # publish → issued → renewed → deleted
    record.denied                                      # decisions refused to the install's accounts
    record.allowed                                     # the requests its RBAC has to keep allowing

Each lifecycle also makes every call the install's rules exist for: a pod whose issuance keeps
failing (so the driver records an Event on it, and then counts the repeat), and for
csi-driver-spiffe an impostor request the approver denies (so it records an Event on it) and a
clean shutdown of the approver (so it releases its Lease).
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass

from approver_sandbox_support import request_body, spiffe_id
from rbac_proof_support import Config, Decided, Obj
from rbac_run_support import (
    APP_NAMESPACE,
    NO_RBAC_ACCOUNT,
    POD_ACCOUNT,
    REJECTED_NAMESPACE,
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
    requests_left: int  # CertificateRequests of the deleted pods still stored
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
    decisions: tuple[Decided, ...]  # every decision about the install's accounts, in order
    observed: Observed

    @property
    def denied(self) -> list[Decided]:
        return [d for d in self.decisions if not d.allowed]

    @property
    def allowed(self) -> list[Decided]:
        return [d for d in self.decisions if d.allowed]


def run_lifecycle(config: Config) -> LifecycleRecord:
    """Run the whole lifecycle of `config` on a fresh event loop (a session fixture calls it once)."""
    return asyncio.run(_lifecycle(config))


async def _lifecycle(config: Config) -> LifecycleRecord:
    async with installed(config) as env:
        if config.chart == "csi-driver":
            observed = await _csi_driver(env)
        else:
            observed = await _spiffe(env)
        decisions = tuple(env.audit.of(env.accounts))
    return LifecycleRecord(config, env.objects, env.accounts, decisions, observed)


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
    """Delete the pods (kubelet unpublishes their volumes); the CertificateRequests left of them."""
    await asyncio.gather(*(env.kubelet.delete_pod(namespace, name, timeout=30) for namespace, name in pods))
    namespaces = {namespace for namespace, _ in pods}
    return sum(1 for ns in namespaces for r in env.requests(ns) if r["metadata"]["name"] != IMPOSTOR)


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
    await env.kubelet.apply(env.pod_yaml("web", APP_NAMESPACE))
    await env.kubelet.apply(env.pod_yaml("nobody", APP_NAMESPACE, NO_RBAC_ACCOUNT))
    first, renewed = await _issued_and_renewed(env)
    failure = await _failure_repeated(env, APP_NAMESPACE, "nobody")
    impostor, impostor_events = await _impostor(env)
    approved = sum(1 for r in env.requests(APP_NAMESPACE) if _decision(r) == "Approved")
    left = await _delete(env, (APP_NAMESPACE, "web"), (APP_NAMESPACE, "nobody"))
    exit_code, holder = await _stop_approver(env)
    return Observed(first, renewed, failure, left, approved, impostor, impostor_events, holder, exit_code)


async def _impostor(env: Installed) -> tuple[str, tuple[str, ...]]:
    """A pod's account asking for another account's SPIFFE ID: the approver must deny it, with an Event."""
    token, _ = env.cluster.authority.mint(namespace=APP_NAMESPACE, service_account=POD_ACCOUNT, audiences=None)
    body = request_body(IMPOSTOR, spiffe_id(APP_NAMESPACE, "someone-else"))
    body["spec"]["duration"] = next(s.partition("=")[2] for s in env.config.sets if "RequestDuration=" in s)
    await env.admin.create_certificate_request(APP_NAMESPACE, body, token=token)

    def decided() -> str:
        found = env.cluster.store.find(BY_KEY["cert-manager.io/certificaterequests"], APP_NAMESPACE, IMPOSTOR)
        return _decision(found) if found is not None else ""

    await eventually(lambda: bool(decided()) and bool(env.events(APP_NAMESPACE, IMPOSTOR)), timeout=10, what="denial")
    return decided(), tuple(str(e["reason"]) for e in env.events(APP_NAMESPACE, IMPOSTOR))


def _decision(request: Obj) -> str:
    conditions = (request.get("status") or {}).get("conditions") or []
    return next((str(c["type"]) for c in conditions if c.get("type") in ("Approved", "Denied")), "")


async def _stop_approver(env: Installed) -> tuple[int, str | None]:
    """SIGTERM, as kubelet stops a pod: the approver must release its Lease on the way out."""
    env.approver.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(env.approver.wait(), 15)
    namespace = next(o for o in env.objects if o["kind"] == "Deployment")["metadata"]["namespace"]
    leases, _ = env.cluster.store.list(LEASES, namespace)
    holders = [str((lease.get("spec") or {}).get("holderIdentity") or "") for lease in leases]
    return code, holders[0] if holders else None

