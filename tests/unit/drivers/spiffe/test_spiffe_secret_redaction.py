"""The pod's token never shows: not in a plan's repr, not in any error the driver raises."""

from __future__ import annotations

import pytest
from spiffe_support import driver, pod_token, volume

from certcsi.drivers.spiffe import FS_GROUP, RuntimeIssuer
from certcsi.errors import CertcsiError
from certcsi.pki.keys import KeySpec, generate_private_key

KEY = generate_private_key(KeySpec("ECDSA", 256))


def test_the_plan_repr_hides_the_token() -> None:
    token = pod_token()
    plan = driver().build_request(volume(token=token), KEY)
    assert plan.token == token
    assert token not in repr(plan)
    assert token.split(".")[1] not in repr(plan)


@pytest.mark.parametrize(
    "attributes",
    [
        {"csi.storage.k8s.io/pod.namespace": "elsewhere"},
        {"csi.storage.k8s.io/serviceAccount.name": "someone-else"},
        {FS_GROUP: "0"},
        {"spiffe.csi.cert-manager.io/x": "1"},
    ],
)
def test_errors_never_carry_the_token(attributes: dict[str, str]) -> None:
    token = pod_token()
    d = driver(issuer=RuntimeIssuer(None), strict_attributes=True)
    v = volume(token=token, attributes=attributes)
    for call in (lambda: d.validate(v), lambda: d.build_request(v, KEY)):
        with pytest.raises(CertcsiError) as info:
            call()
        for piece in token.split("."):
            assert piece not in str(info.value)
