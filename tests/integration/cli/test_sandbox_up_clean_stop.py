"""`certcsi sandbox up --with csi-driver` with a pod whose CSI volume is mounted, deleted just before Ctrl-C
(its teardown still running): the node stops every pod's work before any container, the driver's among
them, so a clean stop exits 0 and logs no warning, error or traceback (it used to log "teardown failed,
will retry ... driver name csi.cert-manager.io not found in the list of registered CSI drivers")."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from walkthrough_scenario import walk

COMMANDS = [
    ["sudo .venv/bin/certcsi sandbox up --with csi-driver"],
    [
        "export KUBECONFIG=$PWD/sandbox.kubeconfig",
        "kubectl -n cert-manager rollout status daemonset/cert-manager-csi-driver",
        "kubectl apply -f examples/pod.yaml",
        "kubectl wait --for=condition=Ready pod/my-csi-app",
        "kubectl delete pod my-csi-app --wait=false",
    ],
]
# klog's warning, error and fatal lines (`W1204 23:10:41.782345 ...`), and Python's tracebacks.
TROUBLE = re.compile(r"^[WEF]\d{4} |Traceback", re.M)


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory: Path = tmp_path_factory.mktemp("clean-stop")
    (directory / "blocks.json").write_text(json.dumps(COMMANDS))
    return walk(directory / "blocks.json", directory)


def test_the_pod_ran_with_its_volume(walked: dict[str, Any]) -> None:
    (waited,) = [c for c in walked["commands"] if c["command"].startswith("kubectl wait")]
    assert waited["rc"] == 0, waited


def test_ctrl_c_exits_0_and_logs_no_trouble(walked: dict[str, Any]) -> None:
    assert walked["up_rc"] == 0, walked["up_stderr"]
    assert TROUBLE.findall(walked["up_stderr"]) == [], walked["up_stderr"]
    assert walked["state_dir_left"] is False and walked["processes_left"] == []
