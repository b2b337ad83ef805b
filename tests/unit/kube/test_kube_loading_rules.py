"""Which kubeconfig, as client-go decides: --kubeconfig, else KUBECONFIG (merged), else ~/.kube/config, else a pod."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from certcsi.errors import KubernetesError
from certcsi.kube import _access
from certcsi.kube.config import ClientConfig, load_access


def kubeconfig(path: Path, *, server: str, context: str = "main", current: str | None = "main", **user: Any) -> Path:
    path.write_text(
        json.dumps(
            {
                "clusters": [{"name": context, "cluster": {"server": server}}],
                "users": [{"name": context, "user": user}],
                "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
                "current-context": current,
            }
        )
    )
    return path


def in_a_pod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    (tmp_path / "sa").mkdir()
    (tmp_path / "sa" / "ca.crt").write_bytes(b"CA")
    (tmp_path / "sa" / "token").write_text("sa-token")
    monkeypatch.setattr(_access, "SERVICE_ACCOUNT_DIR", tmp_path / "sa")
    return {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443", "HOME": str(tmp_path)}


def test_the_flag_wins_over_the_environment(tmp_path: Path) -> None:
    flag = kubeconfig(tmp_path / "flag", server="https://flag")
    env = kubeconfig(tmp_path / "env", server="https://env")
    config = ClientConfig(kubeconfig=str(flag), environ={"KUBECONFIG": str(env), "HOME": str(tmp_path)})
    assert load_access(kubeconfig=config).server == "https://flag"


def test_a_missing_flag_file_is_an_error_naming_it(tmp_path: Path) -> None:
    config = ClientConfig(kubeconfig=str(tmp_path / "nope"), environ={})
    with pytest.raises(KubernetesError, match=r"kubeconfig .*nope: no such file \(--kubeconfig\)"):
        load_access(kubeconfig=config)


async def test_kubeconfig_files_are_merged_first_name_wins(tmp_path: Path) -> None:
    first = kubeconfig(tmp_path / "a", server="https://a", current=None, token="a-token")
    second = kubeconfig(tmp_path / "b", server="https://b", current="main", token="b-token")
    missing = tmp_path / "missing"
    listed = os.pathsep.join(map(str, (missing, first, second)))
    access = load_access(kubeconfig=ClientConfig(environ={"KUBECONFIG": listed, "HOME": str(tmp_path)}))
    # The context comes from the second file (the first has none); every entry named "main" from the first.
    assert access.server == "https://a"
    assert await access.credentials.header() == "Bearer a-token"


def test_home_kubeconfig_when_nothing_else(tmp_path: Path) -> None:
    (tmp_path / ".kube").mkdir()
    kubeconfig(tmp_path / ".kube" / "config", server="https://home")
    assert load_access(kubeconfig=ClientConfig(environ={"HOME": str(tmp_path)})).server == "https://home"


def test_kubeconfig_set_but_empty_of_files_skips_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    environ = in_a_pod(tmp_path, monkeypatch)
    (tmp_path / ".kube").mkdir()
    kubeconfig(tmp_path / ".kube" / "config", server="https://home")
    config = ClientConfig(environ={**environ, "KUBECONFIG": str(tmp_path / "absent")})
    assert load_access(kubeconfig=config).server == "https://10.96.0.1:443"


async def test_in_cluster_when_no_kubeconfig_has_a_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    environ = in_a_pod(tmp_path, monkeypatch)
    without_context = kubeconfig(tmp_path / "k", server="https://k", current=None)
    access = load_access(kubeconfig=ClientConfig(environ={**environ, "KUBECONFIG": str(without_context)}))
    assert (access.server, access.ca_pem) == ("https://10.96.0.1:443", b"CA")
    assert await access.credentials.header() == "Bearer sa-token"


async def test_flags_override_in_cluster_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    environ = in_a_pod(tmp_path, monkeypatch)
    overrides = _access.Overrides(server="https://elsewhere:6443", token="flag-token", insecure_skip_tls_verify=True)
    access = load_access(kubeconfig=ClientConfig(overrides=overrides, environ=environ))
    assert (access.server, access.verify, access.ca_pem) == ("https://elsewhere:6443", False, None)
    assert await access.credentials.header() == "Bearer flag-token"


def test_server_flag_alone_needs_no_kubeconfig(tmp_path: Path) -> None:
    config = ClientConfig(overrides=_access.Overrides(server="http://127.0.0.1:8080"), environ={"HOME": str(tmp_path)})
    assert load_access(kubeconfig=config).server == "http://127.0.0.1:8080"


def test_context_cluster_and_user_flags_choose_entries(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text(
        json.dumps(
            {
                "clusters": [
                    {"name": "one", "cluster": {"server": "https://one", "tls-server-name": "one.internal"}},
                    {"name": "two", "cluster": {"server": "https://two"}},
                ],
                "users": [{"name": "ann", "user": {"token": "ann"}}, {"name": "bob", "user": {"as": "carol"}}],
                "contexts": [
                    {"name": "c1", "context": {"cluster": "one", "user": "ann"}},
                    {"name": "c2", "context": {"cluster": "two", "user": "ann"}},
                ],
                "current-context": "c1",
            }
        )
    )
    base = ClientConfig(kubeconfig=str(path), environ={})
    assert load_access(kubeconfig=base).server == "https://one"
    by_context = ClientConfig(kubeconfig=str(path), overrides=_access.Overrides(context="c2"), environ={})
    assert load_access(kubeconfig=by_context).server == "https://two"
    overrides = _access.Overrides(cluster="two", user="bob")
    by_names = load_access(kubeconfig=ClientConfig(kubeconfig=str(path), overrides=overrides, environ={}))
    assert by_names.server == "https://two"
    assert by_names.impersonation == _access.Impersonation("carol")
    moved = _access.Overrides(server="https://three", tls_server_name=None)
    # A server of its own drops the kubeconfig's tls-server-name, which named the old server.
    access = load_access(kubeconfig=ClientConfig(kubeconfig=str(path), overrides=moved, environ={}))
    assert (access.server, access.tls_server_name) == ("https://three", None)


def test_unknown_context_flag_names_it(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "k", server="https://k")
    config = ClientConfig(kubeconfig=str(path), overrides=_access.Overrides(context="nope"), environ={})
    with pytest.raises(KubernetesError, match="contexts: no entry named 'nope'"):
        load_access(kubeconfig=config)


def test_impersonation_groups_need_a_user(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "k", server="https://k")
    config = ClientConfig(kubeconfig=str(path), overrides=_access.Overrides(impersonate_groups=("g",)), environ={})
    with pytest.raises(KubernetesError, match="--as-uid and --as-group need --as"):
        load_access(kubeconfig=config)


def test_client_certificate_flags_replace_the_kubeconfigs(tmp_path: Path) -> None:
    (tmp_path / "c.crt").write_bytes(b"CERT")
    (tmp_path / "c.key").write_bytes(b"KEY")
    path = kubeconfig(tmp_path / "k", server="https://k")
    overrides = _access.Overrides(client_certificate=tmp_path / "c.crt", client_key=tmp_path / "c.key")
    access = load_access(kubeconfig=ClientConfig(kubeconfig=str(path), overrides=overrides, environ={}))
    assert access.client_certificate == _access.ClientCertificate(certificate_pem=b"CERT", key_pem=b"KEY")
    half = _access.Overrides(client_certificate=tmp_path / "c.crt")
    with pytest.raises(KubernetesError, match="--client-certificate and --client-key go together"):
        load_access(kubeconfig=ClientConfig(kubeconfig=str(path), overrides=half, environ={}))
