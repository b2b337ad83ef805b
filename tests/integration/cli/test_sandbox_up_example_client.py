"""`certcsi sandbox up` as a user runs it, and the README's example client against it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_sandbox_up_serves_the_example_client(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "sandbox.kubeconfig"
    up = subprocess.Popen(
        [sys.executable, "-m", "certcsi", "sandbox", "up", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert up.stdout is not None
        ready = up.stdout.readline()
        assert ready.startswith("sandbox ready: API https://127.0.0.1:"), ready
        assert "ClusterIssuer sandbox-ca" in ready
        assert kubeconfig.stat().st_mode & 0o077 == 0  # holds the admin token
        client = subprocess.run(
            [sys.executable, str(REPO / "examples" / "sandbox_client.py"), str(kubeconfig)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert client.returncode == 0, client.stdout + client.stderr
        assert "openssl verify: OK" in client.stdout
        assert "bystander refused: 403 Forbidden" in client.stdout
    finally:
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=15) == 0
    assert os.path.exists(kubeconfig)
