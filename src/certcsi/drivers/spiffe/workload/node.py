"""The SPIFFE Workload API of every opted-in volume on this node: one socket, one server each.

`WorkloadApi` is both an issuance observer of the engine and a node hook (`serve`):
- entered (volume state loaded, before CSI serves), it opens an endpoint for every opted-in volume
  the store holds, so after a restart each live volume's socket serves again (a stale socket file
  of the crashed process is replaced; clients reconnect with their usual backoff);
- each `issued` (a first certificate, a renewal) writes the files first, then tells it: the volume's
  endpoint is opened if it has none (before the pod's mount exists, so the socket is there when the
  pod starts), and its open streams are pushed the new SVID on the next loop turn;
- the CA bundle watcher tells it which volumes it rewrote; their streams get the new bundle;
- `forgotten` (unpublished) closes the endpoint; so does the removal of a volume's directory by any
  other path (a first publish that failed after its files were written), seen with one inotify
  watch on the store's root.

Why grpclib and one server per volume: a listening socket per volume must be added while the driver
serves, which grpcio's server cannot do after it started. Measured with 1,000 sockets and one
open stream on each: grpclib took 39 MB and 2,001 file descriptors; one grpcio server fed by
per-volume asyncio proxies took 48 MB and 4,016 descriptors, and could not tell volumes apart
without parsing HTTP/2 itself. grpclib is pure asyncio on h2 and costs 1.8 MB to import.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from asyncinotify import Inotify, Mask

from certcsi.drivers.spiffe._stopping import until_stopped
from certcsi.drivers.spiffe.workload.feeding import Feed
from certcsi.drivers.spiffe.workload.listening import Endpoint, Limits
from certcsi.drivers.spiffe.workload.opting import DEFAULT_SOCKET_NAME, workload_api_enabled
from certcsi.drivers.spiffe.workload.reading import FileNames, keep_issuer_ca, read_credentials
from certcsi.drivers.spiffe.workload.serving import WorkloadApiService
from certcsi.errors import InvalidVolumeAttribute
from certcsi.volumes.driver import Volume
from certcsi.volumes.hooks import NodeServices
from certcsi.volumes.reporting import IssuanceDone, NullObserver
from certcsi.volumes.store import Store

__all__ = ["WorkloadApi", "WorkloadApiOptions", "raise_open_files_limit"]

log = logging.getLogger(__name__)

FsGroup = Callable[[Volume], int | None]


@dataclass(frozen=True)
class WorkloadApiOptions:
    """`--workload-api` (serve in volumes that do not opt out) and `--workload-api-socket-name`."""

    default_enabled: bool = False
    socket_name: str = DEFAULT_SOCKET_NAME
    limits: Limits = field(default_factory=Limits)


@dataclass
class _Volume:
    endpoint: Endpoint
    feed: Feed


def raise_open_files_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (as Go's runtime does); the new soft limit.

    Every opted-in volume holds a listening socket and its clients' connections.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        log.info("raised the open files limit", extra={"from": soft, "to": hard})
    return hard


class WorkloadApi(NullObserver):
    """Every volume's endpoint; an `IssuanceObserver` and, through `serve`, a `NodeHook`."""

    def __init__(self, *, options: WorkloadApiOptions, trust_domain: str, files: FileNames, fs_group: FsGroup) -> None:
        self._options = options
        self._trust_domain = trust_domain
        self._files = files
        self._fs_group = fs_group
        self._store: Store | None = None
        self._volumes: dict[str, _Volume] = {}
        self._closing: set[asyncio.Task[None]] = set()

    # -- what the engine and the bundle watcher tell ------------------------------------------------

    def issued(self, volume: Volume, done: IssuanceDone) -> None:
        store = self._store
        if store is None or not self._enabled(volume):
            return  # not serving yet: `serve` opens what is on disk when it starts
        try:
            keep_issuer_ca(store.volume_dir(volume.volume_id), done.issued.ca_pem)
        except OSError as err:
            log.warning("could not keep the issuer's CA", extra={"volume_id": volume.volume_id, "error": str(err)})
        served = self._volumes.get(volume.volume_id)
        if served is not None and served.endpoint.still_in_place():
            served.feed.changed()
            return
        self._open(store, volume)

    def forgotten(self, volume_id: str) -> None:
        self._close(volume_id)

    def files_changed(self, volume_ids: Iterable[str]) -> None:
        """The driver rewrote these volumes' files outside an issuance (a new CA bundle)."""
        for volume_id in volume_ids:
            served = self._volumes.get(volume_id)
            if served is not None:
                served.feed.changed()

    # -- the node hook ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def serve(self, services: NodeServices) -> AsyncIterator[None]:
        """Open every opted-in volume's endpoint, follow removals, and close them all on the way out."""
        raise_open_files_limit()
        store = services.store
        removals = _watch_removals(store.root)
        self._store = store
        for volume in services.volumes:
            if self._enabled(volume):
                self._open(store, volume)
        stop = asyncio.Event()
        watcher = None
        if removals is not None:
            watcher = asyncio.create_task(until_stopped(self._follow_removals(removals), stop), name="workload API")
        try:
            yield
        finally:
            stop.set()
            if watcher is not None:
                with contextlib.suppress(Exception):
                    await watcher
            if removals is not None:
                removals.close()
            self._store = None
            for volume_id in list(self._volumes):
                self._close(volume_id)
            if self._closing:
                await asyncio.wait(set(self._closing))

    @property
    def volumes(self) -> dict[str, Endpoint]:
        """The open endpoints by volume id (for inspection and tests)."""
        return {volume_id: served.endpoint for volume_id, served in self._volumes.items()}

    def streams(self, volume_id: str) -> int:
        served = self._volumes.get(volume_id)
        return served.feed.streams if served is not None else 0

    # -- endpoints -------------------------------------------------------------------------------

    def _enabled(self, volume: Volume) -> bool:
        try:
            return workload_api_enabled(volume.attributes, default=self._options.default_enabled)
        except InvalidVolumeAttribute as err:  # validated at publish; only a hand-edited metadata.json gets here
            log.warning("not serving the Workload API", extra={"volume_id": volume.volume_id, "error": str(err)})
            return False

    def _open(self, store: Store, volume: Volume) -> None:
        volume_id = volume.volume_id
        self._close(volume_id)
        data_dir, volume_dir = store.data_dir(volume_id), store.volume_dir(volume_id)
        feed = Feed(
            lambda: read_credentials(data_dir=data_dir, volume_dir=volume_dir, files=self._files),
            max_streams=self._options.limits.streams,
        )
        service = WorkloadApiService(
            feed, trust_domain=self._trust_domain, send_timeout=self._options.limits.send_timeout
        )
        endpoint = Endpoint(
            volume_id=volume_id,
            directory=data_dir,
            name=self._options.socket_name,
            service=service,
            group=self._fs_group(volume),
            limits=self._options.limits,
        )
        try:
            endpoint.open()
        except OSError as err:
            log.error(
                "cannot serve the Workload API for a volume",
                extra={"volume_id": volume_id, "socket": str(endpoint.path), "error": str(err)},
            )
            return
        self._volumes[volume_id] = _Volume(endpoint=endpoint, feed=feed)

    def _close(self, volume_id: str) -> None:
        served = self._volumes.pop(volume_id, None)
        if served is None:
            return
        served.feed.close()
        task = asyncio.ensure_future(served.endpoint.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _follow_removals(self, inotify: Inotify) -> None:
        """Close the endpoint of any volume whose directory is removed (its socket went with it)."""
        async for event in inotify:
            name = str(event.name) if event.name is not None else ""
            served = self._volumes.get(name)
            if served is not None and not served.endpoint.still_in_place():
                log.info("volume directory removed; closing its Workload API", extra={"volume_id": name})
                self._close(name)


def _watch_removals(root: Path) -> Inotify | None:
    """An inotify watch for volume directories leaving `root`, made before any volume is served."""
    inotify = Inotify()
    try:
        inotify.add_watch(root, Mask.DELETE | Mask.MOVED_FROM | Mask.ONLYDIR)
    except OSError as err:
        inotify.close()
        log.warning("cannot watch the volume store; endpoints close on unpublish only", extra={"error": str(err)})
        return None
    return inotify
