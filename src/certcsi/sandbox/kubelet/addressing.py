"""Pod IPs for the sandbox: one address per subnet (dual stack when given two), handed out in order.

A real node gets these from its CNI plugin; the sandbox only needs distinct, plausible addresses
so that `pod-ip:*` readiness gates and IP SANs can be exercised.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class PodAddresses:
    """Allocates pod IPs from `subnets`, skipping any address already seen on a pod of this node."""

    def __init__(self, subnets: Sequence[str]) -> None:
        if not subnets:
            raise ValueError("pod_subnets: must name at least one subnet")
        networks = [ipaddress.ip_network(subnet) for subnet in subnets]
        self._pools: list[Iterator[_Address]] = [network.hosts() for network in networks]
        self._used: set[str] = set()

    def reserve(self, addresses: Iterable[str]) -> None:
        """Mark addresses a pod already carries (after a kubelet restart) as taken."""
        self._used.update(addresses)

    def allocate(self) -> list[str]:
        """One fresh address from each subnet, in the order the subnets were given."""
        chosen: list[str] = []
        for pool in self._pools:
            for address in pool:
                text = str(address)
                if text not in self._used:
                    self._used.add(text)
                    chosen.append(text)
                    break
            else:
                raise RuntimeError("pod subnet exhausted")
        return chosen
