"""An in-memory stand-in for the part of `certcsi.kube.Kube` that issuance uses, plus helpers.

Kept with the tests on purpose: it models just what `Issuance` needs (create / delete / watch with
label selectors, and status changes made by a pretend cert-manager). No test lives here.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from certcsi.errors import KubernetesError
from certcsi.kube import WatchEvent
from certcsi.pki.csr import CsrSpec, build_csr, load_csr
from certcsi.pki.keys import KeySpec, generate_private_key
from certcsi.pki.signing import create_ca, sign_csr
from certcsi.volumes.driver import IssuerRef, RequestPlan, Volume
from certcsi.volumes.issuance import Issuance

Obj = dict[str, Any]
NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
CA_KEY, CA_CERT = create_ca(common_name="test-ca", now=NOW)
CA_PEM = CA_CERT.public_bytes(Encoding.PEM)
KEY = generate_private_key(KeySpec("ECDSA"))
CSR_PEM = build_csr(KEY, CsrSpec(dns_names=("a.example",)))


def volume(volume_id: str = "csi-0123", *, pod: bool = True) -> Volume:
    attributes = {"csi.cert-manager.io/issuer-name": "ca"}
    if pod:
        attributes |= {
            "csi.storage.k8s.io/pod.namespace": "team-a",
            "csi.storage.k8s.io/pod.name": "web-0",
            "csi.storage.k8s.io/pod.uid": "5b1c4f6e-0000-4000-8000-000000000001",
        }
    return Volume(volume_id=volume_id, target_path=f"/var/lib/kubelet/pods/x/{volume_id}", attributes=attributes)


def plan(**overrides: Any) -> RequestPlan:
    values: dict[str, Any] = {
        "csr_pem": CSR_PEM,
        "issuer_ref": IssuerRef(name="ca", kind="ClusterIssuer"),
        "duration": timedelta(hours=1),
        "is_ca": False,
        "usages": ("digital signature", "key encipherment"),
    }
    values.update(overrides)
    return RequestPlan(**values)


def signed_chain_b64(request: Obj, *, hours: int = 1) -> str:
    csr = load_csr(base64.b64decode(request["spec"]["request"]))
    cert = sign_csr(
        ca_key=CA_KEY, ca_cert=CA_CERT, csr=csr, duration=timedelta(hours=hours), usages=(), is_ca=False, now=NOW
    )
    return base64.b64encode(cert.public_bytes(Encoding.PEM) + CA_PEM).decode()


_TERM = re.compile(r"\s*([^,=\s]+)\s+in\s+\(([^)]*)\)\s*|\s*([^,=\s]+)\s*=\s*([^,\s]*)\s*")


def _matches(obj: Obj, selector: str) -> bool:
    """`k=v` and `k in (a,b)` terms, comma-separated (what the engine sends)."""
    labels = obj["metadata"].get("labels") or {}
    position = 0
    while position < len(selector):
        term = _TERM.match(selector, position)
        assert term is not None, f"selector the fake does not understand: {selector!r}"
        key, values, equal_key, equal_value = term.groups()
        if key is not None and labels.get(key) not in {v.strip() for v in values.split(",")}:
            return False
        if equal_key is not None and labels.get(equal_key) != equal_value:
            return False
        position = term.end() + 1  # past the comma
    return True


class FakeKube:
    """CertificateRequests in a dict; watchers get events through queues, as the API would send them.

    `listed` (when set) holds the first SYNCED back until it is set, as a slow first list would;
    `deaf` drops every event on the floor, as a watch on a half-open connection does; `resync()`
    is what the watch yields when it reconnects after a failure.
    """

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], Obj] = {}
        self.created: list[tuple[Obj, str | None]] = []  # (body, token) per create call
        self.deleted: list[tuple[str, str]] = []
        self.lists: list[str] = []  # the label selector of each list call
        self.fail_delete: set[str] = set()
        self.fail_create: KubernetesError | None = None
        self.fail_read: KubernetesError | None = None
        self.listed: asyncio.Event | None = None
        self.deaf = False
        self._watchers: list[tuple[str, asyncio.Queue[WatchEvent]]] = []
        self._ticks = itertools.count(1)
        self._versions = itertools.count(1)

    def _emit(self, kind: str, obj: Obj) -> None:
        if self.deaf:
            return
        for selector, queue in self._watchers:
            if _matches(obj, selector):
                queue.put_nowait(WatchEvent(kind, obj))  # type: ignore[arg-type]

    def resync(self) -> None:
        for _, queue in self._watchers:
            queue.put_nowait(WatchEvent("SYNCED", {}))

    def _stamp(self, obj: Obj) -> Obj:
        obj["metadata"]["resourceVersion"] = str(next(self._versions))
        return obj

    async def create_certificate_request(
        self, namespace: str, body: Mapping[str, Any], *, token: str | None = None
    ) -> Obj:
        self.created.append((dict(body), token))
        if self.fail_create is not None:
            raise self.fail_create
        obj: Obj = {**body, "metadata": {**body["metadata"], "namespace": namespace}}
        # Distinct, increasing creation times, one second apart, like the API's second precision.
        created = NOW + timedelta(seconds=next(self._ticks))
        obj["metadata"]["creationTimestamp"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.objects[(namespace, obj["metadata"]["name"])] = self._stamp(obj)
        self._emit("ADDED", obj)
        return obj

    async def delete_certificate_request(self, namespace: str, name: str) -> None:
        if name in self.fail_delete:
            raise KubernetesError("forbidden", status=403)
        self.deleted.append((namespace, name))
        obj = self.objects.pop((namespace, name), None)
        if obj is not None:
            self._emit("DELETED", obj)

    async def list_certificate_requests(self, label_selector: str) -> list[Obj]:
        self.lists.append(label_selector)
        if self.fail_read is not None:
            raise self.fail_read
        return [obj for obj in self.objects.values() if _matches(obj, label_selector)]

    async def watch_certificate_requests(self, label_selector: str) -> AsyncIterator[WatchEvent]:
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self._watchers.append((label_selector, queue))
        if self.listed is not None:
            await self.listed.wait()
        for obj in list(self.objects.values()):
            if _matches(obj, label_selector):
                yield WatchEvent("ADDED", obj)
        yield WatchEvent("SYNCED", {})
        while True:
            yield await queue.get()

    # -- what cert-manager and approvers do ---------------------------------------------------

    def set_conditions(self, namespace: str, name: str, *conditions: tuple[str, str, str, str], **status: Any) -> None:
        obj = self.objects[(namespace, name)]
        st = obj.setdefault("status", {})
        st["conditions"] = [{"type": t, "status": s, "reason": r, "message": m} for t, s, r, m in conditions]
        st.update(status)
        self._emit("MODIFIED", self._stamp(obj))

    def issue(self, namespace: str, name: str) -> None:
        obj = self.objects[(namespace, name)]
        self.set_conditions(
            namespace,
            name,
            ("Approved", "True", "cert-manager.io", "approved"),
            ("Ready", "True", "Issued", "Certificate fetched from issuer successfully"),
            certificate=signed_chain_b64(obj),
            ca=base64.b64encode(CA_PEM).decode(),
        )

    def preload(self, obj: Obj) -> None:
        """An object that existed before the watch started."""
        self.objects[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = self._stamp(obj)


async def started(kube: FakeKube, **kwargs: Any) -> Issuance:
    issuance = Issuance(kube=kube, node_id="test-node", **kwargs)
    await issuance.start()
    return issuance


async def settle() -> None:
    """Let the watch task route everything queued so far."""
    for _ in range(5):
        await asyncio.sleep(0)
