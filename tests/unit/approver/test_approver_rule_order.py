"""Rules run in upstream's order (stricter ones slotted in) and the first failure is the one reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from approver_support import KEY, POLICY, SPIFFE_ID, b64, csr_pem, make_request, tampered, uri_san
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from certcsi.approver import RULES, evaluate
from certcsi.pki.keys import PrivateKey

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Breakage:
    """How to break one rule: through the CSR (key, subject, an extra extension) and/or spec fields."""

    key: PrivateKey | None = None
    subject: list[x509.NameAttribute[str]] = field(default_factory=list)
    extensions: list[tuple[x509.ExtensionType, bool]] = field(default_factory=list)
    spec: dict[str, Any] = field(default_factory=dict)
    tamper: bool = False  # flip a bit of the signature


BREAKAGES: dict[str, Breakage] = {
    "request": Breakage(spec={"request": b64(b"junk")}),
    "duration": Breakage(spec={"duration": "2h"}),
    "signature": Breakage(tamper=True),
    "key-type": Breakage(key=RSA_KEY),
    "names": Breakage(subject=[x509.NameAttribute(NameOID.COMMON_NAME, "app")]),
    "subject": Breakage(subject=[x509.NameAttribute(NameOID.ORGANIZATION_NAME, "acme")]),
    "extension": Breakage(extensions=[(x509.BasicConstraints(ca=True, path_length=None), True)]),
    "is-ca": Breakage(spec={"isCA": True}),
    "usages": Breakage(spec={"usages": ["server auth"]}),
    "username": Breakage(spec={"username": "admin"}),
    "spiffe-id": Breakage(spec={"username": "system:serviceaccount:sandbox:other"}),
}
ORDER = list(BREAKAGES)


def _request(*breakages: Breakage) -> dict[str, Any]:
    key = next((b.key for b in breakages if b.key is not None), KEY)
    subject = x509.Name([a for b in breakages for a in b.subject])
    extensions = [uri_san(SPIFFE_ID), *(e for b in breakages for e in b.extensions)]
    spec: dict[str, Any] = {}
    for b in reversed(breakages):  # the first breakage's spec wins a shared field (username)
        spec.update(b.spec)
    pem = csr_pem(key=key, subject=subject, extensions=extensions)
    return make_request(tampered(pem) if any(b.tamper for b in breakages) else pem, **spec)


@pytest.mark.parametrize(("first", "later"), [(a, b) for i, a in enumerate(ORDER) for b in ORDER[i + 1 :]])
def test_the_earlier_rule_wins(first: str, later: str) -> None:
    assert evaluate(_request(BREAKAGES[first], BREAKAGES[later]), POLICY).rule == first


@pytest.mark.parametrize("rule", ORDER)
def test_each_breakage_alone_hits_its_rule(rule: str) -> None:
    assert evaluate(_request(BREAKAGES[rule]), POLICY).rule == rule


def test_rule_ids_are_listed_in_evaluation_order() -> None:
    positions = [RULES.index(rule) for rule in ORDER]
    assert positions == sorted(positions)
