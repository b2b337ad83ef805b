"""Replace one file in the published set of every volume, outside any publish or renewal.

For content a driver takes from outside the certificate (the SPIFFE driver's CA bundle): each
volume's complete file set is written again through `Store.write_files` (one atomic `..data`
swap), with only that file replaced and every other file (certificate, key) kept as published.

Why no engine lock: the store is synchronous, and so is each volume's read-modify-write here
(no await inside). On the one event loop it therefore runs entirely before or entirely after any
write the manager makes to the same volume (also synchronous, under its per-volume lock), and
an unpublish removes a volume in one step too. Each volume is independent: one that fails is
reported, and the others are still written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from certcsi.volumes.driver import Volume
from certcsi.volumes.store import Metadata, Store, check_file_name

__all__ = ["RewriteReport", "rewrite_file", "volume_of"]

log = logging.getLogger(__name__)

FsGroup = Callable[[Volume], int | None]
Outcome = Literal["rewritten", "unchanged", "skipped"]


@dataclass(frozen=True)
class RewriteReport:
    """What one pass did, by volume id."""

    rewritten: tuple[str, ...] = ()
    # Already held exactly this content.
    unchanged: tuple[str, ...] = ()
    # Nothing published yet (issuance pending; its files will carry the new content) or gone.
    skipped: tuple[str, ...] = ()
    # (volume id, why): left as they were, to be tried again.
    failed: tuple[tuple[str, str], ...] = ()


def volume_of(meta: Metadata) -> Volume:
    """The volume as metadata.json describes it (no secrets): enough for a driver's `fs_group`."""
    group = meta.volume_mount_group
    return Volume(
        volume_id=meta.volume_id,
        target_path=meta.target_path,
        attributes=dict(meta.volume_context),
        mount_group=int(group) if group else None,
    )


def rewrite_file(
    store: Store,
    *,
    name: str,
    content: bytes,
    fs_group: FsGroup,
    volume_ids: Iterable[str] | None = None,
) -> RewriteReport:
    """Make file `name` hold `content` in every published volume (or in `volume_ids`).

    `fs_group` is the driver's (`Driver.fs_group`): the rewritten set must stay readable by the
    same group as before.
    """
    check_file_name(name)
    done: dict[Outcome, list[str]] = {"rewritten": [], "unchanged": [], "skipped": []}
    failed: list[tuple[str, str]] = []
    for volume_id in store.list_volume_ids() if volume_ids is None else volume_ids:
        try:
            outcome = _rewrite_one(store, volume_id, name=name, content=content, fs_group=fs_group)
        except Exception as err:  # one broken volume must not keep the others stale
            why = f"{type(err).__name__}: {err}"
            log.warning("could not rewrite a volume's file", extra={"volume_id": volume_id, "file": name, "error": why})
            failed.append((volume_id, why))
            continue
        done[outcome].append(volume_id)
    return RewriteReport(
        rewritten=tuple(done["rewritten"]),
        unchanged=tuple(done["unchanged"]),
        skipped=tuple(done["skipped"]),
        failed=tuple(failed),
    )


def _rewrite_one(store: Store, volume_id: str, *, name: str, content: bytes, fs_group: FsGroup) -> Outcome:
    # Everything from here to write_files is synchronous: see the module docstring.
    names = store.list_files(volume_id)
    meta = store.read_metadata(volume_id)
    if not names or meta is None:
        return "skipped"
    files: dict[str, bytes] = {}
    for present in names:
        data = store.read_file(volume_id, present)
        if data is None:
            raise FileNotFoundError(f"published file {present!r} vanished while reading")
        files[present] = data
    if files.get(name) == content:
        return "unchanged"
    files[name] = content
    store.write_files(volume_id, files, fs_group=fs_group(volume_of(meta)))
    return "rewritten"
