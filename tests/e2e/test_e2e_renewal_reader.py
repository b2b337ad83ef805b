"""Renewal under a reader: a pod reading key and certificate through one open of `..data` over renewals."""

from __future__ import annotations

import errno
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from e2e_harness import (
    E2E,
    NAMESPACE,
    eventually,
    key_matches_certificate,
    leaf_serial,
    pod_manifest,
    typical_attributes,
)

from certcsi.volumes.store import DATA_LINK

pytestmark = pytest.mark.e2e

RENEWALS = 3


@dataclass
class Reader:
    """Opens `<target>/..data` once per round and reads tls.crt then tls.key relative to it, until stopped.

    `pause` is time spent between the two reads (an application parsing the certificate before it
    loads the key). With `retry_vanished`, a round whose snapshot vanished mid-read is counted in
    `vanished` and retried, as a robust reader would; otherwise it is an error.
    """

    target: Path
    pause: float = 0.0
    retry_vanished: bool = False
    reads: int = 0
    mismatches: int = 0
    vanished: int = 0
    errors: list[str] = field(default_factory=list)
    serials: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def _read_round(self) -> tuple[bytes, bytes]:
        directory = os.open(self.target / DATA_LINK, os.O_RDONLY | os.O_DIRECTORY)
        try:
            contents = []
            for name in ("tls.crt", "tls.key"):
                fd = os.open(name, os.O_RDONLY, dir_fd=directory)
                with os.fdopen(fd, "rb") as f:
                    contents.append(f.read())
                if self.pause and name == "tls.crt":
                    time.sleep(self.pause)
            return contents[0], contents[1]
        finally:
            os.close(directory)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                cert, key = self._read_round()
                matches = key_matches_certificate(key, cert)
                serial = leaf_serial(cert)
            except FileNotFoundError as exc:
                if self.retry_vanished and exc.errno == errno.ENOENT:
                    self.vanished += 1
                else:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            except Exception as exc:  # every other failure counts, whatever its kind
                self.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            self.reads += 1
            self.mismatches += not matches
            if not self.serials or self.serials[-1] != serial:
                self.serials.append(serial)


async def _read_over_renewals(env: E2E, reader_options: dict[str, float | bool]) -> Reader:
    attributes = typical_attributes(**{"duration": "6s", "renew-before": "4s"})
    await env.kubelet.apply(pod_manifest("short-lived", attributes))
    await env.kubelet.wait_ready(NAMESPACE, "short-lived", timeout=30)
    reader = Reader(env.target("short-lived"), **reader_options)  # type: ignore[arg-type]
    thread = threading.Thread(target=reader.run, name="pod reader", daemon=True)
    thread.start()
    try:
        await eventually(
            lambda: len(reader.serials) > RENEWALS,
            timeout=RENEWALS * 2 + 10,
            what=f"{RENEWALS} renewals seen by the reader",
            interval=0.2,
        )
    finally:
        reader.stop.set()
        thread.join(timeout=10)
    assert len(set(reader.serials)) == len(reader.serials) > RENEWALS
    return reader


async def test_reader_loop_never_sees_a_mismatched_pair(env: E2E) -> None:
    reader = await _read_over_renewals(env, {"retry_vanished": True})
    assert reader.mismatches == 0
    assert reader.errors == []
    assert reader.reads > 100, f"only {reader.reads} reads: the loop did not really run"


async def test_reader_loop_never_fails_a_read(env: E2E) -> None:
    # 20 ms between the two reads: nearly every renewal lands inside a round, so the bug shows every run.
    reader = await _read_over_renewals(env, {"pause": 0.02})
    assert reader.mismatches == 0
    assert reader.errors == []
    assert reader.reads > 50, f"only {reader.reads} reads: the loop did not really run"
