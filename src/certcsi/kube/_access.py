"""Where the API server is and who this process is to it: a kubeconfig file, or the pod's service account.

A kubeconfig is read as client-go reads one file (no KUBECONFIG merging), for the given context or
its `current-context`:

    clusters[].cluster   server, certificate-authority(-data), insecure-skip-tls-verify,
                         tls-server-name, proxy-url
    users[].user         client-certificate(-data) + client-key(-data), and one of: exec (a plugin
                         that prints a token), token, tokenFile (reread like the in-cluster token),
                         username + password

Relative paths are relative to the kubeconfig's directory, and so is an exec command written with a
directory part. `auth-provider` is refused with an error naming it: client-go dropped its gcp and
azure providers in 1.26, and gcp, azure and oidc all have exec plugins. In a pod (no kubeconfig):
KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT, and the service account's token (reread, see
`_credentials.TokenFile`) and ca.crt. Every problem is a ValueError (or OSError) naming the field.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from certcsi.kube._credentials import (
    EXEC_API_VERSIONS,
    NO_CREDENTIALS,
    Credentials,
    ExecPlugin,
    ExecSpec,
    Static,
    TokenFile,
)

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class ClientCertificate:
    certificate_pem: bytes
    key_pem: bytes = field(repr=False)


@dataclass(frozen=True)
class Access:
    """How to reach one API server: its address, the trust, and this process's own credentials."""

    server: str  # scheme://host:port[/prefix], no trailing slash
    ca_pem: bytes | None = None  # None: the system's trust store
    verify: bool = True  # False: insecure-skip-tls-verify
    tls_server_name: str | None = None
    client_certificate: ClientCertificate | None = None
    credentials: Credentials = NO_CREDENTIALS
    proxy: str | None = None

    def anonymous(self) -> Access:
        """The same server and trust without any credential of our own (client-go's AnonymousClientConfig)."""
        return replace(self, client_certificate=None, credentials=NO_CREDENTIALS)


def in_cluster(*, environ: Mapping[str, str] | None = None, directory: Path | None = None) -> Access:
    """The pod's own service account, as kubelet mounts it (in `directory`, default SERVICE_ACCOUNT_DIR)."""
    environ = os.environ if environ is None else environ
    directory = SERVICE_ACCOUNT_DIR if directory is None else directory
    host = environ.get("KUBERNETES_SERVICE_HOST", "")
    port = environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ValueError("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set (in a pod they are)")
    if ":" in host:
        host = f"[{host}]"
    ca_path = directory / "ca.crt"
    ca_pem = ca_path.read_bytes()
    if not ca_pem.strip():
        raise ValueError(f"{ca_path} is empty")
    return Access(server=f"https://{host}:{port}", ca_pem=ca_pem, credentials=TokenFile(directory / "token"))


class _Entry:
    """One mapping of the kubeconfig, named as an error message should name it."""

    def __init__(self, values: object, where: str, base: Path) -> None:
        if not isinstance(values, dict):
            raise ValueError(f"{where}: must be a mapping")
        self.values: dict[str, Any] = values
        self.where = where
        self.base = base

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ValueError(f"{self.where}.{key}: must be a string")
        return value

    def path(self, key: str) -> Path | None:
        text = self.text(key)
        return None if text is None else self.base / text

    def pem(self, key: str) -> bytes | None:
        """`<key>-data` (base64) when set, else the file `<key>` names."""
        data = self.text(f"{key}-data")
        if data is not None:
            try:
                return base64.b64decode(data, validate=True)
            except (ValueError, binascii.Error):
                raise ValueError(f"{self.where}.{key}-data: must be base64") from None
        path = self.path(key)
        return None if path is None else path.read_bytes()


def _named(config: _Entry, section: str, kind: str, name: str) -> _Entry:
    items = config.values.get(section) or []
    if not isinstance(items, list):
        raise ValueError(f"{section}: must be a list")
    for item in items:
        if isinstance(item, dict) and item.get("name") == name:
            return _Entry(item.get(kind) or {}, f"{section}[{name}].{kind}", config.base)
    raise ValueError(f"{section}: no entry named {name!r}")


def from_kubeconfig(path: Path, *, context: str | None = None) -> Access:
    """The kubeconfig's `context` (default: its current-context)."""
    import yaml  # only out of cluster; a driver in a pod never needs it

    config = _Entry(yaml.safe_load(path.read_text(encoding="utf-8")), "kubeconfig", path.parent)
    name = context or config.text("current-context")
    if name is None:
        raise ValueError("current-context: not set, and no context was given")
    chosen = _named(config, "contexts", "context", name)
    cluster_name = chosen.text("cluster")
    if cluster_name is None:
        raise ValueError(f"{chosen.where}.cluster: required")
    cluster = _named(config, "clusters", "cluster", cluster_name)
    user_name = chosen.text("user")
    user = _named(config, "users", "user", user_name) if user_name else _Entry({}, "user", path.parent)
    server = cluster.text("server")
    if server is None:
        raise ValueError(f"{cluster.where}.server: required")
    insecure = cluster.values.get("insecure-skip-tls-verify", False)
    if not isinstance(insecure, bool):
        raise ValueError(f"{cluster.where}.insecure-skip-tls-verify: must be true or false")
    return Access(
        server=server.rstrip("/"),
        ca_pem=cluster.pem("certificate-authority"),
        verify=not insecure,
        tls_server_name=cluster.text("tls-server-name"),
        client_certificate=_client_certificate(user),
        credentials=_credentials(user),
        proxy=cluster.text("proxy-url"),
    )


def _client_certificate(user: _Entry) -> ClientCertificate | None:
    certificate, key = user.pem("client-certificate"), user.pem("client-key")
    if certificate is None and key is None:
        return None
    if certificate is None or key is None:
        raise ValueError(f"{user.where}: client-certificate and client-key go together (one is missing)")
    return ClientCertificate(certificate_pem=certificate, key_pem=key)


def _credentials(user: _Entry) -> Credentials:
    if "auth-provider" in user.values:
        raise ValueError(
            f"{user.where}.auth-provider: not supported (client-go dropped gcp and azure in 1.26); "
            "use the provider's exec credential plugin"
        )
    if "exec" in user.values:
        return ExecPlugin(_exec_spec(_Entry(user.values["exec"], f"{user.where}.exec", user.base)))
    token = user.text("token")
    if token is not None:
        return Static(f"Bearer {token}")
    token_file = user.path("tokenFile")
    if token_file is not None:
        return TokenFile(token_file)
    username, password = user.text("username"), user.text("password")
    if username is not None and password is not None:
        return Static("Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii"))
    return NO_CREDENTIALS


def _exec_spec(entry: _Entry) -> ExecSpec:
    command = entry.text("command")
    if command is None:
        raise ValueError(f"{entry.where}.command: required")
    api_version = entry.text("apiVersion")
    if api_version not in EXEC_API_VERSIONS:
        raise ValueError(f"{entry.where}.apiVersion: must be one of {', '.join(EXEC_API_VERSIONS)}")
    args = entry.values.get("args") or []
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        raise ValueError(f"{entry.where}.args: must be a list of strings")
    env: dict[str, str] = {}
    for item in entry.values.get("env") or []:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("value"), str)):
            raise ValueError(f"{entry.where}.env: each entry needs a string name and value")
        env[item["name"]] = item["value"]
    # As client-go: a bare name is looked up on PATH, anything with a directory is kubeconfig-relative.
    if os.sep in command:
        command = str(entry.base / command)
    return ExecSpec(command=command, args=tuple(args), env=env, api_version=api_version)
