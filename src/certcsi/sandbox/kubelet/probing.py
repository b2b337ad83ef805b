"""Readiness probes of the containers the node runs, as kubelet's prober runs them (httpGet and tcpSocket).

The pods share the machine's network here, so a probe goes to 127.0.0.1 at the probe's port (a port
name is looked up in the container's ports); an httpGet succeeds on a status from 200 to 399. A
container with a readiness probe is Ready once `successThreshold` probes in a row pass, and unready
again after `failureThreshold` failures, each failure a Warning `Unhealthy` event worded as kubelet's.
An exec probe needs a container runtime: it is taken as passing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from certcsi.sandbox.kubelet.planning import as_dict

LOCALHOST = "127.0.0.1"


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


def _port(value: Any, container: Mapping[str, Any]) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    for port in container.get("ports") or []:
        if as_dict(port).get("name") == value:
            found = as_dict(port).get("containerPort")
            return found if isinstance(found, int) else None
    return None


@dataclass(frozen=True)
class Probe:
    url: str | None  # httpGet
    tcp_port: int | None  # tcpSocket
    shown_host: str  # the pod IP kubelet would dial, for the event text
    period: int
    initial_delay: int
    timeout: int
    success_threshold: int
    failure_threshold: int

    @classmethod
    def parse(cls, container: Mapping[str, Any], *, pod_ip: str) -> Probe | None:
        spec = as_dict(container.get("readinessProbe"))
        http, tcp = as_dict(spec.get("httpGet")), as_dict(spec.get("tcpSocket"))
        if not http and not tcp:
            return None
        url = None
        tcp_port = None
        if http:
            port = _port(http.get("port"), container)
            scheme = str(http.get("scheme") or "HTTP").lower()
            path = str(http.get("path") or "/")
            url = f"{scheme}://{LOCALHOST}:{port}{path if path.startswith('/') else '/' + path}"
        else:
            tcp_port = _port(tcp.get("port"), container)
        return cls(
            url=url,
            tcp_port=tcp_port,
            shown_host=pod_ip,
            period=max(_int(spec.get("periodSeconds"), 10), 1),
            initial_delay=_int(spec.get("initialDelaySeconds"), 0),
            timeout=max(_int(spec.get("timeoutSeconds"), 1), 1),
            success_threshold=max(_int(spec.get("successThreshold"), 1), 1),
            failure_threshold=max(_int(spec.get("failureThreshold"), 3), 1),
        )

    async def check(self, session: aiohttp.ClientSession) -> str | None:
        """None when the probe passes, else kubelet's failure text."""
        if self.url is not None:
            shown = self.url.replace(LOCALHOST, self.shown_host, 1)
            try:
                async with session.get(self.url, timeout=aiohttp.ClientTimeout(total=self.timeout), ssl=False) as got:
                    if 200 <= got.status < 400:
                        return None
                    return f"HTTP probe failed with statuscode: {got.status}"
            except (aiohttp.ClientError, TimeoutError, OSError) as err:
                return f'Get "{shown}": {err}'
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(LOCALHOST, self.tcp_port), self.timeout)
        except (TimeoutError, OSError) as err:
            return f"dial tcp {self.shown_host}:{self.tcp_port}: {err}"
        writer.close()
        return None


async def run_readiness(probe: Probe, *, set_ready: Callable[[bool], None], failed: Callable[[str], None]) -> None:
    """Probe until cancelled; `set_ready` on each change of readiness, `failed(message)` on each failure."""
    await asyncio.sleep(probe.initial_delay)
    passes = fails = 0
    ready = False
    async with aiohttp.ClientSession() as session:
        while True:
            problem = await probe.check(session)
            passes, fails = (passes + 1, 0) if problem is None else (0, fails + 1)
            if problem is not None:
                failed(f"Readiness probe failed: {problem}")
            if not ready and passes >= probe.success_threshold:
                ready = True
                set_ready(True)
            elif ready and fails >= probe.failure_threshold:
                ready = False
                set_ready(False)
            await asyncio.sleep(probe.period)
