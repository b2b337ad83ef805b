"""Connecting: a kubeconfig file when given, else the pod's in-cluster service account."""

from __future__ import annotations

import copy
import logging

from kubernetes_asyncio import config as kube_config
from kubernetes_asyncio.client import ApiClient, Configuration

import certcsi
from certcsi.errors import KubernetesError
from certcsi.kube import _errors
from certcsi.kube._ratelimit import RateLimiter
from certcsi.kube._transport import ApiTransport
from certcsi.kube.client import Kube

USER_AGENT = f"certcsi/{certcsi.__version__}"

# kubernetes_asyncio logs whole response bodies at DEBUG from this logger; a TokenRequest answer
# is a token. certcsi reads responses itself (so nothing is logged today), and keeps it that way
# even when someone turns on DEBUG for everything.
_BODY_LOGGER = "kubernetes_asyncio.client.rest"


async def load_configuration(*, kubeconfig: str | None, context: str | None = None) -> Configuration:
    """The client configuration from `kubeconfig`, or the in-cluster one when it is None."""
    configuration = Configuration()
    try:
        if kubeconfig:
            await kube_config.load_kube_config(
                config_file=kubeconfig, context=context, client_configuration=configuration, persist_config=False
            )
        else:
            kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except (kube_config.ConfigException, OSError, ValueError) as exc:
        source = f"kubeconfig {kubeconfig}" if kubeconfig else "in-cluster configuration"
        raise KubernetesError(_errors.clean_message(f"cannot load {source}: {exc}"), status=None) from None
    configuration.debug = False
    return configuration


def anonymous(configuration: Configuration) -> Configuration:
    """The same server and trust, without any credential of our own (client-go's AnonymousClientConfig)."""
    bare = copy.deepcopy(configuration)
    bare.cert_file = None
    bare.key_file = None
    bare.api_key = {}
    bare.api_key_prefix = {}
    bare.refresh_api_key_hook = None
    bare.username = None
    bare.password = None
    return bare


def _api_client(configuration: Configuration) -> ApiClient:
    api = ApiClient(configuration)
    api.user_agent = USER_AGENT
    return api


def kube_from_configuration(configuration: Configuration, *, qps: float, burst: int) -> Kube:
    logging.getLogger(_BODY_LOGGER).setLevel(logging.INFO)
    limiter = RateLimiter(qps=qps, burst=burst)
    api = _api_client(configuration)
    # A TLS client certificate would win over a per-call bearer token at the API server.
    token_api = _api_client(anonymous(configuration)) if configuration.cert_file else None
    return Kube(ApiTransport(api, limiter=limiter, token_api=token_api))


async def connect(*, kubeconfig: str | None, qps: float, burst: int, context: str | None = None) -> Kube:
    """A `Kube` for the cluster: from `kubeconfig` when given, else in-cluster."""
    configuration = await load_configuration(kubeconfig=kubeconfig, context=context)
    return kube_from_configuration(configuration, qps=qps, burst=burst)
