"""The controllers' plumbing: feed one Store watch to a handler, and write a status without races.

Store calls are synchronous, so a read-modify-write through `Store.mutate` is atomic; `write_status`
also refuses to touch an object re-created under the same name since it was read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from certcsi.sandbox.apiserver.errors import ApiError
from certcsi.sandbox.apiserver.resources import ResourceType
from certcsi.sandbox.apiserver.storage import Store, Watch

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
_YIELD_EVERY = 16  # events handled between voluntary yields (a signing takes well under a millisecond)


def key_of(obj: Mapping[str, Any]) -> Key:
    meta = obj["metadata"]
    return str(meta.get("namespace", "")), str(meta["name"])


class _Replaced(Exception):
    """The object was deleted and re-created since it was read."""


async def run_watch(watch: Watch, handle: Callable[[str, Obj], None], *, log: logging.Logger) -> None:
    """Call `handle(type, object)` for every event until the watch is closed; one bad event never ends it."""
    handled = 0
    async for event in watch:
        handled += 1
        if handled % _YIELD_EVERY == 0:
            # Queue.get() does not suspend while events are queued: yield now and then, so that a
            # burst of work here never starves the API server's handlers sharing this loop.
            await asyncio.sleep(0)
        if event.type not in ("ADDED", "MODIFIED", "DELETED"):
            continue
        try:
            handle(event.type, event.object)
        except Exception:
            meta = event.object.get("metadata") or {}
            log.exception(
                "event handler failed",
                extra={"resource": watch.rt.plural, "namespace": meta.get("namespace"), "name": meta.get("name")},
            )


def write_status(
    store: Store, rt: ResourceType, obj: Mapping[str, Any], change: Callable[[Obj], None], *, log: logging.Logger
) -> Obj | None:
    """Apply `change` to the current status of `obj` through the status subresource; None if it is gone."""
    namespace, name = key_of(obj)
    uid = obj["metadata"]["uid"]

    def edit(current: Obj) -> None:
        if current["metadata"]["uid"] != uid:
            raise _Replaced
        status = current.get("status")
        if not isinstance(status, dict):
            status = current["status"] = {}
        change(status)

    try:
        return store.mutate(rt, namespace or None, name, edit, subresource="status")
    except _Replaced:
        return None
    except ApiError as exc:
        if exc.code != 404:
            log.warning(
                "status write refused",
                extra={
                    "resource": rt.plural,
                    "namespace": namespace,
                    "name": name,
                    "reason": exc.reason,
                    "why": exc.message,
                },
            )
        return None
