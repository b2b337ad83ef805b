"""The thin typed adapter that all product code uses to talk to Kubernetes: plain HTTP over aiohttp.

    connect(kubeconfig=..., qps=..., burst=...) -> Kube     (config.py: _access.py reads the kubeconfig
                                                             or the pod's service account, _http.py sends)
    Kube                                                    (client.py)
        create_certificate_request / delete_certificate_request
        list_certificate_requests / watch_certificate_requests   (requests.py)
        get_pod / watch_pods                                     (pods.py)
        record_event                                             (events.py)
        watch_configmap                                          (configmaps.py)
        get_lease / create_lease / update_lease                  (leases.py)
        watch_all_certificate_requests / set_condition           (approvals.py)
    WatchEvent, Backoff, watch                              (watching.py)

Objects are plain dicts as the API server sent them. Every failure is `errors.KubernetesError`
(`status` is the HTTP code, None when the server could not be reached); its message is the API
server's own, clipped and scrubbed of anything token-shaped.
"""

from __future__ import annotations

from certcsi.kube._transport import Obj, Transport
from certcsi.kube.client import Kube
from certcsi.kube.config import connect
from certcsi.kube.events import EventKind, InvolvedObject
from certcsi.kube.watching import Backoff, WatchEvent, watch

__all__ = [
    "Backoff",
    "EventKind",
    "InvolvedObject",
    "Kube",
    "Obj",
    "Transport",
    "WatchEvent",
    "connect",
    "watch",
]
