"""Reading a kubeconfig: the fields client-go reads, relative paths, and errors that name the field."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from certcsi.kube._access import from_kubeconfig
from certcsi.kube._credentials import ExecPlugin, Static, TokenFile


def write(tmp_path: Path, cluster: dict[str, Any], user: dict[str, Any], **extra: Any) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}, {"name": "other", "cluster": {"server": "https://other"}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [
            {"name": "main", "context": {"cluster": "c", "user": "u"}},
            {"name": "second", "context": {"cluster": "other"}},
        ],
        "current-context": "main",
        **extra,
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    return path


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_inline_data_and_cluster_settings(tmp_path: Path) -> None:
    cluster = {
        "server": "https://10.0.0.1:6443/",
        "certificate-authority-data": b64(b"CA PEM"),
        "tls-server-name": "kubernetes.default",
        "proxy-url": "http://proxy:3128",
    }
    user = {"client-certificate-data": b64(b"CERT"), "client-key-data": b64(b"KEY"), "token": "abc"}
    access = from_kubeconfig(write(tmp_path, cluster, user))
    assert access.server == "https://10.0.0.1:6443"
    assert (access.ca_pem, access.verify, access.tls_server_name) == (b"CA PEM", True, "kubernetes.default")
    assert access.proxy == "http://proxy:3128"
    assert access.client_certificate is not None
    assert (access.client_certificate.certificate_pem, access.client_certificate.key_pem) == (b"CERT", b"KEY")
    assert await access.credentials.header() == "Bearer abc"
    assert "KEY" not in repr(access) and "abc" not in repr(access)


def test_files_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    for name, content in (("ca.crt", b"CA"), ("client.crt", b"CERT"), ("client.key", b"KEY")):
        (tmp_path / "pki" / name).write_bytes(content)
    cluster = {"server": "https://h:6443", "certificate-authority": "pki/ca.crt"}
    user = {"client-certificate": "pki/client.crt", "client-key": str(tmp_path / "pki" / "client.key")}
    access = from_kubeconfig(write(tmp_path, cluster, user))
    assert access.ca_pem == b"CA"
    assert access.client_certificate is not None and access.client_certificate.key_pem == b"KEY"


def test_inline_data_wins_over_a_file(tmp_path: Path) -> None:
    cluster = {
        "server": "https://h",
        "certificate-authority": "missing.crt",
        "certificate-authority-data": b64(b"INLINE"),
    }
    assert from_kubeconfig(write(tmp_path, cluster, {})).ca_pem == b"INLINE"


def test_insecure_skip_tls_verify(tmp_path: Path) -> None:
    access = from_kubeconfig(write(tmp_path, {"server": "https://h", "insecure-skip-tls-verify": True}, {}))
    assert access.verify is False


async def test_token_file_basic_auth_and_no_user(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n")
    by_file = from_kubeconfig(write(tmp_path, {"server": "https://h"}, {"tokenFile": "token"}))
    assert isinstance(by_file.credentials, TokenFile)
    assert await by_file.credentials.header() == "Bearer from-file"
    basic = from_kubeconfig(write(tmp_path, {"server": "https://h"}, {"username": "ann", "password": "pw"}))
    assert await basic.credentials.header() == "Basic " + b64(b"ann:pw")
    nobody = from_kubeconfig(write(tmp_path, {"server": "https://h"}, {}), context="second")
    assert nobody.server == "https://other" and await nobody.credentials.header() is None


def test_exec_commands_with_a_directory_are_kubeconfig_relative(tmp_path: Path) -> None:
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "bin/get-token",
            "args": ["--cluster", "c"],
            "env": [{"name": "A", "value": "1"}],
        }
    }
    access = from_kubeconfig(write(tmp_path, {"server": "https://h"}, user))
    assert isinstance(access.credentials, ExecPlugin)
    spec = access.credentials._spec
    assert spec.command == str(tmp_path / "bin/get-token")
    assert (spec.args, dict(spec.env)) == (("--cluster", "c"), {"A": "1"})
    on_path = {"exec": {**user["exec"], "command": "gke-gcloud-auth-plugin"}}
    plugin = from_kubeconfig(write(tmp_path, {"server": "https://h"}, on_path)).credentials
    assert isinstance(plugin, ExecPlugin) and plugin._spec.command == "gke-gcloud-auth-plugin"


@pytest.mark.parametrize(
    ("cluster", "user", "message"),
    [
        ({}, {}, r"clusters\[c\]\.cluster\.server: required"),
        ({"server": "https://h", "insecure-skip-tls-verify": "yes"}, {}, "insecure-skip-tls-verify: must be true"),
        ({"server": "https://h", "certificate-authority-data": "%%%"}, {}, "authority-data: must be base64"),
        ({"server": "https://h"}, {"client-certificate-data": b64(b"C")}, "client-certificate and client-key go"),
        ({"server": "https://h"}, {"auth-provider": {"name": "gcp"}}, r"users\[u\]\.user\.auth-provider: not supp"),
        ({"server": "https://h"}, {"exec": {"command": "x"}}, r"exec\.apiVersion: must be one of"),
        ({"server": "https://h"}, {"exec": {"apiVersion": "client.authentication.k8s.io/v1"}}, "command: required"),
    ],
)
def test_errors_name_the_field(tmp_path: Path, cluster: dict[str, Any], user: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_kubeconfig(write(tmp_path, cluster, user))


def test_unknown_context(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="contexts: no entry named 'nope'"):
        from_kubeconfig(write(tmp_path, {"server": "https://h"}, {}), context="nope")


def test_static_credentials_hide_their_value() -> None:
    assert "secret" not in repr(Static("Bearer secret"))
