"""NodePublishVolume carries exactly what kubelet sends for an inline volume."""

from __future__ import annotations

import hashlib
import stat

import jwt
from kubelet_harness import DRIVER, NODE, POD_YAML, SERVICE_ACCOUNT, FakeNode, csidriver

from certcsi.csi._gen import csi_pb2
from certcsi.sandbox.cluster import Sandbox
from certcsi.sandbox.kubelet import Kubelet


async def _publish_one(kubelet: Kubelet, **driver_spec: object) -> None:
    await kubelet.apply([SERVICE_ACCOUNT, csidriver(**driver_spec)])
    await kubelet.apply(POD_YAML)
    await kubelet.wait_ready("default", "web", timeout=5)


async def test_volume_id_and_target_path_follow_kubelet(kubelet: Kubelet, node: FakeNode) -> None:
    await _publish_one(kubelet)
    uid = kubelet.pod_uid("default", "web")
    (call,) = node.published
    assert call.request.volume_id == "csi-" + hashlib.sha256(f"{uid}tls".encode()).hexdigest()
    assert len(call.request.volume_id) == 68
    expected = kubelet.root_dir / "pods" / uid / "volumes" / "kubernetes.io~csi" / "tls" / "mount"
    assert call.request.target_path == str(expected)
    assert kubelet.pod_volume_path("default", "web", "tls") == expected
    assert (expected / "tls.crt").read_text() == call.request.volume_id


async def test_parent_and_vol_data_exist_before_publish(kubelet: Kubelet, node: FakeNode) -> None:
    await _publish_one(kubelet)
    (call,) = node.published
    assert call.parent_existed
    assert call.vol_data is not None
    assert call.vol_data["specVolID"] == "tls"
    assert call.vol_data["volumeHandle"] == call.request.volume_id
    assert call.vol_data["driverName"] == DRIVER
    assert call.vol_data["nodeName"] == NODE
    assert call.vol_data["volumeLifecycleMode"] == "Ephemeral"
    parent = kubelet.pod_volume_path("default", "web", "tls").parent
    assert stat.S_IMODE(parent.stat().st_mode) == 0o750


async def test_context_has_attributes_then_pod_info(kubelet: Kubelet, node: FakeNode) -> None:
    await _publish_one(kubelet)
    (call,) = node.published
    context = dict(call.request.volume_context)
    assert context == {
        "csi.cert-manager.io/issuer-name": "ca",
        # pod info overrides an attribute of the same name, as kubelet's mergeMap does
        "csi.storage.k8s.io/pod.name": "web",
        "csi.storage.k8s.io/pod.namespace": "default",
        "csi.storage.k8s.io/pod.uid": kubelet.pod_uid("default", "web"),
        "csi.storage.k8s.io/serviceAccount.name": "app",
        "csi.storage.k8s.io/ephemeral": "true",
    }
    assert dict(call.request.secrets) == {}


async def test_no_pod_info_without_pod_info_on_mount(kubelet: Kubelet, node: FakeNode) -> None:
    await _publish_one(kubelet, podInfoOnMount=False)
    (call,) = node.published
    assert dict(call.request.volume_context) == {
        "csi.cert-manager.io/issuer-name": "ca",
        "csi.storage.k8s.io/pod.name": "spoofed",
    }


async def test_capability_readonly_and_mount_group(kubelet: Kubelet, node: FakeNode) -> None:
    await _publish_one(kubelet)
    (call,) = node.published
    capability = call.request.volume_capability
    assert capability.HasField("mount")
    assert capability.mount.fs_type == ""
    assert capability.mount.volume_mount_group == "2000"
    assert capability.access_mode.mode == csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
    assert call.request.readonly is True
    assert call.request.staging_target_path == ""


async def test_no_mount_group_unless_advertised(kubelet: Kubelet, node: FakeNode) -> None:
    node.capabilities = [csi_pb2.NodeServiceCapability.RPC.SINGLE_NODE_MULTI_WRITER]
    await _publish_one(kubelet)
    (call,) = node.published
    assert call.request.volume_capability.mount.volume_mount_group == ""
    mode = call.request.volume_capability.access_mode.mode
    assert mode == csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_MULTI_WRITER


async def test_tokens_are_bound_to_the_pod(kubelet: Kubelet, node: FakeNode, sandbox: Sandbox) -> None:
    await _publish_one(kubelet, tokenRequests=[{"audience": "", "expirationSeconds": 3600}, {"audience": "vault"}])
    (call,) = node.published
    tokens = __import__("json").loads(call.request.volume_context["csi.storage.k8s.io/serviceAccount.tokens"])
    assert set(tokens) == {"", "vault"}
    uid = kubelet.pod_uid("default", "web")
    for audience, entry in tokens.items():
        assert entry["expirationTimestamp"].endswith("Z")
        claims = jwt.decode(entry["token"], options={"verify_signature": False})
        expected = [audience] if audience else list(sandbox.authority.api_audiences)
        assert claims["aud"] == expected
        assert claims["sub"] == "system:serviceaccount:default:app"
        assert claims["kubernetes.io"]["pod"] == {"name": "web", "uid": uid}


async def test_tokens_in_secrets_when_the_driver_asks(kubelet: Kubelet, node: FakeNode) -> None:
    await _publish_one(kubelet, tokenRequests=[{"audience": "x"}], serviceAccountTokenInSecrets=True)
    (call,) = node.published
    assert "csi.storage.k8s.io/serviceAccount.tokens" in call.request.secrets
    assert "csi.storage.k8s.io/serviceAccount.tokens" not in call.request.volume_context


async def test_capabilities_asked_once_per_driver(kubelet: Kubelet, node: FakeNode) -> None:
    await _publish_one(kubelet)
    await kubelet.apply(POD_YAML.replace("name: web", "name: web-2"))
    await kubelet.wait_ready("default", "web-2", timeout=5)
    assert len(node.published) == 2
    assert node.capability_calls == 1
