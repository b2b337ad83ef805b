"""Arbitrary attribute maps over a real gRPC call: always a CSI code, never a crash, never a leftover.

Hypothesis runs in a worker thread; each example is a coroutine on the test's event loop, which also
runs the sandbox. The driver is the real child process (issue timeout 0.5 s, so requests naming a
missing issuer end quickly with DEADLINE_EXCEEDED).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from e2e_harness import E2E, DirectVolume, P, check_pair, csi_channel, e2e_environment, mount_at, publish_outcome
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from certcsi.csi._gen import csi_pb2, csi_pb2_grpc
from certcsi.csi.server import INTERNAL_MESSAGE
from certcsi.drivers.certmanager.attributes import KNOWN_ATTRIBUTES
from certcsi.sandbox.cluster import CA_ISSUER

pytestmark = pytest.mark.e2e

EXAMPLES = 50
ISSUE_TIMEOUT = "0.5"
PASSWORD = "hypothesis-keystore-secret"
Code = grpc.StatusCode
# OK, a bad request, or an outcome certcsi.errors documents for issuance: timeout (DEADLINE_EXCEEDED),
# denied / failed (INTERNAL with its own message), API refusal or issuer unavailable (UNAVAILABLE).
ACCEPTED = {Code.OK, Code.INVALID_ARGUMENT, Code.DEADLINE_EXCEEDED, Code.INTERNAL, Code.UNAVAILABLE}
DEFAULT_FILE_ATTRIBUTES = (P + "certificate-file", P + "privatekey-file", P + "ca-file")

# Values a user would plausibly write, per attribute (without the prefix); anything else is random text.
PLAUSIBLE: dict[str, tuple[str, ...]] = {
    # An issuer no object can be named (issue 8): refused before any request exists.
    "issuer-name": (CA_ISSUER, "CN=x", "-1"),
    "issuer-kind": ("ClusterIssuer", "Issuer"),
    "issuer-group": ("cert-manager.io", ""),
    "common-name": ("${POD_NAME}", "app"),
    "dns-names": ("${POD_NAME}.${POD_NAMESPACE}.svc.cluster.local", "a.example.com,b.example.com"),
    "uri-sans": ("spiffe://cluster.local/ns/${POD_NAMESPACE}/pod/${POD_NAME}",),
    "ip-sans": ("10.0.0.1", "::1"),
    "email-sans": ("app@example.com",),
    "duration": ("1h", "30m"),
    "renew-before": ("10m", "2h"),
    "is-ca": ("true", "false"),
    "key-usages": ("server auth,client auth", "digital signature"),
    "key-algorithm": ("RSA", "ECDSA", "Ed25519"),
    "key-size": ("2048", "256", "384"),
    "key-encoding": ("PKCS1", "PKCS8"),
    "reuse-private-key": ("true", "false"),
    "fs-group": ("2000",),
    "pkcs12-enable": ("true", "false"),
    "pkcs12-password": (PASSWORD,),
    "pkcs12-filename": ("store.p12",),
    "certificate-file": ("cert.pem",),
    "literal-subject": ("CN=app,O=example", "CN=app,SERIALNUMBER=a_b", "CN=app,C=U@", "DC=é"),
    "organizations": ("Example",),
    "countries": ("DE", "U@"),
    # Values cryptography would encode as PrintableString but that hold other characters (issue 8).
    "serialnumber": ("1234", "abc_123", "é", ";"),
    "postalcodes": ("80331", "9" * 41),
}
# A value far beyond any rule: the reply must still arrive, with the value cut short in its message.
HUGE = "é" * 70_000
# A valid start (ECDSA: key generation stays fast) that examples override, extend or strip.
BASE = {
    P + "issuer-name": CA_ISSUER,
    P + "issuer-kind": "ClusterIssuer",
    P + "common-name": "${POD_NAME}",
    P + "key-algorithm": "ECDSA",
}

short_text = st.text(max_size=24)


def _known_entry(key: str) -> st.SearchStrategy[tuple[str, str]]:
    plausible = st.sampled_from(PLAUSIBLE.get(key.removeprefix(P), ("",)))
    rare = st.one_of(short_text, short_text, short_text, st.just(HUGE))
    return st.tuples(st.just(key), st.one_of(plausible, plausible, plausible, rare))


known_entries = st.sampled_from(sorted(KNOWN_ATTRIBUTES)).flatmap(_known_entry)
# Unknown keys of our group are ignored with a Pod warning, as upstream ignores them.
unknown_prefixed = st.tuples(
    st.one_of(short_text.map(lambda name: P + name), st.just(P + "keystore-pkcs12-enable")), short_text
)
foreign_keys = st.one_of(
    short_text,
    st.builds(lambda group, name: f"{group}/{name}", short_text, short_text),
    st.sampled_from(["example.com/custom", "venafi.cert-manager.io/custom-fields", "csi.storage.k8s.io/extra"]),
)
# Mostly known attributes, so that a fair share of examples is valid and really issues.
entries = st.lists(
    st.one_of(known_entries, known_entries, known_entries, unknown_prefixed, st.tuples(foreign_keys, short_text)),
    max_size=4,
)


def _not_an_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return True
    return False


mount_groups = st.one_of(
    st.just(""), st.just(""), st.integers(-2, 2**33).map(str), st.text(max_size=6).filter(_not_an_int)
)


@dataclass(frozen=True)
class Case:
    attributes: dict[str, str]
    readonly: bool
    mount_group: str


@st.composite
def cases(draw: st.DrawFn) -> Case:
    attributes = dict(BASE) if draw(st.sampled_from([True, True, True, False])) else {}
    for key in draw(st.sets(st.sampled_from(sorted(BASE)), max_size=1)):
        attributes.pop(key, None)
    attributes.update(draw(entries))
    readonly = draw(st.sampled_from([True] * 7 + [False]))
    return Case(attributes=attributes, readonly=readonly, mount_group=draw(mount_groups))


@dataclass
class Rig:
    """What every example needs: the environment, the gRPC stubs, a pod the API knows."""

    env: E2E
    node: csi_pb2_grpc.NodeAsyncStub  # type-check-only names: annotations are never evaluated
    identity: csi_pb2_grpc.IdentityAsyncStub
    pod: dict[str, Any]
    examples: int = 0

    def assert_nothing_left(self, direct: DirectVolume, when: str) -> None:
        assert not (self.env.inmemfs / direct.volume_id).exists(), f"{when}: volume directory left in inmemfs"
        assert mount_at(direct.target) is None, f"{when}: something mounted at the target"
        assert not os.path.lexists(direct.target), f"{when}: target path left behind"

    async def check(self, case: Case) -> Code:
        self.examples += 1
        direct = self.env.direct_volume(self.pod, f"volume-{self.examples}")
        request = direct.request(case.attributes, readonly=case.readonly, mount_group=case.mount_group)
        code, details = await publish_outcome(self.node, request)
        assert code in ACCEPTED, (code, details)
        assert not (code is Code.INTERNAL and details == INTERNAL_MESSAGE), "unexpected exception in the driver"
        assert PASSWORD not in details
        assert len(details.encode()) < 4096, "the error echoes a value whole"
        await self.identity.Probe(csi_pb2.ProbeRequest(), timeout=5)
        assert os.path.exists(f"/proc/{self.env.driver.pid}"), "the driver process is gone"

        if code is Code.OK:
            if not any(case.attributes.get(key) for key in DEFAULT_FILE_ATTRIBUTES):
                check_pair(direct.target, attempts=1)
            mount = mount_at(direct.target)
            assert mount is not None and "ro" in mount.options
        else:
            self.assert_nothing_left(direct, f"after {code.name}")
            if code is Code.INVALID_ARGUMENT:
                assert await self.env.requests_of_volume(direct.volume_id) == 0, "a request for an invalid volume"
        await self.node.NodeUnpublishVolume(direct.unpublish_request(), timeout=30)
        self.assert_nothing_left(direct, "after unpublish")
        return code


async def test_arbitrary_attribute_maps_always_get_a_csi_code_and_leave_nothing() -> None:
    async with e2e_environment(driver_args=["--issue-timeout", ISSUE_TIMEOUT]) as env:
        pod = await env.owner_pod("owner")
        async with csi_channel(env.driver.endpoint) as channel:
            rig = Rig(env, csi_pb2_grpc.NodeStub(channel), csi_pb2_grpc.IdentityStub(channel), pod)
            codes = await asyncio.to_thread(_run_examples, rig.check, asyncio.get_running_loop())
        assert env.volume_dirs() == []
        # Both main paths were exercised (a generator drifting to all-invalid would test little).
        assert {Code.OK, Code.INVALID_ARGUMENT} <= set(codes), codes


def _run_examples(check: Callable[[Case], Coroutine[Any, Any, Code]], loop: asyncio.AbstractEventLoop) -> list[Code]:
    codes: list[Code] = []

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case=cases())
    @example(case=Case({**BASE, P + "serialnumber": ";"}, readonly=True, mount_group=""))
    @example(case=Case({**BASE, P + "countries": "U@"}, readonly=True, mount_group=""))
    @example(case=Case({**BASE, P + "duration": HUGE}, readonly=True, mount_group=""))
    @example(case=Case({**BASE, P + "issuer-name": "CN=x"}, readonly=True, mount_group=""))
    @example(case=Case({**BASE, P + "keystore-pkcs12-enable": "true"}, readonly=True, mount_group=""))
    def one_case(case: Case) -> None:
        codes.append(asyncio.run_coroutine_threadsafe(check(case), loop).result(timeout=60))

    one_case()
    return codes
