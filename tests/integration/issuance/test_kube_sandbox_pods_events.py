"""Against the real sandbox: pods are read and watched per node; events aggregate into one with a count."""

from __future__ import annotations

from issuance_support import NAMESPACE, World

from certcsi.sandbox.apiserver.resources import BY_KEY


async def test_get_pod_and_missing_pod(world: World) -> None:
    pod = world.pod()
    got = await world.kube.get_pod(NAMESPACE, "web-0")
    assert got is not None and got["metadata"]["uid"] == pod["metadata"]["uid"]
    assert await world.kube.get_pod(NAMESPACE, "nope") is None


async def test_watch_pods_on_one_node(world: World) -> None:
    world.pod("web-0")
    events = world.kube.watch_pods("spec.nodeName=node-1")
    seen = []
    async for kind, obj in events:
        seen.append((kind, obj.get("metadata", {}).get("name")))
        if kind == "SYNCED":
            world.pod("web-1")
            world.create(
                "/pods",
                {"metadata": {"name": "elsewhere"}, "spec": {"nodeName": "node-2", "containers": [{"name": "c"}]}},
                NAMESPACE,
            )
        if seen[-1] == ("ADDED", "web-1"):
            break
    assert seen == [("ADDED", "web-0"), ("SYNCED", None), ("ADDED", "web-1")]


async def test_repeated_event_is_one_event_with_a_count(world: World) -> None:
    pod = world.pod()
    involved = {"kind": "Pod", "namespace": NAMESPACE, "name": "web-0", "uid": pod["metadata"]["uid"]}
    for _ in range(3):
        await world.kube.record_event(
            involved=involved,  # type: ignore[arg-type]
            type="Warning",
            reason="FailedMount",
            message="issuer not ready",
            component="certcsi",
        )
    events = list(world.sandbox.store.all_objects(BY_KEY["/events"]))
    assert len(events) == 1
    assert events[0]["count"] == 3
    assert events[0]["involvedObject"]["uid"] == pod["metadata"]["uid"]
