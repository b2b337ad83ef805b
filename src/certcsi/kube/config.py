"""Connecting: kubeconfig files and kubectl's connection flags as client-go resolves them, else in-cluster.

`connect()` is what every certcsi process uses: `ClientConfig` holds what the command line said,
`certcsi.kube._access` reads where the API server is and who we are, `certcsi.kube._http` talks
to it over aiohttp. kubernetes_asyncio is not involved (importing it builds every generated model
class: ~36 MB of a node driver's memory for nothing).

`open_transport()` is the same connection without the typed face, for the sandbox's kubelet.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import certcsi
from certcsi.errors import KubernetesError
from certcsi.kube import _access, _errors, watching
from certcsi.kube._access import NO_OVERRIDES, Access, Kubeconfig, Overrides
from certcsi.kube._http import HttpTransport
from certcsi.kube._ratelimit import RateLimiter
from certcsi.kube.client import Kube

USER_AGENT = f"certcsi/{certcsi.__version__}"


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    """What the command line says about the connection (kubectl's flags); unset fields defer to the kubeconfig."""

    kubeconfig: str | None = None
    overrides: Overrides = NO_OVERRIDES
    request_timeout: float = 0.0  # seconds; 0: no limit of the user's (the transport keeps its own)
    disable_compression: bool = False
    environ: Mapping[str, str] | None = field(default=None, repr=False)  # tests; None: os.environ

    def kubeconfig_files(self) -> list[Path]:
        """client-go's loading rules: --kubeconfig alone, else KUBECONFIG's existing files, else ~/.kube/config."""
        environ = os.environ if self.environ is None else self.environ
        if self.kubeconfig:
            path = Path(self.kubeconfig)
            if not path.exists():
                raise FileNotFoundError("no such file (--kubeconfig)")
            return [path]
        listed = environ.get("KUBECONFIG", "")
        if listed:
            paths = dict.fromkeys(Path(entry) for entry in listed.split(os.pathsep) if entry)
            return [path for path in paths if path.is_file()]
        home = environ.get("HOME") or str(Path.home())
        default = Path(home) / ".kube" / "config"
        return [default] if default.is_file() else []

    def describe(self) -> str:
        """Where the configuration comes from, for an error message."""
        if self.kubeconfig:
            return f"kubeconfig {self.kubeconfig}"
        try:
            files = self.kubeconfig_files()
        except OSError:
            files = []
        return f"kubeconfig {os.pathsep.join(map(str, files))}" if files else "in-cluster configuration"


def _failure(config: ClientConfig, exc: Exception) -> KubernetesError:
    return KubernetesError(_errors.clean_message(f"cannot load {config.describe()}: {exc}"), status=None)


def _as_config(kubeconfig: str | ClientConfig | None) -> ClientConfig:
    return kubeconfig if isinstance(kubeconfig, ClientConfig) else ClientConfig(kubeconfig=kubeconfig)


def _resolve(config: ClientConfig, context: str | None) -> Access:
    overrides = config.overrides if context is None else replace(config.overrides, context=context)
    access = Kubeconfig.load(config.kubeconfig_files()).access(overrides)
    if access is None:
        # No context in any kubeconfig (or no kubeconfig at all): in a pod, its service account, as client-go.
        environ = os.environ if config.environ is None else config.environ
        if not (environ.get("KUBERNETES_SERVICE_HOST") and environ.get("KUBERNETES_SERVICE_PORT")):
            raise ValueError(
                "no context in any kubeconfig (--kubeconfig, KUBECONFIG, ~/.kube/config) and not in a pod "
                "(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set there)"
            )
        access = overrides.apply_to_user(overrides.apply_to_cluster(_access.in_cluster(environ=environ)))
    return replace(access, request_timeout=config.request_timeout, disable_compression=config.disable_compression)


def load_access(*, kubeconfig: str | ClientConfig | None, context: str | None = None) -> Access:
    """Where the API server is and who we are: kubeconfig files and flags, or in-cluster (client-go's rules)."""
    config = _as_config(kubeconfig)
    try:
        return _resolve(config, context)
    except (OSError, ValueError) as exc:  # yaml's errors are ValueErrors too
        raise _failure(config, exc) from None


def open_transport(
    *,
    kubeconfig: str | ClientConfig | None,
    qps: float,
    burst: int,
    context: str | None = None,
    user_agent: str = USER_AGENT,
) -> HttpTransport:
    """The raw plain-dict transport (the sandbox's kubelet uses it directly); make it inside the loop."""
    access = load_access(kubeconfig=kubeconfig, context=context)
    try:
        return HttpTransport(access, limiter=RateLimiter(qps=qps, burst=burst), user_agent=user_agent)
    except ValueError as exc:
        raise _failure(_as_config(kubeconfig), exc) from None


async def connect(
    *,
    kubeconfig: str | ClientConfig | None,
    qps: float,
    burst: int,
    context: str | None = None,
    watch_timeout_seconds: int | None = None,
) -> Kube:
    """A `Kube` for the cluster: kubeconfig files and connection flags when there are any, else in-cluster.

    `watch_timeout_seconds` fixes every watch request's timeoutSeconds (None: 30-45 s at random).
    """
    watch_timeout = (
        None
        if watch_timeout_seconds is None
        else watching.timeout_seconds_between(watch_timeout_seconds, watch_timeout_seconds)
    )
    transport = open_transport(kubeconfig=kubeconfig, qps=qps, burst=burst, context=context)
    return Kube(transport, watch_timeout=watch_timeout)
