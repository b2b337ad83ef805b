"""The SPIFFE Workload API of one volume: what its socket answers, as the SPIFFE specs say.

- every call must carry the metadata `workload.spiffe.io: true`, else INVALID_ARGUMENT (Workload
  Endpoint spec, section 3; clients must not retry);
- FetchX509SVID streams the volume's SVID with its trust bundle, at once and after every change;
  FetchX509Bundles streams the bundle keyed by the trust domain's SPIFFE ID, whenever it changes;
- nothing issued yet: PERMISSION_DENIED ("no identity issued", which clients retry with a backoff);
  an SVID but no known bundle: UNAVAILABLE saying what to configure;
- the JWT-SVID profile: UNIMPLEMENTED, with the reason;
- a stream beyond the volume's limit, or one whose client has not read an update within the send
  timeout: UNAVAILABLE (the spec's code for load shedding; clients reconnect with a backoff).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf.message import Message
from grpclib.const import Status
from grpclib.exceptions import GRPCError
from grpclib.server import Stream

from certcsi.drivers.spiffe.workload._gen import workload_pb2 as pb
from certcsi.drivers.spiffe.workload._gen.workload_grpc import SpiffeWorkloadAPIBase
from certcsi.drivers.spiffe.workload.feeding import Feed, StreamsExhausted
from certcsi.drivers.spiffe.workload.reading import Credentials

__all__ = ["JWT_UNIMPLEMENTED", "SECURITY_HEADER", "WorkloadApiService", "bundles_response", "svid_response"]

SECURITY_HEADER = "workload.spiffe.io"
MISSING_HEADER = f"the security header {SECURITY_HEADER}: true is required (SPIFFE Workload Endpoint, section 3)"
JWT_UNIMPLEMENTED = (
    "JWT-SVIDs are not issued by this driver: spiffe.csi.cert-manager.io serves the X.509-SVID profile only"
)
VOLUME_GONE = "the volume was unpublished"

Response = TypeVar("Response", bound=Message)


def svid_response(credentials: Credentials) -> pb.X509SVIDResponse:
    """The FetchX509SVID message for `credentials`; GRPCError when there is nothing to send."""
    svid = credentials.svid
    if svid is None:
        raise GRPCError(Status.PERMISSION_DENIED, f"no identity issued: {credentials.problem}")
    if credentials.bundle is None:
        raise GRPCError(Status.UNAVAILABLE, credentials.problem)
    entry = pb.X509SVID(
        spiffe_id=svid.spiffe_id, x509_svid=svid.chain, x509_svid_key=svid.key, bundle=credentials.bundle
    )
    return pb.X509SVIDResponse(svids=[entry])


def bundles_response(credentials: Credentials, *, trust_domain: str) -> pb.X509BundlesResponse:
    """The FetchX509Bundles message; GRPCError while the volume has no bundle."""
    if credentials.bundle is None:
        raise GRPCError(Status.PERMISSION_DENIED, f"no trust bundle: {credentials.problem}")
    return pb.X509BundlesResponse(bundles={f"spiffe://{trust_domain}": credentials.bundle})


class WorkloadApiService(SpiffeWorkloadAPIBase):
    """Serves one volume's `Feed`; one instance per volume socket."""

    def __init__(self, feed: Feed, *, trust_domain: str, send_timeout: float) -> None:
        self._feed = feed
        self._trust_domain = trust_domain
        self._send_timeout = send_timeout

    async def FetchX509SVID(self, stream: Stream[pb.X509SVIDRequest, pb.X509SVIDResponse]) -> None:
        await self._follow(stream, svid_response)

    async def FetchX509Bundles(self, stream: Stream[pb.X509BundlesRequest, pb.X509BundlesResponse]) -> None:
        await self._follow(stream, lambda credentials: bundles_response(credentials, trust_domain=self._trust_domain))

    async def FetchJWTSVID(self, stream: Stream[pb.JWTSVIDRequest, pb.JWTSVIDResponse]) -> None:
        _require_header(stream)
        raise GRPCError(Status.UNIMPLEMENTED, JWT_UNIMPLEMENTED)

    async def FetchJWTBundles(self, stream: Stream[pb.JWTBundlesRequest, pb.JWTBundlesResponse]) -> None:
        _require_header(stream)
        raise GRPCError(Status.UNIMPLEMENTED, JWT_UNIMPLEMENTED)

    async def ValidateJWTSVID(self, stream: Stream[pb.ValidateJWTSVIDRequest, pb.ValidateJWTSVIDResponse]) -> None:
        _require_header(stream)
        raise GRPCError(Status.UNIMPLEMENTED, JWT_UNIMPLEMENTED)

    async def _follow(self, stream: Stream[Any, Response], build: Callable[[Credentials], Response]) -> None:
        """Send `build(credentials)` now and whenever it changes; ends only with an error status."""
        _require_header(stream)
        try:
            with self._feed.stream():
                await self._within_timeout(stream.recv_message(), what="send its request")
                last: Response | None = None
                async for credentials in self._feed.follow():
                    response = build(credentials)
                    if response != last:
                        await self._within_timeout(stream.send_message(response), what="read the last update")
                        last = response
        except StreamsExhausted as err:
            raise GRPCError(Status.UNAVAILABLE, f"{err}; retry later") from None
        raise GRPCError(Status.UNAVAILABLE, VOLUME_GONE)

    async def _within_timeout(self, step: Any, *, what: str) -> None:
        try:
            async with asyncio.timeout(self._send_timeout):
                await step
        except TimeoutError:
            raise GRPCError(
                Status.UNAVAILABLE, f"the client did not {what} within {self._send_timeout:g}s; reconnect"
            ) from None


def _require_header(stream: Stream[Any, Any]) -> None:
    if stream.metadata is None or stream.metadata.get(SECURITY_HEADER) != "true":
        raise GRPCError(Status.INVALID_ARGUMENT, MISSING_HEADER)
