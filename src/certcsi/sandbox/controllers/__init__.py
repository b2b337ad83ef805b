"""The sandbox's kube-controller-manager loops for workloads: DaemonSets and Deployments make Pods.

    manager = ControllerManager(kubeconfig=path)      # the DaemonSet and Deployment controllers
    await manager.start(); ...; await manager.stop()

They are clients of the API server like the real ones (pods they create go through admission and
defaulting), so what `helm install` of an install manifest creates turns into pods the scheduler
binds and the sandbox node runs. Modules: informing (watch-fed caches and a work queue),
templating (pods from a template), owning (what both controllers share), daemonsets, deployments,
managing (the two together).
"""

from __future__ import annotations

from certcsi.sandbox.controllers.managing import ControllerManager

__all__ = ["ControllerManager"]
