"""The CA bundle (`--source-ca-bundle`): read once at start, then followed through inotify.

The file's DIRECTORY is watched (close-after-write, moved-in, created, deleted), not the file:
a mounted Secret or ConfigMap is updated by swapping its `..data` symlink, which the file's own
watch would never see. Every wake-up re-reads the file; only content that changed and still
parses as PEM certificates is adopted (a half-written file is not). On a change, `ca.crt` (the
`--file-name-ca` name) is rewritten atomically in every volume that has files; a volume that
fails is logged and the pass is retried after a backoff, the others are written regardless
(upstream stops the whole pass at the first failure).

inotify comes from `asyncinotify` (typed, asyncio-native; the fd is read from the event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from asyncinotify import Event, Inotify, Mask

from certcsi.drivers.spiffe._stopping import until_stopped
from certcsi.kube.watching import Backoff
from certcsi.pki.certs import parse_pem_chain
from certcsi.volumes.clock import Clock
from certcsi.volumes.rewrite import FsGroup, RewriteReport, rewrite_file
from certcsi.volumes.store import Store

__all__ = ["WATCH_MASK", "BundleWatcher", "CaBundle", "read_bundle"]

log = logging.getLogger(__name__)

FLAG = "--source-ca-bundle"
WATCH_MASK = Mask.CLOSE_WRITE | Mask.MOVED_TO | Mask.CREATE | Mask.DELETE | Mask.ONLYDIR
RETRY = Backoff(base=1.0, factor=2.0, cap=60.0, jitter=0.1)


def read_bundle(path: Path) -> bytes:
    """The file's bytes; ValueError naming the flag, the path and the problem."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ValueError(f"{FLAG} {path}: cannot read: {err.strerror or err}") from None
    try:
        parse_pem_chain(data)
    except ValueError as err:
        raise ValueError(f"{FLAG} {path}: must hold PEM certificates: {err}") from None
    return data


class CaBundle:
    """The bundle's bytes as last read successfully; `current` is the driver's `ca_bundle`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._data: bytes | None = None

    def current(self) -> bytes | None:
        return self._data

    def load(self) -> bytes:
        """Read now (at start); ValueError when the file is unreadable or not PEM certificates."""
        self._data = read_bundle(self.path)
        return self._data

    def refresh(self) -> bool:
        """Re-read; True when the content changed. An unreadable or invalid file keeps the previous bundle."""
        try:
            data = read_bundle(self.path)
        except ValueError as err:
            log.warning("CA bundle not usable now; keeping the previous one", extra={"error": str(err)})
            return False
        if data == self._data:
            return False
        self._data = data
        return True


class BundleWatcher:
    """Follows the bundle file and keeps every volume's CA file equal to it."""

    def __init__(
        self,
        *,
        bundle: CaBundle,
        store: Store,
        ca_file: str,
        fs_group: FsGroup,
        clock: Clock,
        retry: Backoff = RETRY,
        on_rewritten: Callable[[Sequence[str]], None] | None = None,
    ) -> None:
        """`on_rewritten` is told which volumes got the new bundle (the Workload API pushes it to their streams)."""
        self._bundle = bundle
        self._store = store
        self._ca_file = ca_file
        self._fs_group = fs_group
        self._clock = clock
        self._retry = retry
        self._on_rewritten = on_rewritten

    def sync(self) -> RewriteReport:
        """Write the current bundle into every volume whose CA file differs (idempotent)."""
        content = self._bundle.current()
        if content is None:
            return RewriteReport()
        report = rewrite_file(self._store, name=self._ca_file, content=content, fs_group=self._fs_group)
        if report.rewritten and self._on_rewritten is not None:
            self._on_rewritten(report.rewritten)
        if report.rewritten or report.failed:
            log.info(
                "CA bundle written to volumes",
                extra={
                    "file": self._ca_file,
                    "rewritten": len(report.rewritten),
                    "failed": len(report.failed),
                    "unchanged": len(report.unchanged),
                },
            )
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until `stop` is set. The first pass also fixes volumes left with an older bundle."""
        await until_stopped(self._follow(), stop)

    async def _follow(self) -> None:
        with Inotify() as inotify:
            rewatch = _Retry(self._retry, self._clock)
            passes = _Retry(self._retry, self._clock)
            watching = self._add_watch(inotify)
            if not watching:
                rewatch.failed()
            self._bundle.refresh()  # a change between the start-up read and the watch is not missed
            passes.due_now()  # volumes may hold an older bundle (a restart): bring them up to date
            while True:
                if passes.is_due():
                    if self.sync().failed:
                        passes.failed()
                    else:
                        passes.succeeded()
                event = await self._next_event(inotify, timeout=_earliest(self._clock.monotonic(), passes, rewatch))
                if event is not None and Mask.IGNORED in event.mask:
                    # The directory itself went away (deleted or unmounted): watch it again once it is back.
                    log.warning("CA bundle directory no longer watched", extra={"directory": str(self._directory)})
                    watching = False
                    rewatch.due_now()
                if not watching and rewatch.is_due():
                    watching = self._add_watch(inotify)
                    if watching:
                        rewatch.succeeded()
                    else:
                        rewatch.failed()
                # Every wake-up re-reads the file, so an event lost to a cancellation costs nothing. A
                # change is written at once; failed volumes otherwise wait for their backoff.
                if self._bundle.refresh():
                    passes.due_now()

    @property
    def _directory(self) -> Path:
        return self._bundle.path.parent

    def _add_watch(self, inotify: Inotify) -> bool:
        try:
            inotify.add_watch(self._directory, WATCH_MASK)
        except OSError as err:
            log.warning(
                "cannot watch the CA bundle directory; retrying",
                extra={"directory": str(self._directory), "error": err.strerror or str(err)},
            )
            return False
        return True

    async def _next_event(self, inotify: Inotify, *, timeout: float | None) -> Event | None:
        """The next inotify event, or None once `timeout` seconds of the clock have passed."""
        get: asyncio.Future[Event] = asyncio.ensure_future(inotify.get())
        waiters: set[asyncio.Future[Any]] = {get}
        if timeout is not None:
            waiters.add(asyncio.ensure_future(self._clock.sleep(timeout)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            for waiter in waiters:
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
        return get.result() if get.done() and not get.cancelled() else None


class _Retry:
    """When something that failed is tried again: `due` on the clock, backing off while it keeps failing."""

    def __init__(self, backoff: Backoff, clock: Clock) -> None:
        self._backoff = backoff
        self._clock = clock
        self._failures = 0
        self.due: float | None = None

    def due_now(self) -> None:
        self.due = self._clock.monotonic()

    def is_due(self) -> bool:
        return self.due is not None and self._clock.monotonic() >= self.due

    def failed(self) -> None:
        self.due = self._clock.monotonic() + self._backoff.delay(self._failures)
        self._failures += 1

    def succeeded(self) -> None:
        self._failures, self.due = 0, None


def _earliest(now: float, *retries: _Retry) -> float | None:
    """Seconds from `now` until the first of `retries` is due; None when none is pending (inotify alone)."""
    dues = [r.due for r in retries if r.due is not None]
    return max(0.0, min(dues) - now) if dues else None
