"""/proc/self/mountinfo parsing, including octal escapes and optional fields."""

from __future__ import annotations

from pathlib import Path

from certcsi.volumes.mount import parse_mountinfo, read_mountinfo, topmost_mount

SAMPLE = "\n".join(
    [
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
        r"63 22 0:39 / /var/lib/csi\040data/inmemfs rw,nosuid,nodev,noexec shared:7 master:2 - tmpfs tmpfs rw,size=16m",
        r"64 22 0:39 /vol\011a/data /pods/p\134q/mount ro,nosuid,nodev,noexec - tmpfs tmpfs rw,size=16m",
        "65 22 0:39 /vol/data /pods/x/mount ro - tmpfs tmpfs rw",
        "66 22 0:40 / /pods/x/mount rw - tmpfs other rw",
        "garbage line",
        "",
    ]
)


def test_octal_escapes_decoded() -> None:
    entries = parse_mountinfo(SAMPLE)
    assert entries[1].mount_point == "/var/lib/csi data/inmemfs"
    assert entries[2].root == "/vol\ta/data"
    assert entries[2].mount_point == "/pods/p\\q/mount"


def test_fields_after_optional_separator() -> None:
    tmpfs = parse_mountinfo(SAMPLE)[1]
    assert (tmpfs.mount_id, tmpfs.device, tmpfs.fs_type, tmpfs.source) == (63, "0:39", "tmpfs", "tmpfs")
    assert {"nosuid", "nodev", "noexec", "rw"} <= tmpfs.options


def test_malformed_lines_skipped() -> None:
    assert len(parse_mountinfo(SAMPLE)) == 5


def test_topmost_is_last_stacked() -> None:
    entries = parse_mountinfo(SAMPLE)
    top = topmost_mount(entries, "/pods/x/mount")
    assert top is not None and top.mount_id == 66
    assert topmost_mount(entries, "/pods/nothing") is None


def test_reads_this_process_table() -> None:
    assert any(e.mount_point == "/" for e in read_mountinfo())


def test_reading_the_mounts_at_one_point_gives_what_the_whole_table_gives(tmp_path: Path) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(SAMPLE)
    for point in ("/var/lib/csi data/inmemfs", "/pods/p\\q/mount", "/pods/x/mount", "/", "/pods", "/nowhere"):
        expected = [entry for entry in parse_mountinfo(SAMPLE) if entry.mount_point == point]
        assert read_mountinfo(str(table), at=point) == expected, point
