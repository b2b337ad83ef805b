"""README's Workload API section: its pod manifest and Python example use the real names."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml
from spiffe import WorkloadApiClient

from certcsi.drivers.spiffe import DRIVER_NAME
from certcsi.drivers.spiffe.workload.opting import DEFAULT_SOCKET_NAME, WORKLOAD_API

README = (Path(__file__).resolve().parents[3] / "README.md").read_text()
SECTION = README.split("## The SPIFFE Workload API in every pod", 1)[1].split("\n## ", 1)[0]


def _block(language: str) -> str:
    [block] = re.findall(rf"```{language}\n(.*?)```", SECTION, flags=re.DOTALL)
    return block


def test_the_pod_manifest_opts_in_and_points_the_libraries_at_the_socket() -> None:
    pod = yaml.safe_load(_block("yaml"))
    [volume] = pod["spec"]["volumes"]
    assert volume["csi"]["driver"] == DRIVER_NAME and volume["csi"]["readOnly"] is True
    assert volume["csi"]["volumeAttributes"] == {WORKLOAD_API: "true"}
    [container] = pod["spec"]["containers"]
    [mount] = container["volumeMounts"]
    assert mount["name"] == volume["name"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["SPIFFE_ENDPOINT_SOCKET"] == f"unix://{mount['mountPath']}/{DEFAULT_SOCKET_NAME}"
    assert pod["spec"]["securityContext"]["fsGroup"]


def test_the_python_example_calls_what_the_spiffe_client_has() -> None:
    tree = ast.parse(_block("python"))
    called = {
        node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    client_methods = called & {"fetch_x509_svid", "fetch_x509_bundles", "stream_x509_contexts"}
    assert client_methods == {"fetch_x509_svid", "fetch_x509_bundles", "stream_x509_contexts"}
    assert all(callable(getattr(WorkloadApiClient, name)) for name in client_methods)
