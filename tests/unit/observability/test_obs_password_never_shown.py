"""A PKCS#12 password given in an attribute never shows in the error, log line or Pod event of a failure
that quotes attributes (a rejected value, an unknown key, either cut short), in any escaped form."""

from __future__ import annotations

import json
import logging
import random
import traceback
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from observability_support import CSI_OWNER, START, SigningIssuance, context
from publish_requests import Req

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.errors import InvalidVolume
from certcsi.kube.events import EventKind, InvolvedObject
from certcsi.observability.events import PodEvents
from certcsi.observability.observer import NodeObserver
from certcsi.volumes.clock import FakeClock
from certcsi.volumes.manager import Manager
from certcsi.volumes.mount import FakeMounter
from certcsi.volumes.schedule import RateBudget
from certcsi.volumes.store import Store

# A quote, a backslash and non-ASCII: repr() and JSON each show it differently from the raw text.
PASSWORD = "hunter2'\\\"\u00e9-\u2603"
PKCS12 = {"csi.cert-manager.io/pkcs12-enable": "true", "csi.cert-manager.io/pkcs12-password": PASSWORD}


def shown(text: str) -> bool:
    """The password raw, as repr() (either quote style) or JSON would escape it, or its head (a value cut short)."""
    escaped = repr(PASSWORD)[1:-1].replace("\\'", "'")
    forms = {PASSWORD, escaped, escaped.replace("'", "\\'"), json.dumps(PASSWORD, ensure_ascii=False)[1:-1]}
    return "hunter2" in text or any(form in text for form in forms)


@dataclass
class RecordingApi:
    messages: list[str] = field(default_factory=list)

    async def record_event(
        self, *, involved: InvolvedObject, type: EventKind, reason: str, message: str, component: str, count: int = 1
    ) -> None:
        self.messages.append(message)


@dataclass
class Node:
    manager: Manager
    events: PodEvents
    api: RecordingApi
    root: Path

    def target(self) -> str:
        path = self.root / "pods" / "p" / "mount"
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)


async def node(root: Path, *, strict: bool) -> Node:
    clock = FakeClock(START)
    mounter = FakeMounter()
    api = RecordingApi()
    events = PodEvents(api=api, component="csi.cert-manager.io")
    manager = Manager(
        driver=CertManagerDriver(strict_attributes=strict),
        store=Store(data_root=root / "data", mounter=mounter, owner=CSI_OWNER),
        mounter=mounter,
        issuance=SigningIssuance(clock),
        clock=clock,
        rate=RateBudget(qps=1000, burst=1000, clock=clock),
        rng=random.Random(5),
        observer=NodeObserver(metrics=None, events=events),
    )
    await manager.start()
    return Node(manager, events, api, root)


@pytest.fixture(params=[False, True], ids=["lenient", "strict"])
async def driver_node(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Node]:
    made = await node(tmp_path, strict=request.param)
    yield made
    await made.manager.stop()


CASES = {
    "rejected value": {"csi.cert-manager.io/dns-names": f"a b {PASSWORD}"},
    "rejected value cut short": {"csi.cert-manager.io/common-name": "x" * 60 + PASSWORD + "y" * 80},
    "unknown key": {f"csi.cert-manager.io/typo-{PASSWORD}": "v"},
    "unknown key cut short": {"csi.cert-manager.io/" + "k" * 290 + PASSWORD: "v"},
    "rejected list item": {"csi.cert-manager.io/key-usages": f"digital signature,{PASSWORD}"},
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_the_password_shows_nowhere(driver_node: Node, caplog: pytest.LogCaptureFixture, case: str) -> None:
    caplog.set_level(logging.DEBUG)
    printed = ""
    try:
        await driver_node.manager.publish(Req("vol-1", driver_node.target(), context() | PKCS12 | CASES[case]))
    except InvalidVolume as err:
        printed = "".join(traceback.format_exception(err)) + repr(err)
    await driver_node.events.flush()
    assert printed or driver_node.api.messages, "the case must fail or warn for this test to mean anything"
    assert not shown(printed), printed
    for message in driver_node.api.messages:
        assert not shown(message), message
    for record in caplog.records:
        assert not shown(record.getMessage() + repr(vars(record))), record.getMessage()
