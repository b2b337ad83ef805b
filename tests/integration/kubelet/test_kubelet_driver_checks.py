"""Before calling a driver, kubelet checks it is registered and its CSIDriver allows Ephemeral volumes."""

from __future__ import annotations

import yaml
from kubelet_harness import DRIVER, POD_YAML, SERVICE_ACCOUNT, FakeNode, advance, csidriver, events, eventually

from certcsi.sandbox.apiserver.resources import BY_KEY
from certcsi.sandbox.cluster import Sandbox
from certcsi.sandbox.kubelet import Kubelet
from certcsi.volumes.clock import FakeClock

PREFIX = 'MountVolume.SetUp failed for volume "tls" : kubernetes.io/csi: '


async def test_no_csidriver_object(kubelet: Kubelet, node: FakeNode, sandbox: Sandbox, clock: FakeClock) -> None:
    await kubelet.apply([SERVICE_ACCOUNT])
    await kubelet.apply(POD_YAML)
    await eventually(lambda: len(events(sandbox)) == 1)
    assert events(sandbox)[0]["message"] == (
        PREFIX + "mounter.SetupAt failed to check volume lifecycle mode: "
        f'volume mode "Ephemeral" not supported by driver {DRIVER} (no CSIDriver object)'
    )
    assert node.published == []
    await kubelet.apply([csidriver()])
    await eventually(lambda: clock.pending_timers == 2)  # the retry's backoff, and kubelet's 2m3s mount deadline
    await advance(clock, 0.5)
    await kubelet.wait_ready("default", "web", timeout=5)
    assert len(node.published) == 1


async def test_csidriver_without_ephemeral(kubelet: Kubelet, node: FakeNode, sandbox: Sandbox) -> None:
    await kubelet.apply([SERVICE_ACCOUNT, csidriver(volumeLifecycleModes=["Persistent"])])
    await kubelet.apply(POD_YAML)
    await eventually(lambda: len(events(sandbox)) == 1)
    assert events(sandbox)[0]["message"].endswith(
        f'volume mode "Ephemeral" not supported by driver {DRIVER} (only supports ["Persistent"])'
    )
    assert node.published == []


async def test_unregistered_driver(kubelet: Kubelet, node: FakeNode, sandbox: Sandbox) -> None:
    await kubelet.apply([SERVICE_ACCOUNT, csidriver()])
    await kubelet.apply(POD_YAML.replace(f"driver: {DRIVER}", "driver: other.example.io"))
    await eventually(lambda: len(events(sandbox)) == 1)
    assert events(sandbox)[0]["message"] == (
        PREFIX + "mounter.SetUpAt failed to get CSI client: "
        "driver name other.example.io not found in the list of registered CSI drivers"
    )
    assert node.published == []


async def test_missing_service_account_fails_the_token_request(
    kubelet: Kubelet, node: FakeNode, sandbox: Sandbox
) -> None:
    await kubelet.apply([csidriver(tokenRequests=[{"audience": ""}])])
    # A pod that outlived its ServiceAccount: admission refuses to create one without it, so it goes
    # straight into the store, as if the account had been deleted after the pod was admitted.
    pod = yaml.safe_load(POD_YAML)
    pod["spec"]["nodeName"] = kubelet.node_name
    sandbox.store.create(BY_KEY["/pods"], pod)
    await eventually(lambda: len(events(sandbox)) == 1)
    message = events(sandbox)[0]["message"]
    assert message.startswith(PREFIX + "mounter.SetUpAt failed to get service account token attributes: ")
    assert 'serviceaccounts "app" not found' in message
    assert node.published == []
