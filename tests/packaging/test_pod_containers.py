"""The image test's model of kubelet: `$(VAR)` expansion, env, hostPath checks and the podman arguments it
derives from the csi-driver chart's DaemonSet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helm_charts import container, find, render
from pod_containers import PodIdentity, Unsupported, container_env, expand, podman_run_args

ENV = {"NODE_ID": "node-a", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("--node-id=$(NODE_ID)", "--node-id=node-a"),
        ("$(NODE_ID)$(NODE_ID)", "node-anode-a"),
        ("$(EMPTY)x", "x"),
        ("$(UNDEFINED)", "$(UNDEFINED)"),  # left as written
        ("$$(NODE_ID)", "$(NODE_ID)"),  # `$$` escapes
        ("$$$(NODE_ID)", "$node-a"),
        ("cost: $5", "cost: $5"),
        ("trailing $", "trailing $"),
        ("$(NODE_ID", "$(NODE_ID"),  # unclosed
        ("$($(NODE_ID)", "$($(NODE_ID)"),  # the name runs to the first `)`: `$(NODE_ID` is undefined
    ],
)
def test_expand_as_kubelet(text: str, expanded: str) -> None:
    assert expand(text, ENV) == expanded


def _identity(tmp_path: Path) -> PodIdentity:
    return PodIdentity(
        node_name="node-a",
        pod_name="driver-x",
        namespace="cert-manager",
        api_host="127.0.0.1",
        api_port=6443,
        service_account=tmp_path / "sa",
    )


def test_env_resolves_field_refs_and_earlier_variables(tmp_path: Path) -> None:
    container = {
        "env": [
            {"name": "NODE_ID", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "SOCKET", "value": "/plugins/$(NODE_ID)/csi.sock"},
            {"name": "LATER", "value": "$(AFTER)"},
            {"name": "AFTER", "value": "x"},
        ]
    }
    env = container_env(container, _identity(tmp_path))
    assert env["SOCKET"] == "/plugins/node-a/csi.sock"
    assert env["LATER"] == "$(AFTER)"  # only variables defined before count
    assert (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == ("127.0.0.1", "6443")


def test_unmodelled_env_source_is_refused(tmp_path: Path) -> None:
    container = {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}
    with pytest.raises(Unsupported, match="env X"):
        container_env(container, _identity(tmp_path))


def _chart_driver(tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    sets = [f"app.kubeletRootDir={tmp_path}/kubelet", f"app.driver.csiDataDir={tmp_path}/data", "hostNetwork=true"]
    daemonset = find(render("csi-driver", sets=[*sets, "image.repository=img", "image.tag=v1"]), "DaemonSet")
    return daemonset["spec"]["template"]["spec"], container(daemonset, "cert-manager-csi-driver")


def test_the_driver_container_becomes_a_privileged_root_run_with_rshared_mounts(tmp_path: Path) -> None:
    pod, driver = _chart_driver(tmp_path)
    (tmp_path / "kubelet" / "pods").mkdir(parents=True)
    args = podman_run_args(pod=pod, container=driver, name="c", identity=_identity(tmp_path))
    image_at = args.index("img:v1")
    # The chart's args (upstream's), with the two references kubelet expands filled in.
    expected = [arg.replace("$(NODE_ID)", "node-a") for arg in driver["args"]]
    expected = [arg.replace("$(CSI_ENDPOINT)", "unix://plugin/csi.sock") for arg in expected]
    assert args[image_at + 1 :] == expected
    assert {"--node-id=node-a", "--endpoint=unix://plugin/csi.sock"} <= set(expected)
    options = args[:image_at]
    assert {"--privileged", "--read-only", "--read-only-tmpfs=false"} <= set(options)
    assert not any(option.startswith("--cap-drop") for option in options)  # privileged has every capability
    assert options[options.index("--user") + 1] == "0"
    assert options[options.index("--network") + 1] == "host"
    assert options[options.index("--entrypoint") + 1] == '["certcsi", "driver"]'
    mounts = {options[i + 1] for i, option in enumerate(options) if option == "--mount"}
    assert mounts == {
        f"type=bind,source={tmp_path}/kubelet/plugins/cert-manager-csi-driver,destination=/plugin,"
        "bind-propagation=rprivate",
        f"type=bind,source={tmp_path}/kubelet/pods,destination={tmp_path}/kubelet/pods,bind-propagation=rshared",
        f"type=bind,source={tmp_path}/data,destination=/csi-data-dir,bind-propagation=rshared",
        f"type=bind,source={tmp_path}/sa,destination=/var/run/secrets/kubernetes.io/serviceaccount,readonly=true",
    }
    # DirectoryOrCreate volumes exist now, as kubelet leaves them.
    assert (tmp_path / "kubelet" / "plugins" / "cert-manager-csi-driver").is_dir()
    assert (tmp_path / "data").is_dir()


def test_a_missing_directory_volume_fails_like_kubelets_type_check(tmp_path: Path) -> None:
    pod, driver = _chart_driver(tmp_path)
    with pytest.raises(FileNotFoundError, match="pods-mount-dir: hostPath type check failed"):
        podman_run_args(pod=pod, container=driver, name="c", identity=_identity(tmp_path))


def test_pod_network_is_refused(tmp_path: Path) -> None:
    pod, driver = _chart_driver(tmp_path)
    (tmp_path / "kubelet" / "pods").mkdir(parents=True)
    with pytest.raises(Unsupported, match="hostNetwork"):
        podman_run_args(pod={**pod, "hostNetwork": False}, container=driver, name="c", identity=_identity(tmp_path))
