"""FakeMounter: the in-memory mount table unit tests use; it must behave like the real contract."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from certcsi.volumes.mount import FakeMount, FakeMounter, TargetRefused


def test_tmpfs_recorded_and_directory_made(tmp_path: Path) -> None:
    m = FakeMounter()
    m.mount_tmpfs(tmp_path / "fs", size="1m", mode=0o700)
    assert m.is_mount_point(tmp_path / "fs")
    assert (tmp_path / "fs").is_dir()
    assert m.mounts[str(tmp_path / "fs")].size == "1m"


def test_bind_idempotent_and_exclusive(tmp_path: Path) -> None:
    m = FakeMounter()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    target = tmp_path / "target"
    m.bind_readonly(tmp_path / "a", target)
    m.bind_readonly(tmp_path / "a", target)
    assert m.is_bind_of(target, tmp_path / "a")
    assert not m.is_bind_of(target, tmp_path / "b")
    with pytest.raises(OSError) as info:
        m.bind_readonly(tmp_path / "b", target)
    assert info.value.errno == errno.EBUSY
    assert info.value.filename == str(target)


def test_bind_needs_a_source_directory(tmp_path: Path) -> None:
    with pytest.raises(OSError) as info:
        FakeMounter().bind_readonly(tmp_path / "missing", tmp_path / "t")
    assert info.value.errno == errno.ENOTDIR


def test_unmount_idempotent_and_removes_target(tmp_path: Path) -> None:
    m = FakeMounter()
    (tmp_path / "a").mkdir()
    m.bind_readonly(tmp_path / "a", tmp_path / "t")
    m.unmount(tmp_path / "t", remove=True)
    m.unmount(tmp_path / "t", remove=True)
    assert not m.is_mount_point(tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_injected_failure_raised_once(tmp_path: Path) -> None:
    m = FakeMounter()
    (tmp_path / "a").mkdir()
    m.fail_next("bind_readonly", OSError(errno.EPERM, "denied", "x"))
    with pytest.raises(OSError, match="denied"):
        m.bind_readonly(tmp_path / "a", tmp_path / "t")
    assert not m.is_mount_point(tmp_path / "t")
    m.bind_readonly(tmp_path / "a", tmp_path / "t")
    assert m.calls == [("bind_readonly", str(tmp_path / "t"))] * 2


def test_unknown_operation_refused() -> None:
    with pytest.raises(ValueError, match="op"):
        FakeMounter().fail_next("mount", OSError())


def test_refuses_the_targets_the_real_one_refuses(tmp_path: Path) -> None:
    m = FakeMounter()
    (tmp_path / "src").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "src")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    m.mount_tmpfs(tmp_path / "mounted")
    expected = {
        "file": errno.ENOTDIR,
        "link": errno.ELOOP,
        "full": errno.ENOTEMPTY,
        "mounted": errno.EBUSY,
        "no-parent/t": errno.ENOENT,
    }
    for name, code in expected.items():
        for attempt in (m.check_target, m.bind_readonly):
            with pytest.raises(OSError) as info:
                attempt(tmp_path / "src", tmp_path / name)
            assert (info.value.errno, info.value.filename) == (code, str(tmp_path / name)), name
    assert [p for p in m.mounts] == [str(tmp_path / "mounted")]


def test_unbind_leaves_what_is_not_its_own(tmp_path: Path) -> None:
    m = FakeMounter()
    (tmp_path / "src").mkdir()
    (tmp_path / "other").mkdir()
    m.bind_readonly(tmp_path / "other", tmp_path / "theirs")
    m.unbind(tmp_path / "src", tmp_path / "theirs")
    assert m.is_bind_of(tmp_path / "theirs", tmp_path / "other")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    m.unbind(tmp_path / "src", tmp_path / "full")
    assert (tmp_path / "full" / "x").exists()
    m.bind_readonly(tmp_path / "src", tmp_path / "ours")
    m.unbind(tmp_path / "src", tmp_path / "ours")
    m.unbind(tmp_path / "src", tmp_path / "ours")
    assert not (tmp_path / "ours").exists() and not m.is_mount_point(tmp_path / "ours")


def test_a_writable_bind_is_not_ours_until_bind_readonly_repairs_it(tmp_path: Path) -> None:
    # As the real one: a writable bind of the source (a crash between bind and remount) is accepted as
    # a target, is not what bind_readonly leaves, and bind_readonly makes it read-only in place.
    m = FakeMounter()
    (tmp_path / "a").mkdir()
    target = tmp_path / "target"
    target.mkdir()
    m.mounts[str(target)] = FakeMount(kind="bind", source=str(tmp_path / "a"), read_only=False)
    assert not m.is_bind_of(target, tmp_path / "a")
    m.check_target(tmp_path / "a", target)
    m.bind_readonly(tmp_path / "a", target)
    assert m.mounts[str(target)].read_only
    assert m.is_bind_of(target, tmp_path / "a")


def test_refusals_are_target_refused_carrying_the_target_and_the_rule(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(TargetRefused) as info:
        FakeMounter().check_target(tmp_path / "src", tmp_path / "file")
    assert info.value.target == str(tmp_path / "file")
    assert info.value.rule == "the target exists and is not a directory"
