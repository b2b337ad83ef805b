"""Connecting: a kubeconfig file when given, else the pod's in-cluster service account.

`connect()` is what every certcsi process uses: `certcsi.kube._access` reads where the API server is
and who we are, `certcsi.kube._http` talks to it over aiohttp. kubernetes_asyncio is not involved
(importing it builds every generated model class: ~36 MB of a node driver's memory for nothing).

`open_transport()` is the same connection without the typed face, for the sandbox's kubelet.
"""

from __future__ import annotations

from pathlib import Path

import certcsi
from certcsi.errors import KubernetesError
from certcsi.kube import _access, _errors
from certcsi.kube._http import HttpTransport
from certcsi.kube._ratelimit import RateLimiter
from certcsi.kube.client import Kube

USER_AGENT = f"certcsi/{certcsi.__version__}"


def _failure(kubeconfig: str | None, exc: Exception) -> KubernetesError:
    source = f"kubeconfig {kubeconfig}" if kubeconfig else "in-cluster configuration"
    return KubernetesError(_errors.clean_message(f"cannot load {source}: {exc}"), status=None)


def load_access(*, kubeconfig: str | None, context: str | None = None) -> _access.Access:
    """Where the API server is and who we are: from `kubeconfig`, or in-cluster when it is None."""
    try:
        if kubeconfig:
            return _access.from_kubeconfig(Path(kubeconfig), context=context)
        return _access.in_cluster()
    except (OSError, ValueError) as exc:  # yaml's errors are ValueErrors too
        raise _failure(kubeconfig, exc) from None


def open_transport(
    *, kubeconfig: str | None, qps: float, burst: int, context: str | None = None, user_agent: str = USER_AGENT
) -> HttpTransport:
    """The raw plain-dict transport (the sandbox's kubelet uses it directly); make it inside the loop."""
    access = load_access(kubeconfig=kubeconfig, context=context)
    try:
        return HttpTransport(access, limiter=RateLimiter(qps=qps, burst=burst), user_agent=user_agent)
    except ValueError as exc:
        raise _failure(kubeconfig, exc) from None


async def connect(*, kubeconfig: str | None, qps: float, burst: int, context: str | None = None) -> Kube:
    """A `Kube` for the cluster: from `kubeconfig` when given, else in-cluster."""
    return Kube(open_transport(kubeconfig=kubeconfig, qps=qps, burst=burst, context=context))
