"""A key generator that counts what it made, on which thread, and can be held back."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

from certcsi.pki.keypool import KeyPool
from certcsi.pki.keys import KeyType, PrivateKey, generate_private_key


class CountingGenerator:
    """Makes real keys (RSA made as P-256 to keep tests fast: the pool never looks inside a key)."""

    def __init__(self) -> None:
        self.made: list[tuple[str, str]] = []  # (key type, thread name)
        self.release = threading.Event()
        self.release.set()
        self._lock = threading.Lock()

    def __call__(self, kind: KeyType) -> PrivateKey:
        self.release.wait(10)
        with self._lock:
            self.made.append((str(kind), threading.current_thread().name))
        return generate_private_key(KeyType("ECDSA", 256) if kind.algorithm == "RSA" else kind)

    def count(self, kind: str) -> int:
        with self._lock:
            return sum(1 for made, _ in self.made if made == kind)


def wait_until(condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def parked(pool: KeyPool) -> bool:
    """The pool's worker is waiting for work: blocked in the Condition.wait of its loop, making no key.

    The moment after which "no more keys were made" is a fact rather than a guess about timing.
    """
    worker = pool._worker
    frame = sys._current_frames().get(worker.ident) if worker is not None and worker.ident is not None else None
    return frame is not None and frame.f_code.co_name == "wait" and frame.f_back is not None and (
        frame.f_back.f_code.co_name == "_fill"
    )
