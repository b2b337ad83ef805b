"""Where the API server is and who this process is to it: kubeconfig files, or the pod's service account.

Which kubeconfig, as client-go's loading rules (what upstream's kubectl-style flags use):

    --kubeconfig FILE          that file alone (it must exist)
    else KUBECONFIG            every listed file that exists (os.pathsep-separated), merged: the
                               first file to define a cluster, user or context by a name wins, and
                               the first non-empty current-context
    else ~/.kube/config        when it exists
    no context in any of them  (and no --server) the pod's own service account, if in a pod

A kubeconfig context (--context, else current-context) names a cluster and a user (--cluster and
--user override them); the other kubectl connection flags (`Overrides`) override single fields:

    clusters[].cluster   server, certificate-authority(-data), insecure-skip-tls-verify,
                         tls-server-name, proxy-url
    users[].user         client-certificate(-data) + client-key(-data), and one of: exec (a plugin
                         that prints a token), token, tokenFile (reread like the in-cluster token),
                         username + password; as, as-uid, as-groups (impersonation)

Relative paths are relative to the kubeconfig that holds them, and so is an exec command written
with a directory part. `auth-provider` is refused with an error naming it: client-go dropped its
gcp and azure providers in 1.26, and gcp, azure and oidc all have exec plugins. In a pod:
KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT, and the service account's token (reread, see
`_credentials.TokenFile`) and ca.crt. Every problem is a ValueError (or OSError) naming the field.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence
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
    impersonation: Impersonation | None = None
    request_timeout: float = 0.0  # seconds for one call (watches excepted); 0: the transport's own
    disable_compression: bool = False

    def anonymous(self) -> Access:
        """The same server and trust without any credential of our own (client-go's AnonymousClientConfig)."""
        return replace(self, client_certificate=None, credentials=NO_CREDENTIALS, impersonation=None)


@dataclass(frozen=True)
class Impersonation:
    """Who our own calls act as (`Impersonate-*` headers): kubectl's --as, --as-uid, --as-group."""

    user: str
    uid: str | None = None
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Overrides:
    """kubectl's connection flags (client-go's ConfigOverrides): each one set wins over the kubeconfig."""

    context: str | None = None
    cluster: str | None = None
    user: str | None = None
    server: str | None = None
    certificate_authority: Path | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    client_certificate: Path | None = None
    client_key: Path | None = None
    token: str | None = field(default=None, repr=False)
    impersonate: str | None = None
    impersonate_uid: str | None = None
    impersonate_groups: tuple[str, ...] = ()

    def apply_to_cluster(self, access: Access) -> Access:
        """The cluster flags over `access` (client-go: a CA or insecure flag replaces both settings)."""
        if self.server:
            # A --server of its own drops the kubeconfig's tls-server-name, which was for its server.
            access = replace(access, server=self.server.rstrip("/"), tls_server_name=None)
        if self.certificate_authority is not None or self.insecure_skip_tls_verify:
            ca = None if self.certificate_authority is None else self.certificate_authority.read_bytes()
            access = replace(access, ca_pem=ca, verify=not self.insecure_skip_tls_verify)
        if self.tls_server_name:
            access = replace(access, tls_server_name=self.tls_server_name)
        return access

    def apply_to_user(self, access: Access) -> Access:
        """The user flags over `access`: token, client certificate and key, impersonation."""
        if self.token:
            access = replace(access, credentials=Static(f"Bearer {self.token}"))
        if self.client_certificate is not None or self.client_key is not None:
            current = access.client_certificate
            certificate = self.client_certificate.read_bytes() if self.client_certificate else None
            key = self.client_key.read_bytes() if self.client_key else None
            certificate = certificate or (current.certificate_pem if current else None)
            key = key or (current.key_pem if current else None)
            if certificate is None or key is None:
                raise ValueError("--client-certificate and --client-key go together (one is missing)")
            access = replace(access, client_certificate=ClientCertificate(certificate_pem=certificate, key_pem=key))
        if self.impersonate:
            groups = self.impersonate_groups
            access = replace(access, impersonation=Impersonation(self.impersonate, self.impersonate_uid, groups))
        elif self.impersonate_uid or self.impersonate_groups:
            raise ValueError("--as-uid and --as-group need --as (the user to impersonate)")
        return access


NO_OVERRIDES = Overrides()


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


@dataclass
class Kubeconfig:
    """Kubeconfig files merged as client-go merges them: for each name, the first file's entry wins."""

    files: tuple[Path, ...] = ()
    current_context: str | None = None
    sections: dict[str, dict[str, _Entry]] = field(default_factory=dict)

    @classmethod
    def load(cls, paths: Sequence[Path]) -> Kubeconfig:
        import yaml  # only out of cluster; a driver in a pod never needs it

        merged = cls(files=tuple(paths))
        for path in paths:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            config = _Entry(document, f"kubeconfig {path}", path.parent)
            merged.current_context = merged.current_context or config.text("current-context")
            for section, kind in _SECTIONS:
                found = merged.sections.setdefault(section, {})
                for name, entry in _named_entries(config, section, kind):
                    found.setdefault(name, entry)
        return merged

    def entry(self, section: str, name: str) -> _Entry:
        found = self.sections.get(section, {}).get(name)
        if found is None:
            raise ValueError(f"{section}: no entry named {name!r}")
        return found

    def access(self, overrides: Overrides = NO_OVERRIDES) -> Access | None:
        """The chosen context with the overrides; None when no context is chosen and no --server given
        (client-go then falls back to the in-cluster configuration)."""
        name = overrides.context or self.current_context
        if name is None:
            if not overrides.server:
                return None
            return overrides.apply_to_user(overrides.apply_to_cluster(Access(server=overrides.server)))
        chosen = self.entry("contexts", name)
        cluster_name = overrides.cluster or chosen.text("cluster")
        if cluster_name is None:
            raise ValueError(f"{chosen.where}.cluster: required")
        cluster = self.entry("clusters", cluster_name)
        user_name = overrides.user or chosen.text("user")
        user = self.entry("users", user_name) if user_name else _Entry({}, "user", cluster.base)
        server = overrides.server or cluster.text("server")
        if server is None:
            raise ValueError(f"{cluster.where}.server: required")
        insecure = cluster.values.get("insecure-skip-tls-verify", False)
        if not isinstance(insecure, bool):
            raise ValueError(f"{cluster.where}.insecure-skip-tls-verify: must be true or false")
        access = Access(
            server=(cluster.text("server") or server).rstrip("/"),
            ca_pem=cluster.pem("certificate-authority"),
            verify=not insecure,
            tls_server_name=cluster.text("tls-server-name"),
            client_certificate=_client_certificate(user),
            credentials=_credentials(user),
            proxy=cluster.text("proxy-url"),
            impersonation=_impersonation(user),
        )
        return overrides.apply_to_user(overrides.apply_to_cluster(access))


_SECTIONS = (("clusters", "cluster"), ("users", "user"), ("contexts", "context"))


def _named_entries(config: _Entry, section: str, kind: str) -> list[tuple[str, _Entry]]:
    items = config.values.get(section) or []
    if not isinstance(items, list):
        raise ValueError(f"{config.where}: {section}: must be a list")
    named = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            named.append((item["name"], _Entry(item.get(kind) or {}, f"{section}[{item['name']}].{kind}", config.base)))
    return named


def from_kubeconfig(path: Path, *, context: str | None = None) -> Access:
    """One kubeconfig's `context` (default: its current-context)."""
    access = Kubeconfig.load([path]).access(Overrides(context=context))
    if access is None:
        raise ValueError("current-context: not set, and no context was given")
    return access


def _impersonation(user: _Entry) -> Impersonation | None:
    name = user.text("as")
    groups = user.values.get("as-groups") or []
    if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
        raise ValueError(f"{user.where}.as-groups: must be a list of strings")
    return Impersonation(name, user.text("as-uid"), tuple(groups)) if name else None


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
