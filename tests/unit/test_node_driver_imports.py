"""What a node driver process imports: nothing it does not use (each unused library costs resident memory).

Measured on the 1,000-volume benchmark: kubernetes_asyncio alone (it builds every generated model
class) was 36 MB of the driver's 105 MB at start.
"""

from __future__ import annotations

import json
import subprocess
import sys

# The modules `certcsi driver` loads before it serves (cli/node.py -> nodeplugin -> the driver).
DRIVER_IMPORTS = "import certcsi.cli, certcsi.cli.node, certcsi.nodeplugin, certcsi.drivers.certmanager"
NOT_NEEDED = (
    "kubernetes_asyncio",  # certcsi.kube talks HTTP itself
    "yaml",  # only to read a kubeconfig; a driver in a pod has none
    "jsonschema",
    "prometheus_client",  # only with --metrics-bind-address
    "aiohttp.web",  # only with a metrics or readiness address
    "certcsi.approver",
    "certcsi.drivers.spiffe",
    "certcsi.sandbox",
)


def test_the_node_driver_imports_none_of_the_heavy_optional_modules() -> None:
    script = f"import json, sys; {DRIVER_IMPORTS}; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True).stdout))
    assert [name for name in NOT_NEEDED if name in loaded] == []
