"""Exec credential plugins: run on first need, cached until expirationTimestamp, errors without secrets."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certcsi.errors import KubernetesError
from certcsi.kube._credentials import ExecPlugin, ExecSpec

V1 = "client.authentication.k8s.io/v1"
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def plugin(tmp_path: Path, status: object, *, exit_code: int = 0, api_version: str = V1) -> ExecSpec:
    """A plugin that counts its runs, records its environment, and prints `status` in an ExecCredential."""
    script = tmp_path / "plugin.py"
    answer = {"apiVersion": api_version, "kind": "ExecCredential", "status": status}
    script.write_text(
        "import json, os, pathlib, sys\n"
        f"runs = pathlib.Path({str(tmp_path / 'runs')!r})\n"
        "runs.write_text(runs.read_text() + 'x' if runs.exists() else 'x')\n"
        f"pathlib.Path({str(tmp_path / 'env.json')!r}).write_text(json.dumps(dict(os.environ)))\n"
        f"sys.stderr.write('plugin says no')\n"
        f"print(json.dumps({answer!r}))\n"
        f"sys.exit({exit_code})\n"
    )
    return ExecSpec(command=sys.executable, args=(str(script),), env={"EXTRA": "1"}, api_version=V1)


def runs(tmp_path: Path) -> int:
    return len((tmp_path / "runs").read_text())


async def test_token_is_cached_until_it_expires(tmp_path: Path) -> None:
    expiry = (NOW + timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    now = [NOW]
    credentials = ExecPlugin(plugin(tmp_path, {"token": "t1", "expirationTimestamp": expiry}), now=lambda: now[0])
    assert await credentials.header() == "Bearer t1"
    assert await credentials.header() == "Bearer t1"
    assert runs(tmp_path) == 1
    now[0] += timedelta(minutes=10)
    assert await credentials.header() == "Bearer t1"
    assert runs(tmp_path) == 2
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["EXTRA"] == "1"
    assert json.loads(env["KUBERNETES_EXEC_INFO"]) == {
        "apiVersion": V1,
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }


async def test_without_expiry_the_token_is_kept(tmp_path: Path) -> None:
    credentials = ExecPlugin(plugin(tmp_path, {"token": "t1"}))
    for _ in range(3):
        assert await credentials.header() == "Bearer t1"
    assert runs(tmp_path) == 1


@pytest.mark.parametrize(
    ("status", "exit_code", "api_version", "problem"),
    [
        ({"token": "t"}, 3, V1, "exited with status 3: plugin says no"),
        ({}, 0, V1, "has no status.token"),
        ({"clientCertificateData": "C", "clientKeyData": "K"}, 0, V1, "only token credentials are supported"),
        ({"token": "t"}, 0, "client.authentication.k8s.io/v1beta1", "answered apiVersion"),
        ({"token": "t", "expirationTimestamp": "soon"}, 0, V1, "not an RFC 3339 time"),
    ],
)
async def test_failures_are_kubernetes_errors(
    tmp_path: Path, status: object, exit_code: int, api_version: str, problem: str
) -> None:
    credentials = ExecPlugin(plugin(tmp_path, status, exit_code=exit_code, api_version=api_version))
    with pytest.raises(KubernetesError, match=problem) as caught:
        await credentials.header()
    assert caught.value.status is None


async def test_a_missing_command(tmp_path: Path) -> None:
    credentials = ExecPlugin(ExecSpec(command=str(tmp_path / "absent")))
    with pytest.raises(KubernetesError, match="cannot run it"):
        await credentials.header()
