"""Against the real sandbox: a request created with the pod's own token is recorded as that account."""

from __future__ import annotations

import logging

import pytest
from issuance_support import ACCOUNT, NAMESPACE, World, plan, volume_for

from certcsi.errors import KubernetesError
from certcsi.volumes.issuance import Issuance


async def test_created_with_a_service_account_token(world: World) -> None:
    pod = world.pod()
    token = await world.token_for(pod)
    issuance = Issuance(kube=world.kube, node_id="node-1", timeout=10)
    await issuance.start()
    try:
        name = await issuance.create(volume_for(pod), plan(token=token))
        issued = await issuance.wait(NAMESPACE, name)
    finally:
        await issuance.stop()
    assert issued.request_name == name
    stored = world.request(name)
    assert stored is not None
    assert stored["spec"]["username"] == f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
    assert "system:serviceaccounts" in stored["spec"]["groups"]


async def test_forbidden_without_rbac_carries_the_api_message_and_no_token(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    pod = world.pod(may_create_requests=False)
    token = await world.token_for(pod)
    caplog.set_level(logging.DEBUG)
    issuance = Issuance(kube=world.kube, node_id="node-1", timeout=10)
    await issuance.start()
    try:
        with pytest.raises(KubernetesError) as caught:
            await issuance.create(volume_for(pod), plan(token=token))
    finally:
        await issuance.stop()
    err = caught.value
    assert err.status == 403
    assert err.reason == "Forbidden"
    assert str(err) == (
        f'certificaterequests.cert-manager.io is forbidden: User "system:serviceaccount:{NAMESPACE}:{ACCOUNT}" '
        f'cannot create resource "certificaterequests" in API group "cert-manager.io" in the namespace "{NAMESPACE}"'
    )
    assert token not in str(err)
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text  # not even the signature part
