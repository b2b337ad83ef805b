"""In a pod: the service host and port from the environment, ca.crt, and a token that kubelet rotates."""

from __future__ import annotations

from pathlib import Path

import pytest

from certcsi.kube._access import in_cluster
from certcsi.kube._credentials import TokenFile

ENV = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


def service_account(tmp_path: Path, token: str = "first-token\n", ca: bytes = b"CA PEM") -> Path:
    (tmp_path / "token").write_text(token)
    (tmp_path / "ca.crt").write_bytes(ca)
    return tmp_path


async def test_server_ca_and_token(tmp_path: Path) -> None:
    access = in_cluster(environ=ENV, directory=service_account(tmp_path))
    assert (access.server, access.ca_pem, access.verify) == ("https://10.96.0.1:443", b"CA PEM", True)
    assert access.client_certificate is None
    assert await access.credentials.header() == "Bearer first-token"


def test_ipv6_service_host_is_bracketed(tmp_path: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    assert in_cluster(environ=env, directory=service_account(tmp_path)).server == "https://[fd00::1]:443"


async def test_token_is_reread_once_a_minute_and_only_when_asked(tmp_path: Path) -> None:
    path = service_account(tmp_path) / "token"
    now = [100.0]
    token = TokenFile(path, monotonic=lambda: now[0])
    path.write_text("rotated-token")
    now[0] += 59.9
    assert await token.header() == "Bearer first-token"
    now[0] += 0.1
    assert await token.header() == "Bearer rotated-token"


async def test_an_unreadable_reread_keeps_the_last_token(tmp_path: Path) -> None:
    path = service_account(tmp_path) / "token"
    now = [0.0]
    token = TokenFile(path, monotonic=lambda: now[0])
    path.unlink()
    now[0] = 61.0
    assert await token.header() == "Bearer first-token"


@pytest.mark.parametrize(
    ("env", "token", "ca", "problem"),
    [
        ({}, "t", b"CA", "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set"),
        (ENV, "  \n", b"CA", "is empty"),
        (ENV, "t", b"\n", "ca.crt is empty"),
    ],
)
def test_refused_when_incomplete(tmp_path: Path, env: dict[str, str], token: str, ca: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        in_cluster(environ=env, directory=service_account(tmp_path, token=token, ca=ca))


def test_missing_files_are_os_errors(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        in_cluster(environ=ENV, directory=tmp_path)
