"""Connecting: a kubeconfig file when given, else the pod's in-cluster service account.

`connect()` is what every certcsi process uses: `certcsi.kube._access` reads where the API server is
and who we are, `certcsi.kube._http` talks to it over aiohttp. kubernetes_asyncio is not involved
(importing it builds every generated model class: ~36 MB of a node driver's memory for nothing).

`load_configuration()` is for the sandbox's kubelet stand-in and the e2e harness, which still build
their own kubernetes_asyncio ApiClient; it imports kubernetes_asyncio when called.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import certcsi
from certcsi.errors import KubernetesError
from certcsi.kube import _access, _errors
from certcsi.kube._http import HttpTransport
from certcsi.kube._ratelimit import RateLimiter
from certcsi.kube.client import Kube

if TYPE_CHECKING:
    from kubernetes_asyncio.client import Configuration

USER_AGENT = f"certcsi/{certcsi.__version__}"

# kubernetes_asyncio logs whole response bodies at DEBUG from this logger; a TokenRequest answer
# is a token. Its users here read responses themselves (so nothing is logged today), and keep it
# that way even when someone turns on DEBUG for everything.
_BODY_LOGGER = "kubernetes_asyncio.client.rest"


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


async def connect(*, kubeconfig: str | None, qps: float, burst: int, context: str | None = None) -> Kube:
    """A `Kube` for the cluster: from `kubeconfig` when given, else in-cluster."""
    access = load_access(kubeconfig=kubeconfig, context=context)
    limiter = RateLimiter(qps=qps, burst=burst)
    try:
        transport = HttpTransport(access, limiter=limiter, user_agent=USER_AGENT)
    except ValueError as exc:
        raise _failure(kubeconfig, exc) from None
    return Kube(transport)


async def load_configuration(*, kubeconfig: str | None, context: str | None = None) -> Configuration:
    """A kubernetes_asyncio client configuration from `kubeconfig`, or the in-cluster one when it is None."""
    from kubernetes_asyncio import config as kube_config
    from kubernetes_asyncio.client import Configuration

    logging.getLogger(_BODY_LOGGER).setLevel(logging.INFO)
    configuration = Configuration()
    try:
        if kubeconfig:
            await kube_config.load_kube_config(
                config_file=kubeconfig, context=context, client_configuration=configuration, persist_config=False
            )
        else:
            kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except (kube_config.ConfigException, OSError, ValueError) as exc:
        raise _failure(kubeconfig, exc) from None
    configuration.debug = False
    return configuration
