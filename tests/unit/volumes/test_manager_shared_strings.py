"""Volumes share one copy of the context keys and values they repeat; secrets are never interned."""

from __future__ import annotations

import json
import sys

from test_manager_lifecycle import Req, Rig, context, rig

__all__ = ["rig"]  # the fixture, shared with the lifecycle tests

TOKENS = "csi.storage.k8s.io/serviceAccount.tokens"


def fresh(text: str) -> str:
    """An equal string that is a different object (what each gRPC request decodes)."""
    return "".join(list(text))


def request(volume_id: str, rig: Rig, **extra: str) -> Req:
    ctx = {fresh(k): fresh(v) for k, v in context(**extra).items()}
    return Req(volume_id, rig.target(volume_id), ctx)


async def test_two_volumes_hold_the_same_key_and_value_objects(rig: Rig) -> None:
    await rig.manager.publish(request("vol-1", rig))
    await rig.manager.publish(request("vol-2", rig))
    one, two = (rig.manager._states[v].volume.attributes for v in ("vol-1", "vol-2"))
    assert one == two
    for (key_1, value_1), (key_2, value_2) in zip(sorted(one.items()), sorted(two.items()), strict=True):
        assert key_1 is key_2
        assert value_1 is value_2


async def test_a_token_is_not_interned(rig: Rig) -> None:
    token = fresh("eyJhbGciOiJSUzI1NiJ9.never-interned.sig")
    tokens = json.dumps({"": {"token": token, "expirationTimestamp": "2099-01-01T00:00:00Z"}})
    req = request("vol-1", rig)
    await rig.manager.publish(Req(req.volume_id, req.target_path, {**req.volume_context, TOKENS: tokens}))
    kept = rig.manager._states["vol-1"].volume.secrets[TOKENS]
    assert kept == tokens
    assert sys.intern(fresh(tokens)) is not kept
